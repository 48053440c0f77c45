import Crypto
import Foundation
import OmnichatAdapters
import OmnichatCore

/// Signs a webhook the way the custom channel does (`OmnichatWebhookSignature`:
/// `X-Omnichat-Timestamp` and `X-Omnichat-Signature: sha256=<hex HMAC-SHA256(secret, "<ts>.<body>")>`).
enum IntegrationSigner {
    /// The signature headers, or none when there is no secret.
    static func headers(secret: String?, body: Data, now: Date) -> [(name: String, value: String)] {
        guard let secret, !secret.isEmpty else { return [] }
        return OmnichatWebhookSignature.headers(secret: secret, body: body, now: now)
    }

    /// Same message, same id on every retry.
    static func eventID(_ seed: String) -> String {
        let digest = SHA256.hash(data: Data(seed.utf8))
        return "evt_" + Hex.encode(digest.prefix(16))
    }

    static func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        switch response.status {
        case 200..<300: return .delivered(networkMessageID: nil)
        case 429, 500...:
            let after = response.header("Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
            return .retry(after: after, reason: "the webhook answered HTTP \(response.status)")
        default:
            // The status only: the body is the receiver's (an error page may echo
            // tokens or internal details) and the reason is shown in the API.
            return .permanent(reason: "the webhook answered HTTP \(response.status)")
        }
    }

    static func content(_ c: MessageContent) -> [String: Any] {
        var message: [String: Any] = ["type": c.type.rawValue]
        if let v = c.text { message["text"] = v }
        if let v = c.url { message["url"] = v }
        if let v = c.payload { message["payload"] = v }
        if let v = c.fileName { message["file_name"] = v }
        if let v = c.mediaID { message["media_id"] = v }
        if let l = c.location { message["location"] = ["latitude": l.latitude, "longitude": l.longitude] }
        if let k = c.contact { message["contact"] = ["phone_number": k.phoneNumber, "name": k.name ?? ""] }
        return message
    }
}

/// A channel's bot: every customer message of a room in `bot` state is POSTed
/// here; the bot answers through the API and hands over when humans are needed.
/// `[bot]` keys: `webhook_url` (required), `secret` (required), `format`
/// (`omnichat`, the default, or `qiscus`: the hosted product's bot webhook shape).
struct BotWebhook: ChannelAdapter {
    enum Format: String, Sendable { case omnichat, qiscus }

    static let kind = "bot"
    let channelID: String
    let webhookURL: String
    let secret: String
    let format: Format
    /// Set through the API (the settings' default bot), not written by the operator.
    var publicAddressesOnly = false

    init(channelID: String, settings: ChannelSettings) throws {
        self.channelID = channelID
        self.webhookURL = try settings.url("webhook_url", default: "")
        self.secret = try settings.requiredString("secret")
        let format = try settings.string("format") ?? Format.omnichat.rawValue
        guard let known = Format(rawValue: format) else {
            throw settings.error("format", "must be \"omnichat\" or \"qiscus\" (got '\(format)')")
        }
        self.format = known
    }

    init(channelID: String, webhookURL: String, secret: String, format: Format = .omnichat) {
        self.channelID = channelID
        self.webhookURL = webhookURL
        self.secret = secret
        self.format = format
    }

    var capabilities: ChannelCapabilities {
        ChannelCapabilities(textLimit: 65_536, maxQuickReplies: 100, supportedOutbound: Set(MessageType.allCases))
    }

    func verify(_ request: WebhookRequest) throws(WebhookError) {}
    func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] { [] }

    func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        let object = format == .qiscus ? QiscusBot.webhook(message) : [
            "version": "1",
            "event_id": IntegrationSigner.eventID("bot#\(message.messageID)"),
            "type": "message",
            "room_id": message.roomID,
            "channel": message.channelID,
            "user": ["id": message.conversationID],
            "message": IntegrationSigner.content(message.content),
            "sent_at": message.now.iso8601,
        ]
        var request = HTTPRequestDescription.json(url: webhookURL, object: object)
        request.publicAddressesOnly = publicAddressesOnly
        request.headers += IntegrationSigner.headers(secret: secret, body: request.body, now: message.now)
        return [request]
    }

    func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome { IntegrationSigner.classify(response) }
}

/// The merchant-wide webhooks configured in settings: custom allocation and mark-as-resolved.
struct SettingsWebhook: ChannelAdapter {
    static let kind = "settings-webhook"
    let channelID: String
    let url: String
    let secret: String?

    init(channelID: String, settings: ChannelSettings) throws {
        self.channelID = channelID
        self.url = try settings.url("url", default: "")
        self.secret = try settings.string("secret")
    }

    init(channelID: String, url: String, secret: String?) {
        self.channelID = channelID
        self.url = url
        self.secret = secret
    }

    var capabilities: ChannelCapabilities { ChannelCapabilities(textLimit: 65_536, maxQuickReplies: 0, supportedOutbound: []) }
    func verify(_ request: WebhookRequest) throws(WebhookError) {}
    func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] { [] }
    func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        throw RenderError("settings webhooks carry no messages")
    }

    /// The action's `body` parameter is the exact JSON to POST.
    func render(action: AdapterAction) -> HTTPRequestDescription? {
        guard let body = action.parameters["body"] else { return nil }
        var request = HTTPRequestDescription(method: "POST", url: url, headers: [("Content-Type", "application/json")], body: Data(body.utf8))
        request.publicAddressesOnly = true  // set through the settings API
        request.headers += IntegrationSigner.headers(secret: secret, body: request.body, now: Date())
        return request
    }

    func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome { IntegrationSigner.classify(response) }
}
