import Foundation
import OmnichatCore

/// A channel for integrators (contract v1, `docs/custom-channel.md`): they
/// POST signed JSON events to `/webhooks/<channel>` and receive agents'
/// replies, signed the same way, at their `webhook_url`.
public struct CustomAdapter: ChannelAdapter {
    public static let kind = "custom"
    static let version = "1"
    static let textLimit = 65_536
    static let maxQuickReplies = 100
    static let reasonLimit = 300

    public let channelID: String
    public let configuration: CustomConfiguration

    /// Every type goes out as itself: the integrator renders it.
    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            textLimit: Self.textLimit, maxQuickReplies: Self.maxQuickReplies, supportedOutbound: Set(MessageType.allCases))
    }

    public init(channelID: String, configuration: CustomConfiguration) {
        self.channelID = channelID
        self.configuration = configuration
    }

    public init(channelID: String, settings: ChannelSettings) throws {
        self.init(channelID: channelID, configuration: try CustomConfiguration(settings: settings))
    }

    // MARK: Inbound

    public func verify(_ request: WebhookRequest) throws(WebhookError) {
        guard let timestamp = request.header(OmnichatWebhookSignature.timestampHeader)?.trimmingHTTPWhitespace() else {
            throw WebhookError(.unauthorized, "missing \(OmnichatWebhookSignature.timestampHeader) header")
        }
        guard let given = request.header(OmnichatWebhookSignature.signatureHeader)?.trimmingHTTPWhitespace() else {
            throw WebhookError(.unauthorized, "missing \(OmnichatWebhookSignature.signatureHeader) header")
        }
        guard (1...12).contains(timestamp.utf8.count), timestamp.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let seconds = Int64(timestamp)
        else {
            throw WebhookError(.unauthorized, "\(OmnichatWebhookSignature.timestampHeader) must be a Unix time in whole seconds")
        }
        let now = Int64(request.receivedAt.timeIntervalSince1970.rounded(.down))
        let distance = (now - seconds).magnitude
        guard distance <= UInt64(configuration.maxClockSkewSeconds) else {
            throw WebhookError(.unauthorized, "timestamp is \(distance) s away from now (at most \(configuration.maxClockSkewSeconds) s allowed)")
        }
        guard given.lowercased().hasPrefix(OmnichatWebhookSignature.prefix) else {
            throw WebhookError(.unauthorized, "\(OmnichatWebhookSignature.signatureHeader) must be '\(OmnichatWebhookSignature.prefix)' followed by the hex digest")
        }
        let expected = OmnichatWebhookSignature.signature(secret: configuration.secret, timestamp: timestamp, body: request.body)
        guard ConstantTime.equals(given.lowercased(), expected) else {
            throw WebhookError(.unauthorized, "wrong \(OmnichatWebhookSignature.signatureHeader) header")
        }
    }

    public func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] {
        try parse(request, fastPath: true)
    }

    /// `fastPath: false` decodes every body with `JSONDecoder` (tests compare both ways).
    func parse(_ request: WebhookRequest, fastPath: Bool) throws(WebhookError) -> [InboundEvent] {
        try WebhookLimits.checkDepth(request.body)
        let envelope: CustomEnvelope
        do {
            if fastPath, let json = FastJSON(request.body), let fast = try? CustomEnvelope(fast: json) {
                envelope = fast
            } else {
                envelope = try JSONDecoder().decode(CustomEnvelope.self, from: request.body)
            }
        } catch {
            throw WebhookError(.malformed, CustomPayload.describe(error))
        }
        let body = String(decoding: request.body, as: UTF8.self)
        guard let batch = envelope.events else {
            guard let single = envelope.single else { throw WebhookError(.malformed, "body is not a JSON object") }
            return [event(try CustomPayload.validate(single, path: ""), raw: body, receivedAt: request.receivedAt)]
        }
        guard batch.count <= CustomPayload.maxBatch else {
            throw WebhookError(.malformed, "field 'events' holds \(batch.count) events; at most \(CustomPayload.maxBatch) are allowed per request")
        }
        let json = RawJSON(request.body)
        let raws = json.elements(json.value("events", in: json.root))
        var events: [InboundEvent] = []
        for (index, item) in batch.enumerated() {
            let valid = try CustomPayload.validate(item, path: "events[\(index)].")
            let raw = raws.flatMap { $0.count == batch.count ? json.text($0[index]) : nil } ?? body
            events.append(event(valid, raw: raw, receivedAt: request.receivedAt))
        }
        return events
    }

    private func event(_ e: CustomPayload.Event, raw: String, receivedAt: Date) -> InboundEvent {
        InboundEvent(
            eventID: e.eventID, conversationID: e.userID,
            contact: ContactProfile(
                externalID: e.userID, displayName: e.userName, avatarURL: e.avatarURL, email: e.email, extras: Self.extras(raw)),
            content: e.content, networkMessageID: e.eventID, occurredAt: receivedAt, raw: raw)
    }

    /// The event's `extras` object, byte for byte as the integrator sent it; nil
    /// when absent or not an object.
    static func extras(_ event: String) -> String? {
        guard event.utf8.count < 1 << 20 else { return nil }
        let json = RawJSON(Data(event.utf8))
        guard let range = json.value("extras", in: json.root) else { return nil }
        let text = json.text(range)
        return text.hasPrefix("{") ? text : nil
    }

    // MARK: Outbound

    /// One POST per part (text over 65,536 UTF-16 units is split, the first
    /// part keeping the media, the others `text`), each signed at render time.
    public func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        let content = message.content
        let (text, buttons) = Degrade.buttons(content.text ?? "", content.quickReplies, limit: Self.maxQuickReplies)
        let parts: [String?] = text.isEmpty ? [nil] : TextSplitter.split(text, limit: Self.textLimit)
        let sentAt = message.now.formatted(.iso8601)
        var sender: [String: Any] = ["type": "agent"]
        if let name = message.senderName { sender["name"] = name }

        return parts.enumerated().map { index, part in
            var body: [String: Any] = [:]
            if index == 0 {
                body = Self.messageObject(content)
            } else {
                body["type"] = MessageType.text.rawValue
            }
            if let part { body["text"] = part }
            body["quick_replies"] =
                index == parts.count - 1 ? buttons.map { ["title": $0.title, "payload": $0.payload] } : [[String: String]]()
            let object: [String: Any] = [
                "version": Self.version,
                "event_id": HMACSHA256.uuid(seed: "\(message.messageID)#\(index)"),
                "channel": channelID,
                "user": ["id": message.conversationID],
                "message": body,
                "sender": sender,
                "sent_at": sentAt,
            ]
            let data = JSON.encode(object)
            return HTTPRequestDescription(
                method: "POST", url: configuration.webhookURL,
                headers: [("Content-Type", "application/json")]
                    + OmnichatWebhookSignature.headers(secret: configuration.secret, body: data, now: message.now),
                body: data)
        }
    }

    /// The message's fields, absent ones left out (text and quick replies are set by the caller).
    static func messageObject(_ content: MessageContent) -> [String: Any] {
        var out: [String: Any] = ["type": content.type.rawValue]
        if let v = content.url { out["url"] = v }
        if let v = content.mediaID { out["media_id"] = v }
        if let v = content.fileName { out["file_name"] = v }
        if let v = content.mimeType { out["mime_type"] = v }
        if let v = content.payload { out["payload"] = v }
        if let l = content.location {
            var location: [String: Any] = ["latitude": l.latitude, "longitude": l.longitude]
            if let title = l.title { location["title"] = title }
            if let address = l.address { location["address"] = address }
            out["location"] = location
        }
        if let c = content.contact {
            var contact: [String: Any] = ["phone_number": c.phoneNumber]
            if let name = c.name { contact["name"] = name }
            out["contact"] = contact
        }
        return out
    }

    public func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        switch response.status {
        case 200..<300:
            let id = JSON.object(response.body).flatMap { JSON.string($0["id"]) }
            return .delivered(networkMessageID: id.flatMap { $0.isEmpty ? nil : $0 })
        case 429:
            return .retry(after: Self.retryAfter(response), reason: "rate limited: \(Self.reason(response))")
        case 500...:
            return .retry(after: Self.retryAfter(response), reason: "server error: \(Self.reason(response))")
        default:
            return .permanent(reason: Self.reason(response))
        }
    }

    static func retryAfter(_ response: HTTPResponseDescription) -> Duration? {
        response.header("Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { .seconds(max(0, $0)) }
    }

    /// "HTTP 422: <the body's error message>", at most 300 characters.
    static func reason(_ response: HTTPResponseDescription) -> String {
        var message: String?
        if let object = JSON.object(response.body) {
            if let error = object["error"] as? [String: Any] {
                message = JSON.string(error["message"]) ?? JSON.string(error["code"])
            } else {
                message = JSON.string(object["error"]) ?? JSON.string(object["message"])
            }
        } else {
            let text = String(decoding: response.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? nil : text
        }
        let reason = message.map { "HTTP \(response.status): \($0)" } ?? "HTTP \(response.status)"
        return Degrade.truncate(reason, reasonLimit)
    }

    /// An attachment's URL as the integrator gave it.
    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? {
        content.url.map { remoteFetch(url: $0) }
    }

    /// The integrator's (or its customer's) URL: public addresses only, and only
    /// the hosts `attachment_hosts` names when it is set.
    public func remoteFetch(url: String) -> MediaFetch {
        var fetch = MediaFetch.remote(url)
        if !configuration.allowsAttachment(at: url) {
            fetch.refusal = "its host is not in the channel's attachment_hosts"
        }
        return fetch
    }
}
