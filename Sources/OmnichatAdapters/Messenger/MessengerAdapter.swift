import Foundation
import OmnichatCore

/// Facebook Messenger (Messenger Platform, Send API): a Page's conversations.
/// Webhooks are verified with Meta's GET handshake and signed with the app secret;
/// one request batches many events under `entry[].messaging[]`.
public struct MessengerAdapter: ChannelAdapter {
    public static let kind = "messenger"

    public let channelID: String
    public let configuration: MessengerConfiguration

    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            textLimit: MessengerRenderer.textLimit, maxQuickReplies: MessengerRenderer.maxQuickReplies,
            supportedOutbound: [.text, .image, .audio, .video, .file], receipts: true)
    }

    public init(channelID: String, configuration: MessengerConfiguration) {
        self.channelID = channelID
        self.configuration = configuration
    }

    public init(channelID: String, settings: ChannelSettings) throws {
        self.init(channelID: channelID, configuration: try MessengerConfiguration(settings: settings))
    }

    // MARK: Inbound

    public func handshake(_ request: WebhookRequest) -> HandshakeResponse? {
        MetaWebhook.handshake(request, verifyToken: configuration.verifyToken)
    }

    public func verify(_ request: WebhookRequest) throws(WebhookError) {
        try MetaWebhook.verifySignature(request, appSecret: configuration.appSecret)
    }

    public func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] {
        try parse(request, fastPath: true)
    }

    /// `fastPath: false` decodes every body with `JSONDecoder` (tests compare both ways).
    func parse(_ request: WebhookRequest, fastPath: Bool) throws(WebhookError) -> [InboundEvent] {
        try WebhookLimits.checkDepth(request.body)
        let webhook: MessengerWebhook
        do {
            if fastPath, let json = FastJSON(request.body), let fast = try? MessengerWebhook(fast: json) {
                webhook = fast
            } else {
                webhook = try JSONDecoder().decode(MessengerWebhook.self, from: request.body)
            }
        } catch {
            throw MetaWebhook.malformed(request.body, network: "Messenger", arrays: ["messaging"])
        }
        let raw = RawJSON(request.body)
        let entrySlices = raw.elements(raw.value("entry", in: raw.root))
        var events: [InboundEvent] = []
        for (entryIndex, entry) in webhook.entry.enumerated() {
            guard let messaging = entry.messaging else { continue }
            let slices = entrySlices.flatMap { $0.indices.contains(entryIndex) ? raw.elements(raw.value("messaging", in: $0[entryIndex])) : nil }
            for (index, lenient) in messaging.enumerated() {
                // The event's own bytes; the whole body if they cannot be found.
                let rawEvent = slices.flatMap { $0.indices.contains(index) ? raw.text($0[index]) : nil }
                    ?? String(decoding: request.body, as: UTF8.self)
                guard let event = lenient.value else {
                    events.append(Self.unreadable(raw: rawEvent))
                    continue
                }
                events += Self.events(of: event, entryTime: entry.time, raw: rawEvent)
            }
        }
        return events
    }

    /// Kinds of events that are not messages: recorded, not routed.
    static let systemKinds: Set<String> = [
        "optin", "referral", "account_linking", "policy_enforcement", "pass_thread_control", "take_thread_control",
        "request_thread_control", "app_roles", "game_play", "messaging_feedback",
    ]

    static func events(of event: MessengerEvent, entryTime: Int64?, raw: String) -> [InboundEvent] {
        let sender = event.sender ?? ""
        let timestamp = event.timestamp ?? event.delivery?.watermark ?? event.read?.watermark ?? entryTime
        let occurredAt = MetaWebhook.date(milliseconds: timestamp) ?? Date()
        let stamp = timestamp.map(String.init) ?? "0"

        func make(
            _ id: String, _ content: MessageContent, kind: InboundKind = .message, conversation: String? = nil, networkMessageID: String? = nil
        ) -> InboundEvent {
            let conversation = conversation ?? sender
            return InboundEvent(
                eventID: id, conversationID: conversation, contact: ContactProfile(externalID: conversation), content: content,
                networkMessageID: networkMessageID, occurredAt: occurredAt, raw: raw, kind: kind)
        }

        if let message = event.message {
            let echo = message.isEcho
            let conversation = echo ? (event.recipient ?? "") : sender
            let mid = message.mid ?? "message:\(conversation):\(stamp)"
            // One event per part: the text first, then each attachment ("<mid>#<index>" after the first).
            return contents(of: message).enumerated().map { index, content in
                let id = index == 0 ? mid : "\(mid)#\(index)"
                return make(id, content, kind: echo ? .echo : .message, conversation: conversation, networkMessageID: id)
            }
        }
        if let postback = event.postback {
            return [
                make(
                    postback.mid ?? "postback:\(sender):\(stamp)",
                    MessageContent(type: .postback, text: postback.title, payload: postback.payload ?? postback.title),
                    networkMessageID: postback.mid)
            ]
        }
        if let delivery = event.delivery {
            let watermark = delivery.watermark ?? timestamp ?? 0
            let receipt = Receipt(
                status: .delivered, networkMessageIDs: delivery.mids ?? [], watermark: MetaWebhook.date(milliseconds: watermark))
            return [make("delivery:\(sender):\(watermark)", MessageContent(type: .unsupported), kind: .receipt(receipt))]
        }
        if let read = event.read {
            let watermark = read.watermark ?? timestamp ?? 0
            let receipt = Receipt(status: .read, watermark: MetaWebhook.date(milliseconds: watermark))
            return [make("read:\(sender):\(watermark)", MessageContent(type: .unsupported), kind: .receipt(receipt))]
        }
        if let reaction = event.reaction {
            let action = reaction.action ?? "react"
            return [
                make(
                    "reaction:\(sender):\(reaction.mid ?? ""):\(action):\(stamp)",
                    MessageContent(type: .unsupported, text: reaction.emoji ?? reaction.reaction),
                    kind: .system("reaction"), networkMessageID: reaction.mid)
            ]
        }
        if let edit = event.messageEdit, let mid = edit.mid {
            return [
                make(
                    "edit:\(mid):\(edit.numEdit ?? 0)", MessageContent(type: .text, text: edit.text ?? "", edited: true),
                    networkMessageID: mid)
            ]
        }
        // Anything else is kept, never refused: known non-message kinds are recorded,
        // unknown ones reach an agent as unsupported.
        let name = event.otherKeys.first ?? "event"
        if systemKinds.contains(name) {
            return [make("\(name):\(sender):\(stamp)", MessageContent(type: .unsupported), kind: .system(name))]
        }
        return [make("\(name):\(sender):\(stamp)", MessageContent(type: .unsupported))]
    }

    /// An event whose shape we could not read at all: kept under a stable id.
    static func unreadable(raw: String) -> InboundEvent {
        let sender = (JSON.object(Data(raw.utf8))?["sender"] as? [String: Any]).flatMap { JSON.string($0["id"]) } ?? ""
        return InboundEvent(
            eventID: "unreadable:\(HMACSHA256.uuid(seed: raw))", conversationID: sender, contact: ContactProfile(externalID: sender),
            content: MessageContent(type: .unsupported), occurredAt: Date(), raw: raw)
    }

    /// A message's parts: its text (or quick-reply answer), then each attachment.
    static func contents(of message: MessengerMessage) -> [MessageContent] {
        var parts: [MessageContent] = []
        if let text = message.text {
            if let payload = message.quickReplyPayload {
                parts.append(MessageContent(type: .postback, text: text, payload: payload))
            } else {
                parts.append(.text(text))
            }
        }
        parts += message.attachments.map(content(of:))
        return parts.isEmpty ? [MessageContent(type: .unsupported)] : parts
    }

    static func content(of attachment: MessengerAttachment) -> MessageContent {
        let url = attachment.payload?.url ?? attachment.url
        let title = attachment.title ?? attachment.payload?.title
        switch attachment.type {
        case "image":
            if let sticker = attachment.payload?.stickerID {
                return MessageContent(type: .sticker, url: url, mediaID: sticker)
            }
            return MessageContent(type: .image, url: url)
        case "audio": return MessageContent(type: .audio, url: url)
        case "video": return MessageContent(type: .video, url: url)
        case "file": return MessageContent(type: .file, url: url)
        case "location":
            if let latitude = attachment.payload?.latitude, let longitude = attachment.payload?.longitude {
                return MessageContent(type: .location, location: GeoLocation(latitude: latitude, longitude: longitude, title: title))
            }
            return MessageContent(type: .unsupported, text: title, url: url)
        default:
            // `fallback` (a shared link), `template`, reels and whatever comes next.
            return MessageContent(type: .unsupported, text: title, url: url)
        }
    }

    // MARK: Outbound

    public func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        try MessengerRenderer(configuration: configuration).render(message)
    }

    public func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        MetaGraphAPI.classify(response, secrets: [configuration.pageAccessToken, configuration.appSecret])
    }

    /// Messenger gives attachment URLs (signed CDN links): one GET, no credentials.
    /// `GET /{PSID}?fields=profile_pic`: the user profile API gives a public
    /// CDN address (it expires after some days; the daemon fetches it anew then).
    public func avatar(externalID: String) -> AvatarLookup? {
        guard !externalID.isEmpty else { return nil }
        let url = "\(configuration.apiBase)/\(MetaGraphAPI.escaped(externalID))?fields=profile_pic&access_token=\(MetaGraphAPI.escaped(configuration.pageAccessToken))"
        return AvatarLookup(request: HTTPRequestDescription(method: "GET", url: url)) { response in
            guard response.status == 200, let object = JSON.object(response.body), let url = object["profile_pic"] as? String, !url.isEmpty
            else { return .none }
            return .url(url)
        }
    }

    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? {
        guard let url = content.url, url.hasPrefix("https://") || url.hasPrefix("http://") else { return nil }
        return MediaFetch(request: HTTPRequestDescription(method: "GET", url: url))
    }
}
