import OmnichatCore

/// A WhatsApp Cloud API channel's drop-in keys (see `adapters.d/whatsapp.toml.example`):
/// - `access_token` (string, required): a system user token with `whatsapp_business_messaging`.
/// - `phone_number_id` (string, required): the business phone number's ID (digits), not the number.
/// - `app_secret` (string, required): the Meta app's secret; webhooks are signed with it.
/// - `verify_token` (string, required): typed again in the app's webhook settings.
/// - `api_base` (string, optional, default `https://graph.facebook.com/v21.0`).
/// - `template_name` (string, optional): an approved template sent instead of a reply
///   once the 24-hour customer-service window is closed.
/// - `template_language` (string, optional, default `en_US`): that template's language code.
public struct WhatsAppConfiguration: Sendable {
    public static let defaultAPIBase = MetaGraphAPI.defaultAPIBase
    public static let defaultTemplateLanguage = "en_US"

    public var accessToken: String
    public var phoneNumberID: String
    public var appSecret: String
    public var verifyToken: String
    public var apiBase: String
    public var templateName: String?
    public var templateLanguage: String

    public init(
        accessToken: String, phoneNumberID: String, appSecret: String, verifyToken: String,
        apiBase: String = WhatsAppConfiguration.defaultAPIBase, templateName: String? = nil,
        templateLanguage: String = WhatsAppConfiguration.defaultTemplateLanguage
    ) {
        self.accessToken = accessToken
        self.phoneNumberID = phoneNumberID
        self.appSecret = appSecret
        self.verifyToken = verifyToken
        self.apiBase = apiBase
        self.templateName = templateName
        self.templateLanguage = templateLanguage
    }

    public init(settings: ChannelSettings) throws {
        let token = try settings.requiredString("access_token")
        guard !token.contains(where: \.isWhitespace) else {
            throw settings.error("access_token", "must not contain spaces or line breaks (write the token alone, without 'Bearer')")
        }
        let phoneNumberID = try settings.requiredString("phone_number_id")
        guard phoneNumberID.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw settings.error(
                "phone_number_id", "must be the phone number ID shown in WhatsApp Manager (digits only), not the phone number itself")
        }
        let secret = try settings.requiredString("app_secret")
        guard !secret.contains(where: \.isWhitespace) else {
            throw settings.error("app_secret", "must not contain spaces or line breaks")
        }
        let verifyToken = try settings.requiredString("verify_token")
        let apiBase = try settings.url("api_base", default: Self.defaultAPIBase)

        let templateName = try settings.string("template_name")
        if let templateName {
            let valid = templateName.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
            guard !templateName.isEmpty, templateName.count <= 512, valid else {
                throw settings.error("template_name", "must be a template name: lowercase letters, digits and _ (got '\(templateName)')")
            }
        }
        let language = try settings.string("template_language") ?? Self.defaultTemplateLanguage
        let parts = language.split(separator: "_", omittingEmptySubsequences: false)
        let languageValid =
            (1...2).contains(parts.count) && (2...3).contains(parts[0].count) && parts[0].allSatisfy { $0.isASCII && $0.isLowercase }
            && (parts.count == 1 || (parts[1].count == 2 && parts[1].allSatisfy { $0.isASCII && $0.isUppercase }))
        guard languageValid else {
            throw settings.error("template_language", "must be a language code such as 'en', 'en_US' or 'pt_BR' (got '\(language)')")
        }
        self.init(
            accessToken: token, phoneNumberID: phoneNumberID, appSecret: secret, verifyToken: verifyToken, apiBase: apiBase,
            templateName: templateName, templateLanguage: language)
    }

    var messagesURL: String { "\(apiBase)/\(phoneNumberID)/messages" }
    var authorization: (name: String, value: String) { ("Authorization", "Bearer \(accessToken)") }
}
