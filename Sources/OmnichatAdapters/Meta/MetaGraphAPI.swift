import Foundation
import OmnichatCore

/// What Messenger and WhatsApp share on the way out: the Graph API base, its
/// error body, how an answer is classified, and the messaging-window arithmetic.
enum MetaGraphAPI {
    static let defaultAPIBase = "https://graph.facebook.com/v21.0"

    /// Error codes Meta documents as temporary: 1 and 2 (unknown / service
    /// unavailable), 4 (app rate limit), 613 (calls per hour), 80007 (Messenger
    /// rate limit), 130429 (WhatsApp throughput), 131056 (WhatsApp per-user pair rate).
    static let retryableCodes: Set<Int> = [1, 2, 4, 613, 80007, 130429, 131056]
    static let rateLimitCodes: Set<Int> = [4, 613, 80007, 130429, 131056]
    /// Messenger: "This message is sent outside of allowed window" (code 10).
    static let outsideWindowSubcodes: Set<Int> = [2018278, 2018065]

    /// Reads a send call's answer. Meta sends no `Retry-After`: the decision rests on
    /// `error.code`, then on the HTTP status. `secrets` are cut out of every reason.
    static func classify(_ response: HTTPResponseDescription, secrets: [String]) -> DeliveryOutcome {
        if (200..<300).contains(response.status) {
            let result = try? JSONDecoder().decode(MetaSendResult.self, from: response.body)
            return .delivered(networkMessageID: result?.messageID ?? result?.messages?.first?.id)
        }
        let error = (try? JSONDecoder().decode(MetaErrorEnvelope.self, from: response.body))?.error
        let detail = redact(error?.summary ?? "HTTP \(response.status)", secrets)
        let code = error?.code
        let subcode = error?.errorSubcode

        if let code, retryableCodes.contains(code) {
            return .retry(after: nil, reason: rateLimitCodes.contains(code) ? "rate limited: \(detail)" : "temporary error: \(detail)")
        }
        if let subcode, outsideWindowSubcodes.contains(subcode) {
            return .permanent(reason: "outside the 24-hour messaging window: \(detail)")
        }
        if code == 10, subcode == nil {
            return .permanent(reason: "outside the 24-hour messaging window: \(detail)")
        }
        switch code {
        case 551: return .permanent(reason: "the person is not available")
        case 190: return .permanent(reason: "access token invalid or expired")
        case 131047: return .permanent(reason: "more than 24 hours since the customer's last message: only a template can be sent")
        default: break
        }
        if response.status == 429 { return .retry(after: nil, reason: "rate limited: \(detail)") }
        if response.status >= 500 { return .retry(after: nil, reason: "server error: \(detail)") }
        return .permanent(reason: detail)
    }

    static func redact(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { $0.count >= 4 }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    /// A URL query value or path segment (a token, an id), percent-encoded.
    static func escaped(_ value: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

/// The customer-service window both networks enforce: 24 hours after the
/// customer's last message (Messenger's human agent tag stretches it to 7 days).
enum MetaMessagingWindow {
    static let day: TimeInterval = 24 * 3600

    /// How long ago the customer last wrote, or `nil` when unknown.
    static func age(_ message: OutboundMessage) -> TimeInterval? {
        message.lastInboundAt.map { message.now.timeIntervalSince($0) }
    }

    /// "the customer last wrote 2025-03-01T09:00:00Z, 30 hours ago" (for reasons shown to agents).
    static func lastWrote(_ message: OutboundMessage) -> String {
        guard let last = message.lastInboundAt else { return "no message from the customer is on record" }
        let hours = Int(max(0, message.now.timeIntervalSince(last)) / 3600)
        let ago = hours < 48 ? "\(hours) hours ago" : "\(hours / 24) days ago"
        return "the customer last wrote \(last.formatted(.iso8601)), \(ago)"
    }
}

/// Meta's error body: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
struct MetaErrorEnvelope: Decodable {
    var error: MetaGraphError?
}

struct MetaGraphError: Decodable {
    var message: String?
    var type: String?
    var code: Int?
    var errorSubcode: Int?
    var fbtraceID: String?
    /// WhatsApp adds `error_data.details`, often clearer than `message`.
    var details: String?

    enum CodingKeys: String, CodingKey {
        case message, type, code
        case errorSubcode = "error_subcode"
        case fbtraceID = "fbtrace_id"
        case errorData = "error_data"
    }

    struct ErrorData: Decodable {
        var details: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        message = c.metaString(.message)
        type = c.metaString(.type)
        code = c.metaInt64(.code).map { Int($0) }
        errorSubcode = c.metaInt64(.errorSubcode).map { Int($0) }
        fbtraceID = c.metaString(.fbtraceID)
        details = c.meta(ErrorData.self, .errorData)?.details
    }

    /// Meta's message, with WhatsApp's details when they add something.
    var summary: String? {
        guard let message, !message.isEmpty else { return details ?? code.map { "Meta error code \($0)" } }
        if let details, !details.isEmpty, !message.contains(details) { return "\(message): \(details)" }
        return message
    }
}

/// A send call's success body: Messenger `{"recipient_id","message_id"}`,
/// WhatsApp `{"messages":[{"id":"wamid…"}]}`.
struct MetaSendResult: Decodable {
    struct Message: Decodable {
        var id: String?
    }

    var messageID: String?
    var messages: [Message]?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case messages
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messageID = c.metaString(.messageID)
        messages = c.meta([Message].self, .messages)
    }
}
