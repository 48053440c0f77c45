import Foundation

/// The parts of a WhatsApp Cloud API webhook we read:
/// `{"object":"whatsapp_business_account","entry":[{"changes":[{"field","value":{…}}]}]}`.
/// Only `entry` is required; messages and statuses are read leniently, one by one.
struct WhatsAppWebhook: Decodable {
    var entry: [WhatsAppEntry]
}

struct WhatsAppEntry: Decodable {
    var id: String?
    var changes: [MetaLenient<WhatsAppChange>]?

    enum CodingKeys: String, CodingKey { case id, changes }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = c.metaString(.id)
        changes = try c.decodeIfPresent([MetaLenient<WhatsAppChange>].self, forKey: .changes)
    }
}

struct WhatsAppChange: Decodable {
    var field: String?
    var value: WhatsAppValue?

    enum CodingKeys: String, CodingKey { case field, value }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        field = c.metaString(.field)
        value = c.meta(WhatsAppValue.self, .value)
    }
}

/// `value`: who wrote (`contacts[]`), what they wrote (`messages[]`), and what
/// became of ours (`statuses[]`).
struct WhatsAppValue: Decodable {
    var phoneNumberID: String?
    var contacts: [WhatsAppContact]
    var messages: [MetaLenient<WhatsAppMessage>]
    var statuses: [MetaLenient<WhatsAppStatus>]

    enum CodingKeys: String, CodingKey { case metadata, contacts, messages, statuses }

    struct Metadata: Decodable {
        var phoneNumberID: String?
        enum CodingKeys: String, CodingKey { case phoneNumberID = "phone_number_id" }
        init(from decoder: any Decoder) throws {
            phoneNumberID = try decoder.container(keyedBy: CodingKeys.self).metaString(.phoneNumberID)
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        phoneNumberID = c.meta(Metadata.self, .metadata)?.phoneNumberID
        contacts = (c.meta([MetaLenient<WhatsAppContact>].self, .contacts) ?? []).compactMap(\.value)
        messages = c.meta([MetaLenient<WhatsAppMessage>].self, .messages) ?? []
        statuses = c.meta([MetaLenient<WhatsAppStatus>].self, .statuses) ?? []
    }

    /// The profile of the person with this WhatsApp id.
    func contact(_ waID: String?) -> WhatsAppContact? {
        guard let waID else { return nil }
        return contacts.first { $0.waID == waID } ?? contacts.first { $0.userID == waID }
    }
}

/// `{"profile":{"name","username"?},"wa_id","user_id"?}`.
struct WhatsAppContact: Decodable {
    var waID: String?
    var userID: String?
    var name: String?
    var username: String?

    enum CodingKeys: String, CodingKey {
        case waID = "wa_id"
        case userID = "user_id"
        case profile
    }

    struct Profile: Decodable {
        var name: String?
        var username: String?
        enum CodingKeys: String, CodingKey { case name, username }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = c.metaString(.name)
            username = c.metaString(.username)
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        waID = c.metaString(.waID)
        userID = c.metaString(.userID)
        let profile = c.meta(Profile.self, .profile)
        name = profile?.name
        username = profile?.username
    }
}

/// One inbound message: `from`, `id` (`wamid.…`), `timestamp` (string of Unix
/// seconds), `type`, and the object named by the type.
struct WhatsAppMessage: Decodable {
    var from: String?
    var id: String?
    var timestamp: Int64?
    var type: String?
    var text: String?
    var media: WhatsAppMedia?
    var location: WhatsAppLocation?
    var contacts: [WhatsAppSharedContact]?
    var interactive: WhatsAppInteractive?
    var button: WhatsAppButton?
    var reaction: WhatsAppReaction?
    var system: WhatsAppSystem?

    static let mediaTypes = ["image", "video", "audio", "document", "sticker"]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: MetaCodingKey.self)
        func key(_ name: String) -> MetaCodingKey { MetaCodingKey(stringValue: name) }
        from = c.metaString(key("from"))
        id = c.metaString(key("id"))
        timestamp = c.metaInt64(key("timestamp"))
        type = c.metaString(key("type"))
        text = c.meta(WhatsAppText.self, key("text"))?.body
        if let type, Self.mediaTypes.contains(type) {
            media = c.meta(WhatsAppMedia.self, key(type))
        }
        location = c.meta(WhatsAppLocation.self, key("location"))
        contacts = c.meta([MetaLenient<WhatsAppSharedContact>].self, key("contacts"))?.compactMap(\.value)
        interactive = c.meta(WhatsAppInteractive.self, key("interactive"))
        button = c.meta(WhatsAppButton.self, key("button"))
        reaction = c.meta(WhatsAppReaction.self, key("reaction"))
        system = c.meta(WhatsAppSystem.self, key("system"))
    }
}

