import Foundation
import OmnichatCore

/// WhatsApp Business Platform, Cloud API: one business phone number.
/// Webhooks are verified with Meta's GET handshake and signed with the app secret;
/// one request batches messages and statuses under `entry[].changes[].value`.
public struct WhatsAppAdapter: ChannelAdapter {
    public static let kind = "whatsapp"

    public let channelID: String
    public let configuration: WhatsAppConfiguration

    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            textLimit: WhatsAppRenderer.textLimit, maxQuickReplies: WhatsAppRenderer.maxListRows,
            supportedOutbound: [.text, .image, .audio, .video, .file, .location, .contact], receipts: true)
    }

    public init(channelID: String, configuration: WhatsAppConfiguration) {
        self.channelID = channelID
        self.configuration = configuration
    }

    public init(channelID: String, settings: ChannelSettings) throws {
        self.init(channelID: channelID, configuration: try WhatsAppConfiguration(settings: settings))
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
        let webhook: WhatsAppWebhook
        do {
            if fastPath, let json = FastJSON(request.body), let fast = try? WhatsAppWebhook(fast: json) {
                webhook = fast
            } else {
                webhook = try JSONDecoder().decode(WhatsAppWebhook.self, from: request.body)
            }
        } catch {
            throw MetaWebhook.malformed(request.body, network: "WhatsApp", arrays: ["changes"])
        }
        let raw = RawJSON(request.body)
        let body = String(decoding: request.body, as: UTF8.self)
        let entrySlices = raw.elements(raw.value("entry", in: raw.root))
        var events: [InboundEvent] = []
        for (entryIndex, entry) in webhook.entry.enumerated() {
            let changeSlices = entrySlices.flatMap { $0.indices.contains(entryIndex) ? raw.elements(raw.value("changes", in: $0[entryIndex])) : nil }
            for (changeIndex, lenient) in (entry.changes ?? []).enumerated() {
                let changeSlice = changeSlices.flatMap { $0.indices.contains(changeIndex) ? $0[changeIndex] : nil }
                let valueSlice = raw.value("value", in: changeSlice)
                let messageSlices = raw.elements(raw.value("messages", in: valueSlice))
                let statusSlices = raw.elements(raw.value("statuses", in: valueSlice))
                // The exact bytes of one message or status, or the whole body.
                func rawText(_ slices: [Range<Int>]?, _ index: Int) -> String {
                    slices.flatMap { $0.indices.contains(index) ? raw.text($0[index]) : nil } ?? body
                }
                guard let change = lenient.value, let value = change.value, !(value.messages.isEmpty && value.statuses.isEmpty) else {
                    // Not a message or a status (template or account updates…): recorded, not routed.
                    let rawChange = changeSlice.map(raw.text) ?? body
                    let field = lenient.value?.field ?? "change"
                    events.append(
                        InboundEvent(
                            eventID: "\(field):\(HMACSHA256.uuid(seed: rawChange))", conversationID: "", contact: ContactProfile(externalID: ""),
                            content: MessageContent(type: .unsupported), occurredAt: Date(), raw: rawChange, kind: .system(field)))
                    continue
                }
                for (index, message) in value.messages.enumerated() {
                    events.append(Self.event(message.value, in: value, raw: rawText(messageSlices, index)))
                }
                for (index, status) in value.statuses.enumerated() {
                    events.append(Self.event(status.value, in: value, raw: rawText(statusSlices, index)))
                }
            }
        }
        return events
    }

    /// One customer message (or a reaction, or a system notice).
    static func event(_ message: WhatsAppMessage?, in value: WhatsAppValue, raw: String) -> InboundEvent {
        guard let message else {
            return InboundEvent(
                eventID: "unreadable:\(HMACSHA256.uuid(seed: raw))", conversationID: "", contact: ContactProfile(externalID: ""),
                content: MessageContent(type: .unsupported), occurredAt: Date(), raw: raw)
        }
        // Users with a username may come without a phone number: their business-scoped id then.
        let from = message.from ?? (value.contacts.count == 1 ? value.contacts[0].waID ?? value.contacts[0].userID : nil) ?? ""
        let profile = value.contact(from)
        let (content, kind) = Self.content(of: message)
        return InboundEvent(
            eventID: message.id.flatMap { $0.isEmpty ? nil : $0 } ?? "message:\(from):\(HMACSHA256.uuid(seed: raw))",
            conversationID: from,
            contact: ContactProfile(externalID: from, displayName: profile?.name, username: profile?.username),
            content: content,
            networkMessageID: kind == .system("reaction") ? message.reaction?.messageID : message.id,
            occurredAt: MetaWebhook.date(seconds: message.timestamp) ?? Date(),
            raw: raw,
            kind: kind)
    }

    /// A status of one of our messages: delivered, read and failed are receipts;
    /// `sent` (and anything newer) is recorded and changes nothing.
    static func event(_ status: WhatsAppStatus?, in value: WhatsAppValue, raw: String) -> InboundEvent {
        guard let status, let id = status.id else {
            return InboundEvent(
                eventID: "unreadable:\(HMACSHA256.uuid(seed: raw))", conversationID: "", contact: ContactProfile(externalID: ""),
                content: MessageContent(type: .unsupported), occurredAt: Date(), raw: raw)
        }
        let name = status.status ?? "unknown"
        let kind: InboundKind =
            switch name {
            case "delivered": .receipt(Receipt(status: .delivered, networkMessageIDs: [id]))
            case "read": .receipt(Receipt(status: .read, networkMessageIDs: [id]))
            case "failed":
                .receipt(Receipt(status: .failed, networkMessageIDs: [id], error: status.errors.first?.summary ?? "the message could not be delivered"))
            default: .system("status_\(name)")
            }
        let recipient = status.recipientID ?? ""
        let profile = value.contact(recipient)
        return InboundEvent(
            eventID: "status:\(id):\(name)", conversationID: recipient,
            contact: ContactProfile(externalID: recipient, displayName: profile?.name, username: profile?.username),
            content: MessageContent(type: .unsupported), networkMessageID: id,
            occurredAt: MetaWebhook.date(seconds: status.timestamp) ?? Date(), raw: raw, kind: kind)
    }

    static func content(of m: WhatsAppMessage) -> (MessageContent, InboundKind) {
        switch m.type {
        case "text":
            if let body = m.text { return (.text(body), .message) }
        case "image", "video", "audio", "document", "sticker":
            if let media = m.media {
                let type: MessageType =
                    switch m.type {
                    case "image": .image
                    case "video": .video
                    case "audio": .audio
                    case "sticker": .sticker
                    default: .file
                    }
                return (
                    MessageContent(type: type, text: media.caption, mediaID: media.id, fileName: media.filename, mimeType: media.mimeType),
                    .message
                )
            }
        case "location":
            if let l = m.location, let latitude = l.latitude, let longitude = l.longitude {
                let location = GeoLocation(latitude: latitude, longitude: longitude, title: l.name, address: l.address)
                return (MessageContent(type: .location, location: location), .message)
            }
        case "contacts":
            if let card = m.contacts?.first {
                if let phone = card.phones.first.flatMap({ $0.phone ?? $0.waID }) {
                    return (MessageContent(type: .contact, contact: ContactCard(phoneNumber: phone, name: card.name)), .message)
                }
                return (MessageContent(type: .unsupported, text: card.name), .message)
            }
        case "interactive":
            if let reply = m.interactive?.reply {
                return (MessageContent(type: .postback, text: reply.title, payload: reply.id ?? reply.title), .message)
            }
            if let flow = m.interactive?.flowBody { return (MessageContent(type: .unsupported, text: flow), .message) }
        case "button":
            if let button = m.button {
                return (MessageContent(type: .postback, text: button.text, payload: button.payload ?? button.text), .message)
            }
        case "reaction":
            // An empty emoji removes the reaction. Recorded with its raw payload, not routed.
            return (MessageContent(type: .unsupported, text: m.reaction?.emoji), .system("reaction"))
        case "system":
            return (MessageContent(type: .unsupported, text: m.system?.body), .system(m.system?.type ?? "system"))
        case "request_welcome":
            return (MessageContent(type: .unsupported), .system("request_welcome"))
        default:
            break
        }
        // `unsupported`, `unknown`, `order` and whatever comes next reach an agent as unsupported.
        return (MessageContent(type: .unsupported), .message)
    }

    // MARK: Outbound

    public func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        try WhatsAppRenderer(configuration: configuration).render(message)
    }

    public func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        MetaGraphAPI.classify(response, secrets: [configuration.accessToken, configuration.appSecret])
    }

    /// Media comes as an id: `GET {api_base}/{media id}` answers a short-lived URL,
    /// which is fetched with the same bearer token.
    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? {
        guard let mediaID = content.mediaID, !mediaID.isEmpty else { return nil }
        let authorization = configuration.authorization
        let lookup = HTTPRequestDescription(
            method: "GET", url: "\(configuration.apiBase)/\(MetaGraphAPI.escaped(mediaID))", headers: [authorization])
        return MediaFetch(request: lookup) { response in
            guard (200..<300).contains(response.status), let url = JSON.object(response.body)?["url"] as? String,
                url.hasPrefix("https://") || url.hasPrefix("http://")
            else { return nil }
            return HTTPRequestDescription(method: "GET", url: url, headers: [authorization])
        }
    }
}
