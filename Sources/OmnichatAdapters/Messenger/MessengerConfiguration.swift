import OmnichatCore

/// A Messenger channel's drop-in keys (see `adapters.d/messenger.toml.example`):
/// - `page_access_token` (string, required): the Page access token that sends messages.
/// - `app_secret` (string, required): the Meta app's secret; webhooks are signed with it.
/// - `verify_token` (string, required): any string, typed again in the app's webhook
///   settings; Meta's GET verification must present it.
/// - `api_base` (string, optional, default `https://graph.facebook.com/v21.0`).
/// - `human_agent_tag` (boolean, optional, default `true`): after the 24-hour window,
///   send with `MESSAGE_TAG`/`HUMAN_AGENT` for up to 7 days after the customer's last message.
public struct MessengerConfiguration: Sendable {
    public static let defaultAPIBase = MetaGraphAPI.defaultAPIBase

    public var pageAccessToken: String
    public var appSecret: String
    public var verifyToken: String
    public var apiBase: String
    public var humanAgentTag: Bool

    public init(
        pageAccessToken: String, appSecret: String, verifyToken: String, apiBase: String = MessengerConfiguration.defaultAPIBase,
        humanAgentTag: Bool = true
    ) {
        self.pageAccessToken = pageAccessToken
        self.appSecret = appSecret
        self.verifyToken = verifyToken
        self.apiBase = apiBase
        self.humanAgentTag = humanAgentTag
    }

    public init(settings: ChannelSettings) throws {
        let token = try settings.requiredString("page_access_token")
        guard !token.contains(where: \.isWhitespace) else {
            throw settings.error("page_access_token", "must not contain spaces or line breaks")
        }
        let secret = try settings.requiredString("app_secret")
        guard !secret.contains(where: \.isWhitespace) else {
            throw settings.error("app_secret", "must not contain spaces or line breaks")
        }
        self.init(
            pageAccessToken: token,
            appSecret: secret,
            verifyToken: try settings.requiredString("verify_token"),
            apiBase: try settings.url("api_base", default: Self.defaultAPIBase),
            humanAgentTag: try settings.bool("human_agent_tag") ?? true)
    }

    /// The Send API: the token travels in the query string, as Meta documents.
    var sendURL: String { "\(apiBase)/me/messages?access_token=\(MetaGraphAPI.escaped(pageAccessToken))" }
}
