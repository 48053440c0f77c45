import Foundation
import OmnichatCore

/// A custom channel's drop-in keys (see `adapters.d/custom.toml.example` and
/// `docs/custom-channel.md`):
/// - `secret` (string, required): the shared secret both sides sign with
///   (HMAC-SHA256); 32 random bytes in hex is a good choice.
/// - `webhook_url` (string, required): the integrator's http(s) endpoint that
///   receives agents' replies.
/// - `max_clock_skew_seconds` (integer, optional, default 300, 1-3600): how far
///   a request's `X-Omnichat-Timestamp` may be from our clock, either way.
public struct CustomConfiguration: Sendable {
    public static let defaultMaxClockSkewSeconds = 300
    static let clockSkewRange = 1...3600

    public var secret: String
    public var webhookURL: String
    public var maxClockSkewSeconds: Int

    public init(secret: String, webhookURL: String, maxClockSkewSeconds: Int = CustomConfiguration.defaultMaxClockSkewSeconds) {
        self.secret = secret
        self.webhookURL = webhookURL
        self.maxClockSkewSeconds = maxClockSkewSeconds
    }

    public init(settings: ChannelSettings) throws {
        let secret = try settings.requiredString("secret")
        let webhookURL = try settings.requiredString("webhook_url")
        guard let url = URL(string: webhookURL), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host?.isEmpty == false
        else { throw settings.error("webhook_url", "must be an http:// or https:// URL, got '\(webhookURL)'") }
        let skew = try settings.int("max_clock_skew_seconds") ?? Self.defaultMaxClockSkewSeconds
        guard Self.clockSkewRange.contains(skew) else {
            throw settings.error(
                "max_clock_skew_seconds", "must be between \(Self.clockSkewRange.lowerBound) and \(Self.clockSkewRange.upperBound), got \(skew)")
        }
        self.init(secret: secret, webhookURL: webhookURL, maxClockSkewSeconds: skew)
    }
}
