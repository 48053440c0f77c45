import Foundation
import OmnichatCore

/// LINE Messaging API: signed webhooks carrying `events[]`, replies by
/// single-use reply token while it is fresh, otherwise by push.
public struct LINEAdapter: ChannelAdapter {
    public static let kind = "line"
    static let signatureHeader = "X-Line-Signature"
    static let acceptedRequestHeader = "X-Line-Accepted-Request-Id"
    /// Conversation events that are recorded but not routed to an agent.
    static let systemEvents: Set<String> = ["follow", "unfollow", "join", "leave", "unsend", "memberJoined", "memberLeft"]
    /// Message types whose content LINE keeps (or points to) for fetching.
    static let mediaTypes: Set<MessageType> = [.image, .video, .audio, .file]

    public let channelID: String
    public let configuration: LINEConfiguration

    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            textLimit: LINERenderer.textLimit, maxQuickReplies: LINERenderer.maxQuickReplies,
            supportedOutbound: LINERenderer.nativeTypes, consumesReplyContext: true)
    }

    public init(channelID: String, configuration: LINEConfiguration) {
        self.channelID = channelID
        self.configuration = configuration
    }

    public init(channelID: String, settings: ChannelSettings) throws {
        self.init(channelID: channelID, configuration: try LINEConfiguration(settings: settings))
    }

    // MARK: Inbound

    /// `X-Line-Signature` is base64(HMAC-SHA256(channel secret, raw body)).
    public func verify(_ request: WebhookRequest) throws(WebhookError) {
        guard let given = request.header(Self.signatureHeader) else {
            throw WebhookError(.unauthorized, "missing \(Self.signatureHeader) header")
        }
        let expected = Signature.base64(configuration.channelSecret, request.body)
        guard ConstantTime.equals(given.trimmingHTTPWhitespace(), expected) else {
            throw WebhookError(.unauthorized, "wrong \(Self.signatureHeader) header")
        }
    }

    public func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] {
        try parse(request, fastPath: true)
    }

    /// `fastPath: false` decodes every body with `JSONDecoder` (tests compare both ways).
    func parse(_ request: WebhookRequest, fastPath: Bool) throws(WebhookError) -> [InboundEvent] {
        try WebhookLimits.checkDepth(request.body)
        let webhook: LINEWebhook
        do {
            if fastPath, let json = FastJSON(request.body), let fast = try? LINEWebhook(fast: json) {
                webhook = fast
            } else {
                webhook = try JSONDecoder().decode(LINEWebhook.self, from: request.body)
            }
        } catch {
            throw Self.malformed(request.body)
        }
        if webhook.events.isEmpty { return [] }  // the console's "Verify" request
        let json = RawJSON(request.body)
        let raws = json.elements(json.value("events", in: json.root))
        let body = String(decoding: request.body, as: UTF8.self)
        return webhook.events.enumerated().map { index, event in
            let raw = raws.flatMap { $0.count == webhook.events.count ? json.text($0[index]) : nil } ?? body
            return self.event(event, raw: raw, receivedAt: request.receivedAt)
        }
    }

    /// Why a body that failed to decode is not a LINE webhook (only the failure path looks twice).
    static func malformed(_ body: Data) -> WebhookError {
        guard let object = JSON.object(body) else { return WebhookError(.malformed, "body is not a JSON object") }
        guard let events = object["events"] else { return WebhookError(.malformed, "missing field 'events'") }
        guard let list = events as? [Any] else { return WebhookError(.malformed, "field 'events' must be an array") }
        if let index = list.firstIndex(where: { !($0 is [String: Any]) }) {
            return WebhookError(.malformed, "events[\(index)] is not an object")
        }
        return WebhookError(.malformed, "not a LINE webhook body")
    }

    private func event(_ e: LINEEvent, raw: String, receivedAt: Date) -> InboundEvent {
        let type = e.type ?? "unknown"
        let conversation = e.source?.conversationID ?? ""
        let contact = ContactProfile(externalID: e.source?.userID ?? conversation)
        let occurredAt = e.timestamp.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) } ?? receivedAt
        // Redeliveries carry the same webhookEventId. Payloads from before
        // LINE added it have none: a digest of the raw event stands in.
        let eventID = e.webhookEventID.flatMap { $0.isEmpty ? nil : $0 } ?? "raw-" + HMACSHA256.uuid(seed: raw)
        var replyContext: [String: String]?
        if let token = e.replyToken, !token.isEmpty {
            let at = e.timestamp ?? Int64((receivedAt.timeIntervalSince1970 * 1000).rounded())
            replyContext = ["reply_token": token, "reply_token_at": String(at)]
        }

        var kind = InboundKind.message
        var content = MessageContent(type: .unsupported)
        var networkMessageID: String?
        switch type {
        case "message":
            let message = e.message
            content = message.map(Self.content(of:)) ?? MessageContent(type: .unsupported)
            networkMessageID = message?.id
        case "postback":
            let data = e.postback?.data
            content = MessageContent(type: .postback, text: data, payload: data)
        case _ where Self.systemEvents.contains(type):
            kind = .system(type)
            networkMessageID = e.unsend?.messageID
        default:
            // A type we do not model: kept for an agent when it belongs to a
            // conversation, else only recorded.
            if conversation.isEmpty { kind = .system(type) }
        }
        return InboundEvent(
            eventID: eventID, conversationID: conversation, contact: contact, content: content,
            networkMessageID: networkMessageID, occurredAt: occurredAt, raw: raw, kind: kind, replyContext: replyContext)
    }

    static func content(of m: LINEMessage) -> MessageContent {
        switch m.type {
        case "text":
            return .text(m.text ?? "")
        case "image", "video", "audio":
            let type: MessageType = m.type == "image" ? .image : m.type == "video" ? .video : .audio
            if m.contentProvider?.type == "external", let url = m.contentProvider?.originalContentURL {
                return MessageContent(type: type, url: url)
            }
            return MessageContent(type: type, mediaID: m.id)
        case "file":
            return MessageContent(type: .file, mediaID: m.id, fileName: m.fileName)
        case "location":
            guard let latitude = m.latitude, let longitude = m.longitude else { return MessageContent(type: .unsupported) }
            return MessageContent(
                type: .location,
                location: GeoLocation(latitude: latitude, longitude: longitude, title: m.title, address: m.address))
        case "sticker":
            let text = m.text ?? m.keywords.flatMap { $0.isEmpty ? nil : $0.joined(separator: ", ") }
            let sticker = m.packageID.flatMap { p in m.stickerID.map { LINERenderer.stickerReference(package: p, sticker: $0) } }
            return MessageContent(type: .sticker, text: text, mediaID: sticker)
        default:
            return MessageContent(type: .unsupported, text: m.text)
        }
    }

    // MARK: Outbound

    public func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        LINERenderer(configuration: configuration).render(message)
    }

    public func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        let body = try? JSONDecoder().decode(LINEResponse.self, from: response.body)
        let reason = body?.reason ?? "HTTP \(response.status)"
        switch response.status {
        case 200..<300:
            return .delivered(networkMessageID: body?.sentMessages?.first?.id)
        case 409 where response.header(Self.acceptedRequestHeader) != nil:
            // The same X-Line-Retry-Key was accepted before: the push went out.
            return .delivered(networkMessageID: nil)
        case 429:
            let after = response.header("Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            return .retry(after: after.map { .seconds(max(0, $0)) }, reason: "rate limited: \(reason)")
        case 500...:
            return .retry(after: nil, reason: "server error: \(reason)")
        case 400 where (body?.message ?? "").localizedCaseInsensitiveContains("reply token"):
            // The worker hands the reply context to the first attempt only: the retry pushes.
            return .retry(after: .zero, reason: "reply token expired; will push")
        default:
            return .permanent(reason: reason)
        }
    }

    /// Content on LINE's servers is fetched from the data API by message id
    /// with the channel's token; external content from its own URL, without it.
    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? {
        guard Self.mediaTypes.contains(content.type) else { return nil }
        if let mediaID = content.mediaID, case let id = networkMessageID ?? mediaID, !id.isEmpty {
            let escaped = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? id
            return MediaFetch(
                request: HTTPRequestDescription(
                    method: "GET", url: "\(configuration.dataAPIBase)/v2/bot/message/\(escaped)/content",
                    headers: [configuration.authorization]))
        }
        if let url = content.url {
            return MediaFetch(request: HTTPRequestDescription(method: "GET", url: url))
        }
        return nil
    }

    /// `GET /v2/bot/profile/{userId}`: `pictureUrl` is a public CDN address
    /// (absent when the user has no picture; 404 when they blocked the bot).
    public func avatar(externalID: String) -> AvatarLookup? {
        guard !externalID.isEmpty else { return nil }
        let escaped = externalID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? externalID
        return AvatarLookup(
            request: HTTPRequestDescription(method: "GET", url: "\(configuration.apiBase)/v2/bot/profile/\(escaped)", headers: [configuration.authorization])
        ) { response in
            guard response.status == 200, let object = JSON.object(response.body), let url = object["pictureUrl"] as? String, !url.isEmpty
            else { return .none }
            return .url(url)
        }
    }

    /// `PUT /v2/bot/channel/webhook/endpoint`: points the channel's webhook at `url`.
    public func webhookRegistration(url: String) -> HTTPRequestDescription? {
        var request = HTTPRequestDescription.json(
            url: "\(configuration.apiBase)/v2/bot/channel/webhook/endpoint", object: ["endpoint": url],
            headers: [configuration.authorization])
        request.method = "PUT"
        return request
    }
}
