import OmnichatCore

/// A Telegram channel's drop-in keys (see `adapters.d/telegram.toml.example`):
/// - `token` (string, required): the bot token from BotFather.
/// - `secret_token` (string, required unless `allow_unsigned`): sent back by
///   Telegram in `X-Telegram-Bot-Api-Secret-Token`; 1-256 characters of
///   `A-Z a-z 0-9 _ -`. Without it anyone who learns the webhook URL can post
///   forged updates.
/// - `allow_unsigned` (boolean, default false): accept a channel without
///   `secret_token`, knowingly (a warning at every start).
/// - `api_base` (string, optional, default `https://api.telegram.org`).
public struct TelegramConfiguration: Sendable {
    public static let defaultAPIBase = "https://api.telegram.org"

    public var token: String
    public var secretToken: String?
    public var apiBase: String
    public var allowUnsigned: Bool

    public init(token: String, secretToken: String? = nil, apiBase: String = TelegramConfiguration.defaultAPIBase, allowUnsigned: Bool = false) {
        self.token = token
        self.secretToken = secretToken
        self.apiBase = apiBase
        self.allowUnsigned = allowUnsigned
    }

    public init(settings: ChannelSettings) throws {
        let token = try settings.requiredString("token")
        guard token.contains(":"), !token.contains(where: { $0.isWhitespace || $0 == "/" }) else {
            throw settings.error("token", "does not look like a bot token (expected '<bot id>:<secret>')")
        }
        let secret = try settings.string("secret_token")
        if let secret {
            let allowed = secret.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
            guard (1...256).contains(secret.count), allowed else {
                throw settings.error("secret_token", "must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
            }
        }
        let apiBase = try settings.url("api_base", default: Self.defaultAPIBase)
        let allowUnsigned = try settings.bool("allow_unsigned") ?? false
        guard secret != nil || allowUnsigned else {
            throw settings.error(
                "secret_token",
                "is required: Telegram sends it back with every update, and without it anyone who learns the webhook URL can post forged updates (allow_unsigned = true accepts unsigned updates knowingly)")
        }
        self.init(token: token, secretToken: secret, apiBase: apiBase, allowUnsigned: allowUnsigned)
    }

    func methodURL(_ method: String) -> String { "\(apiBase)/bot\(token)/\(method)" }
}
