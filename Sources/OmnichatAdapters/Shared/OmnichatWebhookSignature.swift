import Foundation

/// How Omnichat signs the webhooks it exchanges with integrators (the custom
/// channel, contract v1 in `docs/custom-channel.md`, in both directions; the
/// server's bot and settings webhooks the same way):
///
/// ```
/// X-Omnichat-Timestamp: <Unix time in whole seconds>
/// X-Omnichat-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
/// ```
///
/// The HMAC covers the body's bytes exactly as sent, keyed with the secret's
/// UTF-8 bytes. Verifying (clock skew, comparing in constant time) is the
/// receiver's job: `CustomAdapter.verify` for what integrators send us.
public enum OmnichatWebhookSignature {
    public static let timestampHeader = "X-Omnichat-Timestamp"
    public static let signatureHeader = "X-Omnichat-Signature"
    /// What the signature header's value starts with.
    public static let prefix = "sha256="

    /// `sha256=` + lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>"): the
    /// `X-Omnichat-Signature` value for `body` sent with `timestamp`.
    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        prefix + Signature.hex(secret, Data("\(timestamp).".utf8) + body)
    }

    /// The two headers signing `body` sent at `now` (the timestamp is `now` in
    /// whole seconds since 1970, rounded down), timestamp first.
    public static func headers(secret: String, body: Data, now: Date) -> [(name: String, value: String)] {
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        return [(timestampHeader, timestamp), (signatureHeader, signature(secret: secret, timestamp: timestamp, body: body))]
    }
}
