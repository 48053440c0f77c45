import Foundation
import OmnichatCore

/// A custom channel's request body (contract v1, `docs/custom-channel.md`):
/// one event, or `{"events": [...]}` with up to 100 of them.
struct CustomEnvelope: Decodable {
    var events: [CustomEventBody]?
    var single: CustomEventBody?

    enum CodingKeys: String, CodingKey { case events }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        events = try c.decodeIfPresent([CustomEventBody].self, forKey: .events)
        if events == nil { single = try CustomEventBody(from: decoder) }
    }
}

/// One inbound event as the integrator writes it. Every field is optional
/// here so that a missing one is reported by name (`CustomPayload.validate`);
/// a field of the wrong type fails decoding and is reported by its path.
/// `extras` is not decoded: it stays in the raw payload.
struct CustomEventBody: Decodable {
    struct User: Decodable {
        var id: String?
        var name: String?
        var avatarURL: String?
        var email: String?

        enum CodingKeys: String, CodingKey {
            case id, name, email
            case avatarURL = "avatar_url"
        }
    }

    struct Location: Decodable {
        var latitude: Double?
        var longitude: Double?
        var title: String?
        var address: String?
    }

    struct Contact: Decodable {
        var phoneNumber: String?
        var name: String?

        enum CodingKeys: String, CodingKey {
            case phoneNumber = "phone_number"
            case name
        }
    }

    struct Message: Decodable {
        var type: String?
        var text: String?
        var url: String?
        var payload: String?
        var fileName: String?
        var mimeType: String?
        var location: Location?
        var contact: Contact?

        enum CodingKeys: String, CodingKey {
            case type, text, url, payload
            case fileName = "file_name"
            case mimeType = "mime_type"
            case location, contact
        }
    }

    var eventID: String?
    var user: User?
    var message: Message?

    enum CodingKeys: String, CodingKey {
        case eventID = "event_id"
        case user, message
    }
}

// MARK: The fast path (FastJSON): one event in the body, without location or contact

extension CustomEnvelope {
    /// Throws for batches and for anything `JSONDecoder` would read differently;
    /// the adapter then decodes the general way (and words its errors).
    init(fast json: FastJSON) throws {
        try json.requireAbsent(json.root, ["events"])
        events = nil
        single = try CustomEventBody(fast: json, json.root)
    }
}

extension CustomEventBody {
    init(fast json: FastJSON, _ node: Int) throws {
        eventID = try json.optionalString(node, "event_id")
        user = try json.optionalObject(node, "user").map { user in
            User(
                id: try json.optionalString(user, "id"), name: try json.optionalString(user, "name"),
                avatarURL: try json.optionalString(user, "avatar_url"), email: try json.optionalString(user, "email"))
        }
        message = try json.optionalObject(node, "message").map { message in
            try json.requireAbsent(message, ["location", "contact"])
            return Message(
                type: try json.optionalString(message, "type"), text: try json.optionalString(message, "text"),
                url: try json.optionalString(message, "url"), payload: try json.optionalString(message, "payload"),
                fileName: try json.optionalString(message, "file_name"), mimeType: try json.optionalString(message, "mime_type"))
        }
    }
}

/// Validation of inbound events and the wording of their errors.
enum CustomPayload {
    static let maxBatch = 100
    static let maxEventIDLength = 256

    /// A validated event: what `parse` turns into an `InboundEvent`.
    struct Event {
        var eventID: String
        var userID: String
        var userName: String?
        var content: MessageContent
        /// Only an http(s) URL is kept.
        var avatarURL: String? = nil
        var email: String? = nil
    }

