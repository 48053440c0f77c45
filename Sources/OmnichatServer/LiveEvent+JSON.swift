import Foundation
import NIOCore
import Logging
import OmnichatCore
import ServiceLifecycle

extension LiveEvent {
    /// The event as Server-Sent Events lines. Written directly (no
    /// JSONSerialization round trip: it was 5% of the daemon's time under a
    /// stream of replies); values of other types than the usual few take the
    /// general path.
    var sse: String { encoded ?? rendered }

    var rendered: String {
        var out = "id: \(id)\nevent: \(type)\ndata: {\"id\":\"\(id)\",\"type\":"
        JSONString.appendQuoted(type, to: &out)
        out += ",\"at\":\"" + at.iso8601 + "\",\"data\":"
        if let dataJSON, !dataJSON.isEmpty, !dataJSON.utf8.contains(0x0A) {
            out += dataJSON  // already JSON (the cluster's event log), one line
        } else {
            out += plainDataJSON
        }
        out += "}\n\n"
        return out
    }

    /// `data` as one line of JSON: written directly for the usual plain values,
    /// through JSONSerialization for anything else.
    private var plainDataJSON: String {
        if let direct = JSONText.object(data) { return direct }
        let json = (try? JSONSerialization.data(withJSONObject: plainData, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: json, as: UTF8.self)
    }

    private var plainData: [String: Any] {
        var payload: [String: Any] = [:]
        for (key, value) in data {
            let plain = Self.unwrap(value)
            if !(plain is NSNull) { payload[key] = plain }
        }
        return payload
    }

    /// The event as the cluster's event log keeps it.
    var logBody: String {
        var out = "{\"type\":"
        JSONString.appendQuoted(type, to: &out)
        out += ",\"at\":" + String(at.timeIntervalSince1970) + ",\"data\":" + plainDataJSON
        if let roomID {
            out += ",\"room_id\":" + String(roomID)
        }
        if let audience {
            out += ",\"audience\":" + String(audience)
        }
        return out + "}"
    }

    init?(logged: LoggedEvent) {
        if let event = Self.fromLogBody(logged) {
            self = event
            return
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(logged.body.utf8)) as? [String: Any],
            let type = object["type"] as? String
        else { return nil }
        let data = object["data"].flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.withoutEscapingSlashes]) }
        self.init(
            id: logged.id, type: type, roomID: (object["room_id"] as? NSNumber)?.int64Value, audience: (object["audience"] as? NSNumber)?.int64Value, data: [:],
            at: (object["at"] as? Double).map(Date.init(timeIntervalSince1970:)) ?? logged.at,
            dataJSON: data.map { String(decoding: $0, as: UTF8.self) } ?? "{}")
    }

    static func unwrap(_ value: any Sendable) -> Any {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let child = mirror.children.first else { return NSNull() }
            return child.value
        }
        return value
    }
}

/// A JSON writer for the few plain values live events carry (strings, whole
/// numbers, booleans, doubles, absent optionals), without Foundation.
enum JSONText {
    /// The object, keys sorted; nil when a value is of another type (the caller
    /// then takes the general path). Absent optionals leave their key out.
    static func object(_ values: [String: any Sendable]) -> String? {
        var out = "{"
        var first = true
        for key in values.keys.sorted() {
            var value: Any = values[key]!
            if let optional = value as? any OptionalValue {
                guard let wrapped = optional.wrappedValue else { continue }
                value = wrapped
            }
            if !first { out += "," }
            first = false
            JSONString.appendQuoted(key, to: &out)
            out += ":"
            switch value {
            case let text as String: JSONString.appendQuoted(text, to: &out)
            case let flag as Bool: out += flag ? "true" : "false"
            case let number as Int: out += String(number)
            case let number as Int64: out += String(number)
            case let number as Double where number.isFinite: out += String(number)
            default: return nil
            }
        }
        return out + "}"
    }
}

/// Lets `JSONText` see through an optional held in an existential.
protocol OptionalValue {
    var wrappedValue: Any? { get }
}

extension Optional: OptionalValue {
    var wrappedValue: Any? { map { $0 as Any } }
}

// The shapes of the room and message objects some events carry, and what an
// event weighs in the resume buffer.
extension LiveEvent {
    /// A cheap estimate of an event's memory: its strings' bytes plus a fixed
    /// cost per value and container (boxes, dictionary slots).
    static func weight(of value: Any?) -> Int {
        switch value {
        case let text as String: return 32 + text.utf8.count
        case let object as [String: any Sendable]: return object.reduce(96) { $0 + 48 + $1.key.utf8.count + weight(of: $1.value) }
        case let list as [any Sendable]: return list.reduce(64) { $0 + weight(of: $1) }
        default: return 32
        }
    }
}

extension LiveEvents {
    /// Nested objects go through JSONSerialization, which takes no Optional: absent values leave their key out.
    static func roomData(_ r: Room) -> [String: any Sendable] {
        var contact: [String: any Sendable] = ["id": r.contact.id, "external_id": r.contact.externalID]
        if let v = r.contact.displayName { contact["name"] = v }
        if let v = r.contact.username { contact["username"] = v }
        if let v = r.contact.avatarURL { contact["avatar_url"] = v }
        var room: [String: any Sendable] = [
            "id": r.id, "channel": r.channelID, "status": r.status.rawValue, "session": r.session, "created_at": r.createdAt.iso8601,
            "contact": contact,
        ]
        if let v = r.lastMessageAt { room["last_message_at"] = v.iso8601 }
        if let v = r.title { room["title"] = v }
        return room
    }

    static func messageData(_ m: StoredMessage) -> [String: any Sendable] {
        var message: [String: any Sendable] = [
            "id": m.id, "room_id": m.roomID, "direction": m.direction.rawValue, "type": m.content.type.rawValue,
            "created_at": m.createdAt.iso8601, "edited": m.content.edited,
        ]
        if let v = m.content.text { message["text"] = v }
        if let v = m.content.url { message["url"] = v }
        if m.direction == .inbound, let v = m.content.senderName { message["sender_name"] = v }
        return message
    }


    /// A user was mentioned (`@name`) in an internal note: told on their own stream.
    public func mention(userID: Int64, note: RoomNote, roomID: Int64, author: User) {
        emit(
            "note.mention", roomID: nil, audience: userID,
            data: [
                "user_id": userID, "room_id": roomID, "note_id": note.id, "author_id": author.id, "author_name": author.name, "text": note.text,
            ])
    }
}
