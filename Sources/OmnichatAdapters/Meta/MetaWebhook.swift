import Foundation
import OmnichatCore

/// What Messenger and WhatsApp webhooks share: the GET verification handshake
/// and the `X-Hub-Signature-256` signature over the raw body.
enum MetaWebhook {
    static let signatureHeader = "X-Hub-Signature-256"
    static let signaturePrefix = "sha256="

    /// Meta's subscription check: `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`
    /// is answered 200 with the body `C` when `T` is our verify token, 403 otherwise.
    static func handshake(_ request: WebhookRequest, verifyToken: String) -> HandshakeResponse {
        guard request.query["hub.mode"] == "subscribe" else {
            return HandshakeResponse(status: 403, body: "hub.mode must be 'subscribe'")
        }
        guard let given = request.query["hub.verify_token"], ConstantTime.equals(given, verifyToken) else {
            return HandshakeResponse(status: 403, body: "hub.verify_token does not match the channel's verify_token")
        }
        guard let challenge = request.query["hub.challenge"], !challenge.isEmpty else {
            return HandshakeResponse(status: 403, body: "hub.challenge is missing")
        }
        return HandshakeResponse(status: 200, body: challenge)
    }

    /// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`
    /// over the bytes as received (Meta signs its `\uXXXX`-escaped text: never
    /// re-serialize first), in constant time. Messages never carry the expected value.
    static func verifySignature(_ request: WebhookRequest, appSecret: String) throws(WebhookError) {
        guard let header = request.header(signatureHeader) else {
            throw WebhookError(.unauthorized, "missing \(signatureHeader) header")
        }
        let value = header.trimmingHTTPWhitespace()
        guard value.count > signaturePrefix.count, value.lowercased().hasPrefix(signaturePrefix) else {
            throw WebhookError(.unauthorized, "\(signatureHeader) header is not 'sha256=<hex digest>'")
        }
        let given = value.dropFirst(signaturePrefix.count).lowercased()
        let expected = Signature.hex(appSecret, request.body)
        guard ConstantTime.equals(Array(given.utf8), Array(expected.utf8)) else {
            throw WebhookError(.unauthorized, "wrong \(signatureHeader) signature")
        }
    }

    /// The `.malformed` error for a body that did not decode as the envelope.
    static func malformed(_ body: Data, network: String, arrays: [String]) -> WebhookError {
        guard let object = JSON.object(body) else { return WebhookError(.malformed, "body is not a JSON object") }
        guard let entry = object["entry"] else {
            return WebhookError(.malformed, "not a \(network) webhook: missing field 'entry'")
        }
        guard let entries = entry as? [Any] else {
            return WebhookError(.malformed, "not a \(network) webhook: field 'entry' is not an array")
        }
        for (index, element) in entries.enumerated() {
            guard let object = element as? [String: Any] else {
                return WebhookError(.malformed, "not a \(network) webhook: entry[\(index)] is not an object")
            }
            for name in arrays where object[name] != nil && !(object[name] is [Any]) {
                return WebhookError(.malformed, "not a \(network) webhook: entry[\(index)].\(name) is not an array")
            }
        }
        return WebhookError(.malformed, "not a \(network) webhook")
    }

    /// A date from Unix milliseconds (Messenger).
    static func date(milliseconds: Int64?) -> Date? {
        milliseconds.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
    }

    /// A date from a string (or number) of Unix seconds (WhatsApp).
    static func date(seconds: Int64?) -> Date? {
        seconds.map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }
}

/// Decodes a value that may be absent or of an unexpected shape as `nil`,
/// so one odd event does not refuse a whole request (which Meta would resend for days).
struct MetaLenient<Value: Decodable>: Decodable {
    var value: Value?

    init(from decoder: any Decoder) throws {
        value = try? Value(from: decoder)
    }

    init(value: Value?) {
        self.value = value
    }
}

/// Any key, for reading the names of fields a payload struct does not model.
struct MetaCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer {
    /// A string, also when the network wrote it as a number; `nil` when absent or of another type.
    func metaString(_ key: Key) -> String? {
        if let s = try? decodeIfPresent(String.self, forKey: key) { return s }
        if let n = try? decodeIfPresent(Int64.self, forKey: key) { return String(n) }
        if let d = try? decodeIfPresent(Double.self, forKey: key) { return String(d) }
        return nil
    }

    /// An integer, also when written as a string (WhatsApp timestamps).
    func metaInt64(_ key: Key) -> Int64? {
        if let n = try? decodeIfPresent(Int64.self, forKey: key) { return n }
        if let s = try? decodeIfPresent(String.self, forKey: key) { return Int64(s) }
        if let d = try? decodeIfPresent(Double.self, forKey: key), d.isFinite, abs(d) < 9e18 { return Int64(d) }
        return nil
    }

    /// A number, also when written as a string.
    func metaDouble(_ key: Key) -> Double? {
        if let d = try? decodeIfPresent(Double.self, forKey: key) { return d }
        if let s = try? decodeIfPresent(String.self, forKey: key) { return Double(s) }
        return nil
    }

    func metaBool(_ key: Key) -> Bool? {
        try? decodeIfPresent(Bool.self, forKey: key)
    }

    /// A nested value of the expected shape, or `nil`.
    func meta<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(T.self, forKey: key)) ?? nil
    }
}
