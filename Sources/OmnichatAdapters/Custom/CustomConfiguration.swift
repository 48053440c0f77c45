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
/// - `attachment_hosts` (array of strings, optional): the only hosts the daemon
///   fetches attachments and customers' pictures from (`cdn.example.com`, or
///   `.example.com` for every name under it). Without it any public host is
///   fetched; private addresses are refused either way unless
///   `[outbound] allow_private_networks` is set.
public struct CustomConfiguration: Sendable {
    public static let defaultMaxClockSkewSeconds = 300
    static let clockSkewRange = 1...3600

    public var secret: String
    public var webhookURL: String
    public var maxClockSkewSeconds: Int
    /// Lower-cased; nil: any host.
    public var attachmentHosts: [String]?

    public init(
        secret: String, webhookURL: String, maxClockSkewSeconds: Int = CustomConfiguration.defaultMaxClockSkewSeconds,
        attachmentHosts: [String]? = nil
    ) {
        self.secret = secret
        self.webhookURL = webhookURL
        self.maxClockSkewSeconds = maxClockSkewSeconds
        self.attachmentHosts = attachmentHosts?.map { $0.lowercased() }
    }

    /// Whether an attachment at `url` may be fetched under `attachment_hosts`.
    public func allowsAttachment(at url: String) -> Bool {
        guard let hosts = attachmentHosts else { return true }
        guard let host = URL(string: url)?.host?.lowercased() else { return false }
        return hosts.contains { allowed in
            allowed.hasPrefix(".") ? host.hasSuffix(allowed) || host == String(allowed.dropFirst()) : host == allowed
        }
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
        let hosts = try settings.strings("attachment_hosts")
        if let bad = hosts?.first(where: { $0.isEmpty || $0.contains("/") || $0.contains(":") || $0.contains(" ") }) {
            throw settings.error("attachment_hosts", "each entry is a host name like 'cdn.example.com' or '.example.com', got '\(bad)'")
        }
        self.init(secret: secret, webhookURL: webhookURL, maxClockSkewSeconds: skew, attachmentHosts: hosts)
    }
}
