import Foundation

/// A LINE webhook body: `{"destination": "U…", "events": [...]}`. The console's
/// "Verify" button sends it with no events.
struct LINEWebhook: Decodable {
    var destination: String?
    var events: [LINEEvent]
}

/// One entry of `events[]`. Every field is optional and read leniently: a
/// field of an unexpected type is treated as absent, so that a new or odd
/// event is stored as unsupported instead of failing the whole request.
struct LINEEvent: Decodable {
    var type: String?
    var webhookEventID: String?
    /// Milliseconds since 1970.
    var timestamp: Int64?
    var replyToken: String?
    var source: LINESource?
    var message: LINEMessage?
    var postback: LINEPostback?
    var unsend: LINEUnsend?

    enum CodingKeys: String, CodingKey {
        case type
        case webhookEventID = "webhookEventId"
        case timestamp, replyToken, source, message, postback, unsend
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.lenient(String.self, .type)
        webhookEventID = c.lenient(String.self, .webhookEventID)
        timestamp = c.lenient(Int64.self, .timestamp)
        replyToken = c.lenient(String.self, .replyToken)
        source = c.lenient(LINESource.self, .source)
        message = c.lenient(LINEMessage.self, .message)
        postback = c.lenient(LINEPostback.self, .postback)
        unsend = c.lenient(LINEUnsend.self, .unsend)
    }
}

/// Where an event happened: a one-to-one chat (`user`), a group or a multi-person chat (`room`).
struct LINESource: Decodable {
    var type: String?
    var userID: String?
    var groupID: String?
    var roomID: String?

    enum CodingKeys: String, CodingKey {
        case type
        case userID = "userId"
        case groupID = "groupId"
        case roomID = "roomId"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.lenient(String.self, .type)
        userID = c.lenient(String.self, .userID)
        groupID = c.lenient(String.self, .groupID)
        roomID = c.lenient(String.self, .roomID)
    }

    /// The conversation a reply goes to: the group or room when there is one.
    var conversationID: String? { groupID ?? roomID ?? userID }
}

/// Where an image, video or audio message's content is: on LINE's servers
/// (`line`, fetched by message id) or at the sender's URL (`external`).
struct LINEContentProvider: Decodable {
    var type: String?
    var originalContentURL: String?
    var previewImageURL: String?

    enum CodingKeys: String, CodingKey {
        case type
        case originalContentURL = "originalContentUrl"
        case previewImageURL = "previewImageUrl"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.lenient(String.self, .type)
        originalContentURL = c.lenient(String.self, .originalContentURL)
        previewImageURL = c.lenient(String.self, .previewImageURL)
    }
}

/// A message event's `message`: the fields of every message type in one struct.
struct LINEMessage: Decodable {
    var id: String?
    var type: String?
    var text: String?
    var contentProvider: LINEContentProvider?
    /// Milliseconds, for video and audio.
    var duration: Int64?
    var fileName: String?
    var fileSize: Int64?
    var title: String?
    var address: String?
    var latitude: Double?
    var longitude: Double?
    var packageID: String?
    var stickerID: String?
    var keywords: [String]?

    enum CodingKeys: String, CodingKey {
        case id, type, text, contentProvider, duration, fileName, fileSize, title, address, latitude, longitude
        case packageID = "packageId"
        case stickerID = "stickerId"
        case keywords
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = c.lenient(String.self, .id)
        type = c.lenient(String.self, .type)
        text = c.lenient(String.self, .text)
        contentProvider = c.lenient(LINEContentProvider.self, .contentProvider)
        duration = c.lenient(Int64.self, .duration)
        fileName = c.lenient(String.self, .fileName)
        fileSize = c.lenient(Int64.self, .fileSize)
        title = c.lenient(String.self, .title)
        address = c.lenient(String.self, .address)
        latitude = c.lenient(Double.self, .latitude)
        longitude = c.lenient(Double.self, .longitude)
        packageID = c.lenient(String.self, .packageID)
        stickerID = c.lenient(String.self, .stickerID)
        keywords = c.lenient([String].self, .keywords)
    }
}

/// A tapped postback action: `data` is what the button carried. `params`
/// (date and time pickers) is kept only in the raw payload.
struct LINEPostback: Decodable {
    var data: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        data = c.lenient(String.self, .data)
    }

    enum CodingKeys: String, CodingKey { case data }
}

/// The customer took back one of their messages.
struct LINEUnsend: Decodable {
    var messageID: String?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messageID = c.lenient(String.self, .messageID)
    }

    enum CodingKeys: String, CodingKey { case messageID = "messageId" }
}

// MARK: The fast path (FastJSON): text messages and events without payloads

extension LINEWebhook {
    /// Throws for anything the fast path does not read exactly as the lenient
    /// `Decodable` initializers would (a field of another type, media,
    /// postbacks…); the adapter then decodes the general way.
    init(fast json: FastJSON) throws {
        destination = try json.optionalString(json.root, "destination")
        events = try json.requiredArray(json.root, "events").map { try LINEEvent(fast: json, $0) }
    }
}

extension LINEEvent {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        try json.requireAbsent(node, ["postback", "unsend"])
        type = try json.optionalString(node, "type")
        webhookEventID = try json.optionalString(node, "webhookEventId")
        timestamp = try json.optionalInt64(node, "timestamp")
        replyToken = try json.optionalString(node, "replyToken")
        source = try json.optionalObject(node, "source").map { try LINESource(fast: json, $0) }
        message = try json.optionalObject(node, "message").map { try LINEMessage(fast: json, $0) }
        postback = nil
        unsend = nil
    }
}

extension LINESource {
    init(fast json: FastJSON, _ node: Int) throws {
        type = try json.optionalString(node, "type")
        userID = try json.optionalString(node, "userId")
        groupID = try json.optionalString(node, "groupId")
        roomID = try json.optionalString(node, "roomId")
    }
}

extension LINEMessage {
    init(fast json: FastJSON, _ node: Int) throws {
        try json.requireAbsent(
            node,
            ["contentProvider", "duration", "fileName", "fileSize", "title", "address", "latitude", "longitude", "packageId", "stickerId", "keywords"])
        id = try json.optionalString(node, "id")
        type = try json.optionalString(node, "type")
        text = try json.optionalString(node, "text")
        contentProvider = nil
        duration = nil
        fileName = nil
        fileSize = nil
        title = nil
        address = nil
        latitude = nil
        longitude = nil
        packageID = nil
        stickerID = nil
        keywords = nil
    }
}

/// LINE's answer to a send: `sentMessages` on success, `message` and
/// `details` on failure.
struct LINEResponse: Decodable {
    struct Sent: Decodable {
        var id: String?
    }
    struct Detail: Decodable {
        var message: String?
        var property: String?
    }

    var sentMessages: [Sent]?
    var message: String?
    var details: [Detail]?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sentMessages = c.lenient([Sent].self, .sentMessages)
        message = c.lenient(String.self, .message)
        details = c.lenient([Detail].self, .details)
    }

    enum CodingKeys: String, CodingKey { case sentMessages, message, details }

    /// "message: property: detail; property: detail", or nil when LINE said nothing.
    var reason: String? {
        let items = (details ?? []).compactMap { d -> String? in
            guard let message = d.message else { return nil }
            return d.property.map { "\($0): \(message)" } ?? message
        }
        guard let message else { return items.isEmpty ? nil : items.joined(separator: "; ") }
        return items.isEmpty ? message : "\(message) (\(items.joined(separator: "; ")))"
    }
}

private extension KeyedDecodingContainer {
    /// The value at `key`, or nil when it is absent, null or of another type.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(type, forKey: key)) ?? nil
    }
}
