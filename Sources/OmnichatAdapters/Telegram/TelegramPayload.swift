import Foundation

/// The parts of Telegram's `Update` we read. Everything but `update_id` is
/// optional: old payloads lack fields that newer ones always carry.
struct TelegramUpdate: Decodable {
    var updateID: Int64
    var message: TelegramMessage?
    var editedMessage: TelegramMessage?
    var channelPost: TelegramMessage?
    var editedChannelPost: TelegramMessage?
    var callbackQuery: TelegramCallbackQuery?
    var myChatMember: TelegramMemberUpdate?

    enum CodingKeys: String, CodingKey {
        case updateID = "update_id"
        case message
        case editedMessage = "edited_message"
        case channelPost = "channel_post"
        case editedChannelPost = "edited_channel_post"
        case callbackQuery = "callback_query"
        case myChatMember = "my_chat_member"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        updateID = try c.decode(Int64.self, forKey: .updateID)
        message = try c.decodeIfPresent(TelegramMessage.self, forKey: .message)
        editedMessage = try c.decodeIfPresent(TelegramMessage.self, forKey: .editedMessage)
        channelPost = try c.decodeIfPresent(TelegramMessage.self, forKey: .channelPost)
        editedChannelPost = try c.decodeIfPresent(TelegramMessage.self, forKey: .editedChannelPost)
        callbackQuery = try c.decodeIfPresent(TelegramCallbackQuery.self, forKey: .callbackQuery)
        // A membership change we cannot read is kept as an update kind we do not model, as before it was read at all.
        myChatMember = try? c.decodeIfPresent(TelegramMemberUpdate.self, forKey: .myChatMember)
    }
}

/// `my_chat_member`: the bot's own membership changed. In a private chat,
/// `kicked` means the user blocked the bot and `member` that they unblocked it.
struct TelegramMemberUpdate: Decodable {
    struct Member: Decodable {
        var status: String?
        var user: TelegramUser?
    }

    // Optional, as for update kinds we do not model: an incomplete one is kept as unsupported.
    var chat: TelegramChat?
    var from: TelegramUser?
    var date: Int64?
    var newChatMember: Member?

    enum CodingKeys: String, CodingKey {
        case chat, from, date
        case newChatMember = "new_chat_member"
    }
}

struct TelegramUser: Decodable {
    var id: Int64
    var firstName: String?
    var lastName: String?
    var username: String?

    enum CodingKeys: String, CodingKey {
        case id
        case firstName = "first_name"
        case lastName = "last_name"
        case username
    }

    var displayName: String? {
        let name = [firstName, lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        return name.isEmpty ? username : name
    }
}

struct TelegramChat: Decodable {
    var id: Int64
    var type: String?
    var title: String?
    var firstName: String?
    var lastName: String?
    var username: String?

    enum CodingKeys: String, CodingKey {
        case id, type, title
        case firstName = "first_name"
        case lastName = "last_name"
        case username
    }

    var displayName: String? {
        if let title, !title.isEmpty { return title }
        let name = [firstName, lastName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        return name.isEmpty ? username : name
    }
}

struct TelegramPhotoSize: Decodable {
    var fileID: String
    var width: Int?
    var height: Int?
    var fileSize: Int?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case width, height
        case fileSize = "file_size"
    }
}

struct TelegramFile: Decodable {
    var fileID: String
    var fileName: String?
    var mimeType: String?
    var emoji: String?
    var title: String?

    enum CodingKeys: String, CodingKey {
        case fileID = "file_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case emoji, title
    }
}

struct TelegramLocation: Decodable {
    var latitude: Double
    var longitude: Double
}

struct TelegramVenue: Decodable {
    var location: TelegramLocation
    var title: String?
    var address: String?
}

struct TelegramContact: Decodable {
    var phoneNumber: String
    var firstName: String?
    var lastName: String?

    enum CodingKeys: String, CodingKey {
        case phoneNumber = "phone_number"
        case firstName = "first_name"
        case lastName = "last_name"
    }
}

struct TelegramMessage: Decodable {
    var messageID: Int64
    var from: TelegramUser?
    var chat: TelegramChat
    var date: Int64?
    var editDate: Int64?
    var text: String?
    var caption: String?
    var photo: [TelegramPhotoSize]?
    var document: TelegramFile?
    var audio: TelegramFile?
    var voice: TelegramFile?
    var video: TelegramFile?
    var videoNote: TelegramFile?
    var animation: TelegramFile?
    var sticker: TelegramFile?
    var location: TelegramLocation?
    var venue: TelegramVenue?
    var contact: TelegramContact?
    /// Service messages of groups: people added, or one who left.
    var newChatMembers: [TelegramUser]?
    var leftChatMember: TelegramUser?

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case from, chat, date
        case editDate = "edit_date"
        case text, caption, photo, document, audio, voice, video
        case videoNote = "video_note"
        case animation, sticker, location, venue, contact
        case newChatMembers = "new_chat_members"
        case leftChatMember = "left_chat_member"
    }

