import Foundation

/// What a message carries. Every network's inbound kinds map onto one of these;
/// what a network cannot render is degraded on the way out, never dropped.
public enum MessageType: String, Codable, Sendable, CaseIterable {
    case text, image, audio, video, file, location, sticker, contact, postback, unsupported
}

public enum MessageDirection: String, Codable, Sendable {
    case inbound, outbound
}

public struct GeoLocation: Codable, Sendable, Equatable {
    public var latitude: Double
    public var longitude: Double
    public var title: String?
    public var address: String?

    public init(latitude: Double, longitude: Double, title: String? = nil, address: String? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.title = title
        self.address = address
    }
}

public struct ContactCard: Codable, Sendable, Equatable {
    public var phoneNumber: String
    public var name: String?

    public init(phoneNumber: String, name: String? = nil) {
        self.phoneNumber = phoneNumber
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case phoneNumber = "phone_number"
        case name
    }
}

/// A button offered to the customer under a message; tapping it sends `payload` back.
public struct QuickReply: Codable, Sendable, Equatable {
    public var title: String
    public var payload: String

    public init(title: String, payload: String? = nil) {
        self.title = title
        self.payload = payload ?? title
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.title = try c.decode(String.self, forKey: .title)
        self.payload = try c.decodeIfPresent(String.self, forKey: .payload) ?? self.title
    }

    enum CodingKeys: String, CodingKey { case title, payload }
}

/// The common message type: what any network can say, in one shape.
public struct MessageContent: Codable, Sendable, Equatable {
    public var type: MessageType
    public var text: String?
    /// A fetchable URL (outbound media, or inbound media the network gives a URL for).
    public var url: String?
    /// The network's own reference to a media object (Telegram `file_id`, WhatsApp media id).
    public var mediaID: String?
    public var fileName: String?
    public var mimeType: String?
    public var location: GeoLocation?
    public var contact: ContactCard?
    /// For `postback`: the data the tapped button carried.
    public var payload: String?
    public var quickReplies: [QuickReply]
    /// True when this is a customer's edit of an earlier message.
    public var edited: Bool
    /// Who wrote an inbound message in a group conversation (the room is the group).
    public var senderName: String?

    public init(
        type: MessageType,
        text: String? = nil,
        url: String? = nil,
        mediaID: String? = nil,
        fileName: String? = nil,
        mimeType: String? = nil,
        location: GeoLocation? = nil,
        contact: ContactCard? = nil,
        payload: String? = nil,
        quickReplies: [QuickReply] = [],
        edited: Bool = false,
        senderName: String? = nil
    ) {
        self.type = type
        self.text = text
        self.url = url
        self.mediaID = mediaID
        self.fileName = fileName
        self.mimeType = mimeType
        self.location = location
        self.contact = contact
        self.payload = payload
        self.quickReplies = quickReplies
        self.edited = edited
        self.senderName = senderName
    }

    public static func text(_ text: String, quickReplies: [QuickReply] = []) -> MessageContent {
        MessageContent(type: .text, text: text, quickReplies: quickReplies)
    }

    enum CodingKeys: String, CodingKey {
        case type, text, url
        case mediaID = "media_id"
        case fileName = "file_name"
        case mimeType = "mime_type"
        case location, contact, payload
        case quickReplies = "quick_replies"
        case edited
        case senderName = "sender_name"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.type = try c.decode(MessageType.self, forKey: .type)
        self.text = try c.decodeIfPresent(String.self, forKey: .text)
        self.url = try c.decodeIfPresent(String.self, forKey: .url)
        self.mediaID = try c.decodeIfPresent(String.self, forKey: .mediaID)
        self.fileName = try c.decodeIfPresent(String.self, forKey: .fileName)
        self.mimeType = try c.decodeIfPresent(String.self, forKey: .mimeType)
        self.location = try c.decodeIfPresent(GeoLocation.self, forKey: .location)
        self.contact = try c.decodeIfPresent(ContactCard.self, forKey: .contact)
        self.payload = try c.decodeIfPresent(String.self, forKey: .payload)
        self.quickReplies = try c.decodeIfPresent([QuickReply].self, forKey: .quickReplies) ?? []
        self.edited = try c.decodeIfPresent(Bool.self, forKey: .edited) ?? false
        self.senderName = try c.decodeIfPresent(String.self, forKey: .senderName)
    }
}

/// Who wrote to us, as the network describes them.
public struct ContactProfile: Sendable, Equatable {
    /// The network's id of the person (Telegram `from.id`).
    public var externalID: String
    public var displayName: String?
    public var username: String?
    /// The person's picture, when the network or integrator gives one.
    public var avatarURL: String?
    /// The person's email, when the integrator gives one (the custom channel).
    public var email: String?
    /// What the customer came with, as a JSON object's text (the custom channel's `extras`).
    public var extras: String?

    public init(
        externalID: String, displayName: String? = nil, username: String? = nil, avatarURL: String? = nil, email: String? = nil,
        extras: String? = nil
    ) {
        self.externalID = externalID
        self.displayName = displayName
        self.username = username
        self.avatarURL = avatarURL
        self.email = email
        self.extras = extras
    }
}