    /// Checks one event; `path` prefixes field names in errors ("events[2].").
    static func validate(_ body: CustomEventBody, path: String) throws(WebhookError) -> Event {
        func missing(_ field: String) -> WebhookError { WebhookError(.malformed, "missing field '\(path)\(field)'") }
        func invalid(_ field: String, _ problem: String) -> WebhookError {
            WebhookError(.malformed, "field '\(path)\(field)' \(problem)")
        }

        guard let eventID = body.eventID else { throw missing("event_id") }
        guard !eventID.isEmpty else { throw invalid("event_id", "must not be empty") }
        guard eventID.count <= maxEventIDLength else { throw invalid("event_id", "must be at most \(maxEventIDLength) characters") }
        guard let user = body.user else { throw missing("user") }
        guard let userID = user.id else { throw missing("user.id") }
        guard !userID.isEmpty else { throw invalid("user.id", "must not be empty") }
        guard let message = body.message else { throw missing("message") }
        guard let typeName = message.type else { throw missing("message.type") }

        let type = MessageType(rawValue: typeName).flatMap { $0 == .unsupported ? nil : $0 } ?? .unsupported
        var content = MessageContent(
            type: type, text: message.text, url: message.url, fileName: message.fileName, mimeType: message.mimeType,
            payload: message.payload)
        switch type {
        case .text:
            guard let text = message.text else { throw missing("message.text") }
            guard !text.isEmpty else { throw invalid("message.text", "must not be empty") }
        case .image, .audio, .video, .file, .sticker:
            guard let url = message.url else { throw missing("message.url") }
            guard isHTTPURL(url) else { throw invalid("message.url", "must be an http:// or https:// URL") }
        case .location:
            guard let l = message.location else { throw missing("message.location") }
            guard let latitude = l.latitude else { throw missing("message.location.latitude") }
            guard let longitude = l.longitude else { throw missing("message.location.longitude") }
            guard (-90...90).contains(latitude) else { throw invalid("message.location.latitude", "must be between -90 and 90") }
            guard (-180...180).contains(longitude) else { throw invalid("message.location.longitude", "must be between -180 and 180") }
            content.location = GeoLocation(latitude: latitude, longitude: longitude, title: l.title, address: l.address)
        case .contact:
            guard let c = message.contact else { throw missing("message.contact") }
            guard let phone = c.phoneNumber else { throw missing("message.contact.phone_number") }
            guard !phone.isEmpty else { throw invalid("message.contact.phone_number", "must not be empty") }
            content.contact = ContactCard(phoneNumber: phone, name: c.name)
        case .postback:
            guard let payload = message.payload else { throw missing("message.payload") }
            content.text = message.text ?? payload
        case .unsupported:
            break
        }
        return Event(
            eventID: eventID, userID: userID, userName: user.name, content: content,
            avatarURL: user.avatarURL.flatMap { isHTTPURL($0) ? $0 : nil }, email: user.email.flatMap { $0.isEmpty ? nil : $0 })
    }

    static func isHTTPURL(_ string: String) -> Bool {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && url.host?.isEmpty == false
    }

    /// A decoding failure as "field 'events[1].message.text' must be a string".
    static func describe(_ error: any Error) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            var out = ""
            for key in codingPath {
                if let index = key.intValue {
                    out += "[\(index)]"
                } else {
                    out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return out
        }
        switch error {
        case DecodingError.typeMismatch(let type, let context):
            let field = path(context.codingPath)
            guard !field.isEmpty else { return "body is not a JSON object" }
            let name = String(describing: type)
            let expected =
                name == "String" ? "a string"
                : name == "Double" ? "a number"
                : (name.hasPrefix("Array") || (name.hasPrefix("[") && !name.contains(":"))) ? "an array" : "an object"
            return "field '\(field)' must be \(expected)"
        case DecodingError.valueNotFound(_, let context), DecodingError.keyNotFound(_, let context):
            let field = path(context.codingPath)
            return field.isEmpty ? "body is not a JSON object" : "missing field '\(field)'"
        case DecodingError.dataCorrupted(let context):
            let field = path(context.codingPath)
            return field.isEmpty ? "body is not valid JSON" : "field '\(field)' is invalid"
        default:
            return "body is not valid JSON"
        }
    }
}
