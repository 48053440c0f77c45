import Foundation

/// The parts of a Messenger webhook we read: `{"object":"page","entry":[{"messaging":[…]}]}`.
/// Only `entry` is required; every event is read leniently, so one odd event
/// becomes an `unsupported` one instead of refusing the batch.
struct MessengerWebhook: Decodable {
    var entry: [MessengerEntry]
}

struct MessengerEntry: Decodable {
    var id: String?
    var time: Int64?
    var messaging: [MetaLenient<MessengerEvent>]?

    enum CodingKeys: String, CodingKey { case id, time, messaging }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = c.metaString(.id)
        time = c.metaInt64(.time)
        messaging = try c.decodeIfPresent([MetaLenient<MessengerEvent>].self, forKey: .messaging)
    }
}

/// One `messaging[]` object: a sender, a recipient, and one kind of event.
struct MessengerEvent: Decodable {
    var sender: String?
    var recipient: String?
    var timestamp: Int64?
    var message: MessengerMessage?
    var postback: MessengerPostback?
    var delivery: MessengerWatermark?
    var read: MessengerWatermark?
    var reaction: MessengerReaction?
    var messageEdit: MessengerMessageEdit?
    /// Fields we do not model (`optin`, `referral`, …), or that did not decode: they name unknown events.
    var otherKeys: [String] = []

    struct Party: Decodable {
        var id: String?

        enum CodingKeys: String, CodingKey { case id }

        init(from decoder: any Decoder) throws {
            id = try decoder.container(keyedBy: CodingKeys.self).metaString(.id)
        }
    }

    static let modelled: Set<String> = ["sender", "recipient", "timestamp", "message", "postback", "delivery", "read", "reaction", "message_edit"]

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: MetaCodingKey.self)
        func key(_ name: String) -> MetaCodingKey { MetaCodingKey(stringValue: name) }
        sender = c.meta(Party.self, key("sender"))?.id
        recipient = c.meta(Party.self, key("recipient"))?.id
        timestamp = c.metaInt64(key("timestamp"))
        message = c.meta(MessengerMessage.self, key("message"))
        postback = c.meta(MessengerPostback.self, key("postback"))
        delivery = c.meta(MessengerWatermark.self, key("delivery"))
        read = c.meta(MessengerWatermark.self, key("read"))
        reaction = c.meta(MessengerReaction.self, key("reaction"))
        messageEdit = c.meta(MessengerMessageEdit.self, key("message_edit"))
        var failed: [String] = []
        if message == nil, c.contains(key("message")) { failed.append("message") }
        if postback == nil, c.contains(key("postback")) { failed.append("postback") }
        otherKeys = failed + c.allKeys.map(\.stringValue).filter { !Self.modelled.contains($0) }.sorted()
    }
}

struct MessengerMessage: Decodable {
    var mid: String?
    var text: String?
    var quickReplyPayload: String?
    var attachments: [MessengerAttachment]
    var isEcho: Bool

    enum CodingKeys: String, CodingKey {
        case mid, text
        case quickReply = "quick_reply"
        case attachments
        case isEcho = "is_echo"
    }

    struct QuickReply: Decodable {
        var payload: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mid = c.metaString(.mid)
        text = c.metaString(.text)
        quickReplyPayload = c.meta(QuickReply.self, .quickReply)?.payload
        attachments = (c.meta([MetaLenient<MessengerAttachment>].self, .attachments) ?? []).map {
            $0.value ?? MessengerAttachment(type: nil)
        }
        isEcho = c.metaBool(.isEcho) ?? false
    }
}

/// `{"type":"image|audio|video|file|location|fallback|…","payload":{"url",…}}`.
struct MessengerAttachment: Decodable {
    var type: String?
    var title: String?
    var url: String?
    var payload: Payload?

    struct Payload: Decodable {
        var url: String?
        var title: String?
        var stickerID: String?
        var latitude: Double?
        var longitude: Double?

        enum CodingKeys: String, CodingKey {
            case url, title
            case stickerID = "sticker_id"
            case coordinates
        }