struct WhatsAppText: Decodable {
    var body: String?
}

/// `image|video|audio|document|sticker`: a media id to fetch through the Graph API.
struct WhatsAppMedia: Decodable {
    var id: String?
    var mimeType: String?
    var caption: String?
    var filename: String?

    enum CodingKeys: String, CodingKey {
        case id
        case mimeType = "mime_type"
        case caption, filename
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = c.metaString(.id)
        mimeType = c.metaString(.mimeType)
        caption = c.metaString(.caption)
        filename = c.metaString(.filename)
    }
}

struct WhatsAppLocation: Decodable {
    var latitude: Double?
    var longitude: Double?
    var name: String?
    var address: String?

    enum CodingKeys: String, CodingKey { case latitude, longitude, name, address }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        latitude = c.metaDouble(.latitude)
        longitude = c.metaDouble(.longitude)
        name = c.metaString(.name)
        address = c.metaString(.address)
    }
}

/// A shared contact card: `{"name":{"formatted_name",…},"phones":[{"phone","wa_id"}]}`.
struct WhatsAppSharedContact: Decodable {
    var name: String?
    var phones: [Phone]

    struct Name: Decodable {
        var formattedName: String?
        var firstName: String?
        var lastName: String?
        enum CodingKeys: String, CodingKey {
            case formattedName = "formatted_name"
            case firstName = "first_name"
            case lastName = "last_name"
        }
    }

    struct Phone: Decodable {
        var phone: String?
        var waID: String?
        enum CodingKeys: String, CodingKey {
            case phone
            case waID = "wa_id"
        }
    }

    enum CodingKeys: String, CodingKey { case name, phones }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = c.meta(Name.self, .name)
        let parts = [name?.firstName, name?.lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        self.name = name?.formattedName ?? (parts.isEmpty ? nil : parts)
        phones = (c.meta([MetaLenient<Phone>].self, .phones) ?? []).compactMap(\.value)
    }
}

/// An answer to an interactive message: `button_reply` or `list_reply` (`id`, `title`).
struct WhatsAppInteractive: Decodable {
    var type: String?
    var reply: Reply?
    /// A WhatsApp Flow's answer (`nfm_reply`): its `body`.
    var flowBody: String?

    struct Reply: Decodable {
        var id: String?
        var title: String?
    }

    struct FlowReply: Decodable {
        var body: String?
    }

    enum CodingKeys: String, CodingKey {
        case type
        case buttonReply = "button_reply"
        case listReply = "list_reply"
        case nfmReply = "nfm_reply"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.metaString(.type)
        reply = c.meta(Reply.self, .buttonReply) ?? c.meta(Reply.self, .listReply)
        flowBody = c.meta(FlowReply.self, .nfmReply)?.body
    }
}

/// A template's quick-reply button: `{"payload","text"}`.
struct WhatsAppButton: Decodable {
    var payload: String?
    var text: String?
}

/// `{"message_id","emoji"}`; an empty emoji removes the reaction.
struct WhatsAppReaction: Decodable {
    var messageID: String?
    var emoji: String?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case emoji
    }
}

/// `{"body","type":"user_changed_number|…"}`.
struct WhatsAppSystem: Decodable {
    var body: String?
    var type: String?
}

/// What became of one of our messages: `sent|delivered|read|failed`, with `errors[]` when failed.
struct WhatsAppStatus: Decodable {
    var id: String?
    var status: String?
    var timestamp: Int64?
    var recipientID: String?
    var errors: [WhatsAppStatusError]

    enum CodingKeys: String, CodingKey {
        case id, status, timestamp
        case recipientID = "recipient_id"
        case recipientUserID = "recipient_user_id"
        case errors
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = c.metaString(.id)
        status = c.metaString(.status)
        timestamp = c.metaInt64(.timestamp)
        recipientID = c.metaString(.recipientID) ?? c.metaString(.recipientUserID)
        errors = (c.meta([MetaLenient<WhatsAppStatusError>].self, .errors) ?? []).compactMap(\.value)
    }
}

/// `{"code","title","message","error_data":{"details"}}`.
struct WhatsAppStatusError: Decodable {
    var code: Int64?
    var title: String?
    var message: String?
    var details: String?

    enum CodingKeys: String, CodingKey {
        case code, title, message
        case errorData = "error_data"
    }

    struct ErrorData: Decodable {
        var details: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = c.metaInt64(.code)
        title = c.metaString(.title)
        message = c.metaString(.message)
        details = c.meta(ErrorData.self, .errorData)?.details
    }

    /// "User's number is part of an experiment: Failed to send … (code 130472)".
    var summary: String {
        var text = message ?? title ?? "the message could not be delivered"
        if let details, !details.isEmpty, details != text { text += ": \(details)" }
        if let code { text += " (code \(code))" }
        return text
    }
}
