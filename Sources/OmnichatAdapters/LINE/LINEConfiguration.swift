import OmnichatCore

/// A LINE channel's drop-in keys (see `adapters.d/line.toml.example`):
/// - `channel_access_token` (string, required): the long-lived channel access
///   token (LINE Developers console, "Messaging API" tab), sent as a bearer token.
/// - `channel_secret` (string, required): the channel secret ("Basic settings"
///   tab); webhooks are signed with it.
/// - `api_base` (string, optional, default `https://api.line.me`): where
///   messages are sent.
/// - `data_api_base` (string, optional, default `https://api-data.line.me`):
///   where customers' images, videos, audio and files are fetched from.
/// - `reply_token_lifetime_seconds` (integer, optional, default 50, 0-600): how
///   long after the customer's event its reply token is still used; later
///   replies are pushed. 0 always pushes.
public struct LINEConfiguration: Sendable {
    public static let defaultAPIBase = "https://api.line.me"
    public static let defaultDataAPIBase = "https://api-data.line.me"
    public static let defaultReplyTokenLifetimeSeconds = 50
    static let replyTokenLifetimeRange = 0...600

    public var channelAccessToken: String
    public var channelSecret: String
    public var apiBase: String
    public var dataAPIBase: String
    public var replyTokenLifetimeSeconds: Int

    public init(
        channelAccessToken: String, channelSecret: String, apiBase: String = LINEConfiguration.defaultAPIBase,
        dataAPIBase: String = LINEConfiguration.defaultDataAPIBase,
        replyTokenLifetimeSeconds: Int = LINEConfiguration.defaultReplyTokenLifetimeSeconds
    ) {
        self.channelAccessToken = channelAccessToken
        self.channelSecret = channelSecret
        self.apiBase = apiBase
        self.dataAPIBase = dataAPIBase
        self.replyTokenLifetimeSeconds = replyTokenLifetimeSeconds
    }

    public init(settings: ChannelSettings) throws {
        let token = try settings.requiredString("channel_access_token")
        guard !token.contains(where: { $0.isWhitespace }) else {
            throw settings.error("channel_access_token", "must not contain spaces or line breaks")
        }
        let secret = try settings.requiredString("channel_secret")
        guard !secret.contains(where: { $0.isWhitespace }) else {
            throw settings.error("channel_secret", "must not contain spaces or line breaks")
        }
        let lifetime = try settings.int("reply_token_lifetime_seconds") ?? Self.defaultReplyTokenLifetimeSeconds
        guard Self.replyTokenLifetimeRange.contains(lifetime) else {
            throw settings.error(
                "reply_token_lifetime_seconds",
                "must be between \(Self.replyTokenLifetimeRange.lowerBound) and \(Self.replyTokenLifetimeRange.upperBound), got \(lifetime)")
        }
        self.init(
            channelAccessToken: token, channelSecret: secret,
            apiBase: try settings.url("api_base", default: Self.defaultAPIBase),
            dataAPIBase: try settings.url("data_api_base", default: Self.defaultDataAPIBase),
            replyTokenLifetimeSeconds: lifetime)
    }

    var authorization: (name: String, value: String) { ("Authorization", "Bearer \(channelAccessToken)") }
}