        struct Coordinates: Decodable {
            var lat: Double?
            var long: Double?
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            url = c.metaString(.url)
            title = c.metaString(.title)
            stickerID = c.metaString(.stickerID)
            let coordinates = c.meta(Coordinates.self, .coordinates)
            latitude = coordinates?.lat
            longitude = coordinates?.long
        }
    }

    enum CodingKeys: String, CodingKey { case type, title, url, payload }

    init(type: String?) {
        self.type = type
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = c.metaString(.type)
        title = c.metaString(.title)
        url = c.metaString(.url)
        payload = c.meta(Payload.self, .payload)
    }
}

struct MessengerPostback: Decodable {
    var mid: String?
    var title: String?
    var payload: String?

    enum CodingKeys: String, CodingKey { case mid, title, payload }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mid = c.metaString(.mid)
        title = c.metaString(.title)
        payload = c.metaString(.payload)
    }
}

/// `delivery` (`mids`, `watermark`) and `read` (`watermark`).
struct MessengerWatermark: Decodable {
    var mids: [String]?
    var watermark: Int64?

    enum CodingKeys: String, CodingKey { case mids, watermark }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mids = c.meta([String].self, .mids)
        watermark = c.metaInt64(.watermark)
    }
}

/// `{"reaction":"love","emoji":"❤️","action":"react|unreact","mid":"m_…"}`.
struct MessengerReaction: Decodable {
    var reaction: String?
    var emoji: String?
    var action: String?
    var mid: String?

    enum CodingKeys: String, CodingKey { case reaction, emoji, action, mid }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reaction = c.metaString(.reaction)
        emoji = c.metaString(.emoji)
        action = c.metaString(.action)
        mid = c.metaString(.mid)
    }
}

/// `{"mid":"m_…","text":"…","num_edit":1}`: the customer edited a message.
struct MessengerMessageEdit: Decodable {
    var mid: String?
    var text: String?
    var numEdit: Int64?

    enum CodingKeys: String, CodingKey {
        case mid, text
        case numEdit = "num_edit"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mid = c.metaString(.mid)
        text = c.metaString(.text)
        numEdit = c.metaInt64(.numEdit)
    }
}

// MARK: The fast path (FastJSON): text messages

extension MessengerWebhook {
    /// Text messages (echoes included) read without `JSONDecoder`; throws for
    /// anything the lenient `Decodable` initializers might read differently
    /// (a number where a string is expected, postbacks, attachments, a null
    /// where an object is expected…), and the adapter then decodes the general way.
    init(fast json: FastJSON) throws {
        entry = try json.requiredArray(json.root, "entry").map { try MessengerEntry(fast: json, $0) }
    }
}

extension MessengerEntry {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        id = try json.optionalString(node, "id")
        time = try json.optionalInt64(node, "time")
        messaging = try json.optionalArray(node, "messaging")?.map { MetaLenient(value: try MessengerEvent(fast: json, $0)) }
    }
}

extension MessengerEvent {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        try json.requireAbsent(node, ["postback", "delivery", "read", "reaction", "message_edit"])
        try json.requireNotNull(node, ["message", "postback"])
        func party(_ key: StaticString) throws -> String? {
            try json.optionalObject(node, key).flatMap { try json.optionalString($0, "id") }
        }
        sender = try party("sender")
        recipient = try party("recipient")
        timestamp = try json.optionalInt64(node, "timestamp")
        message = try json.optionalObject(node, "message").map { try MessengerMessage(fast: json, $0) }
        postback = nil
        delivery = nil
        read = nil
        reaction = nil
        messageEdit = nil
        otherKeys = json.keys(node).map { String(decoding: $0, as: UTF8.self) }.filter { !Self.modelled.contains($0) }.sorted()
    }
}

extension MessengerMessage {
    init(fast json: FastJSON, _ node: Int) throws {
        try json.requireAbsent(node, ["quick_reply", "attachments"])
        mid = try json.optionalString(node, "mid")
        text = try json.optionalString(node, "text")
        quickReplyPayload = nil
        attachments = []
        isEcho = try json.optionalBool(node, "is_echo") ?? false
    }
}