/// A follow-up call the network expects after an inbound event (Telegram's
/// `answerCallbackQuery`, say). Named by the adapter, rendered by the adapter.
public struct AdapterAction: Codable, Sendable, Equatable {
    public var name: String
    public var parameters: [String: String]

    public init(name: String, parameters: [String: String]) {
        self.name = name
        self.parameters = parameters
    }
}

/// What the network tells us about one of our outbound messages.
public struct Receipt: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable {
        case delivered, read, failed
    }

    public var status: Status
    /// The network's ids of the messages concerned (WhatsApp `wamid`, Messenger `mids`).
    public var networkMessageIDs: [String]
    /// Everything we sent up to this time (Messenger's `watermark`).
    public var watermark: Date?
    /// Why it failed, for `failed`.
    public var error: String?

    public init(status: Status, networkMessageIDs: [String] = [], watermark: Date? = nil, error: String? = nil) {
        self.status = status
        self.networkMessageIDs = networkMessageIDs
        self.watermark = watermark
        self.error = error
    }
}

/// What kind of thing an inbound event is.
public enum InboundKind: Sendable, Equatable {
    /// The customer wrote: stored as an inbound message and routed.
    case message
    /// The business's own message as the network echoes it (sent from
    /// another tool): stored as an outbound message, not routed.
    case echo
    /// Delivery, read or failure of our outbound messages.
    case receipt(Receipt)
    /// A conversation event that is not a message (follow, unfollow, unsend,
    /// join...): recorded with its raw payload, not routed.
    case system(String)
}

/// One normalized inbound event, the output of `ChannelAdapter.parse`.
public struct InboundEvent: Sendable, Equatable {
    /// The network's id for this event, unique per channel: the dedupe key.
    public var eventID: String
    /// The conversation on the network (Telegram chat id): one room per (channel, conversation).
    public var conversationID: String
    public var contact: ContactProfile
    public var content: MessageContent
    /// The network's id of the message, when it has one.
    public var networkMessageID: String?
    public var occurredAt: Date
    /// The event's own JSON, exactly as the network sent it.
    public var raw: String
    /// A call to make right after the event is stored.
    public var followUp: AdapterAction?
    public var kind: InboundKind
    /// Saved on the room and handed, once, to the next reply's rendering
    /// (LINE's reply token, say). `nil` leaves the room's context as it is.
    public var replyContext: [String: String]?
    /// The conversation's own name when it is a group (Telegram's group
    /// title): the room's title, kept up to date. `nil` for one-to-one chats.
    public var conversationTitle: String?

    public init(
        eventID: String,
        conversationID: String,
        contact: ContactProfile,
        content: MessageContent,
        networkMessageID: String? = nil,
        occurredAt: Date,
        raw: String,
        followUp: AdapterAction? = nil,
        kind: InboundKind = .message,
        replyContext: [String: String]? = nil,
        conversationTitle: String? = nil
    ) {
        self.eventID = eventID
        self.conversationID = conversationID
        self.contact = contact
        self.content = content
        self.networkMessageID = networkMessageID
        self.occurredAt = occurredAt
        self.raw = raw
        self.followUp = followUp
        self.kind = kind
        self.replyContext = replyContext
        self.conversationTitle = conversationTitle
    }
}

extension MessageContent {
    /// The content as JSON, byte for byte what `JSONEncoder` writes with
    /// `.sortedKeys` and `.withoutEscapingSlashes` (the store's format), without
    /// going through `Encodable`: that cost as much as the rest of a message's
    /// insert. Nil for a location (numbers are left to the encoder).
    public var sortedJSON: String? {
        guard location == nil else { return nil }
        var out = "{"
        var first = true
        func key(_ name: StaticString) {
            out += first ? "\"" : ",\""
            first = false
            out += name.description
            out += "\":"
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONString.appendQuoted(value, to: &out)
        }
        if let contact {
            key("contact")
            out += "{"
            if let name = contact.name {
                out += "\"name\":"
                JSONString.appendQuoted(name, to: &out)
                out += ","
            }
            out += "\"phone_number\":"
            JSONString.appendQuoted(contact.phoneNumber, to: &out)
            out += "}"
        }
        key("edited")
        out += edited ? "true" : "false"
        string("file_name", fileName)
        string("media_id", mediaID)
        string("mime_type", mimeType)
        string("payload", payload)
        key("quick_replies")
        out += "["
        for (index, reply) in quickReplies.enumerated() {
            out += index == 0 ? "{\"payload\":" : ",{\"payload\":"
            JSONString.appendQuoted(reply.payload, to: &out)
            out += ",\"title\":"
            JSONString.appendQuoted(reply.title, to: &out)
            out += "}"
        }
        out += "]"
        string("sender_name", senderName)
        string("text", text)
        key("type")
        out += "\"" + type.rawValue + "\""
        string("url", url)
        return out + "}"
    }
}