    /// A group or supergroup: the room is the group, each message names its sender.
    var inGroup: Bool { chat.type == "group" || chat.type == "supergroup" }
}

struct TelegramCallbackQuery: Decodable {
    var id: String
    var from: TelegramUser
    var message: TelegramMessage?
    var data: String?
}

// MARK: The fast path (FastJSON): text messages

extension TelegramUpdate {
    /// A plain text message (or its edit, or a channel post) read without
    /// `JSONDecoder`; throws for anything else (callback queries, media…),
    /// which the adapter then decodes the general way. Keys a model does not
    /// know are ignored, as `JSONDecoder` ignores them.
    init(fast json: FastJSON) throws {
        let root = json.root
        try json.requireAbsent(root, ["callback_query"])
        // The bot's membership (blocked, unblocked, added to a group) is decoded the general way.
        if let member = try json.optionalObject(root, "my_chat_member") { try json.requireAbsent(member, ["new_chat_member"]) }
        updateID = try json.requiredInt64(root, "update_id")
        message = try json.optionalObject(root, "message").map { try TelegramMessage(fast: json, $0) }
        editedMessage = try json.optionalObject(root, "edited_message").map { try TelegramMessage(fast: json, $0) }
        channelPost = try json.optionalObject(root, "channel_post").map { try TelegramMessage(fast: json, $0) }
        editedChannelPost = try json.optionalObject(root, "edited_channel_post").map { try TelegramMessage(fast: json, $0) }
        callbackQuery = nil
        myChatMember = nil
    }
}

extension TelegramMessage {
    init(fast json: FastJSON, _ node: Int) throws {
        try json.requireAbsent(
            node,
            [
                "caption", "photo", "document", "audio", "voice", "video", "video_note", "animation", "sticker", "location", "venue", "contact",
                "new_chat_members", "left_chat_member",
            ])
        messageID = try json.requiredInt64(node, "message_id")
        from = try json.optionalObject(node, "from").map { try TelegramUser(fast: json, $0) }
        chat = try TelegramChat(fast: json, json.requiredObject(node, "chat"))
        date = try json.optionalInt64(node, "date")
        editDate = try json.optionalInt64(node, "edit_date")
        text = try json.optionalString(node, "text")
    }
}

extension TelegramUser {
    init(fast json: FastJSON, _ node: Int) throws {
        id = try json.requiredInt64(node, "id")
        firstName = try json.optionalString(node, "first_name")
        lastName = try json.optionalString(node, "last_name")
        username = try json.optionalString(node, "username")
    }
}

extension TelegramChat {
    init(fast json: FastJSON, _ node: Int) throws {
        id = try json.requiredInt64(node, "id")
        type = try json.optionalString(node, "type")
        title = try json.optionalString(node, "title")
        firstName = try json.optionalString(node, "first_name")
        lastName = try json.optionalString(node, "last_name")
        username = try json.optionalString(node, "username")
    }
}

/// Telegram's answer to any Bot API method.
struct TelegramResponse: Decodable {
    struct Parameters: Decodable {
        var retryAfter: Int?
        enum CodingKeys: String, CodingKey { case retryAfter = "retry_after" }
    }
    struct Result: Decodable {
        var messageID: Int64?
        enum CodingKeys: String, CodingKey { case messageID = "message_id" }
    }

    var ok: Bool?
    var errorCode: Int?
    var description: String?
    var parameters: Parameters?
    var result: Result?

    enum CodingKeys: String, CodingKey {
        case ok
        case errorCode = "error_code"
        case description, parameters, result
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ok = try? c.decodeIfPresent(Bool.self, forKey: .ok)
        errorCode = try? c.decodeIfPresent(Int.self, forKey: .errorCode)
        description = try? c.decodeIfPresent(String.self, forKey: .description)
        parameters = try? c.decodeIfPresent(Parameters.self, forKey: .parameters)
        // `result` is a Message for send methods and `true` for others.
        result = try? c.decodeIfPresent(Result.self, forKey: .result)
    }
}
