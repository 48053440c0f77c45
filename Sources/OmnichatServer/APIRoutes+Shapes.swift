import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OmnichatCore

extension APIRoutes {
    // MARK: Request parsing

    /// Query parameters, percent-decoded; a key may repeat.
    struct Query {
        var pairs: [(String, String)] = []

        init(_ request: Request) {
            for (key, value) in request.uri.queryParameters {
                let k = String(key).removingPercentEncoding ?? String(key)
                let v = String(value).replacingOccurrences(of: "+", with: " ")
                pairs.append((k, v.removingPercentEncoding ?? v))
            }
        }

        subscript(_ key: String) -> String? { pairs.first { $0.0 == key }?.1 }

        /// Every value of `key`, commas splitting values too (`?channel=a,b` or `?channel=a&channel=b`).
        func list(_ key: String) -> [String] {
            var out: [String] = []
            for (k, v) in pairs where k == key {
                for part in v.split(separator: ",") where !part.isEmpty { out.append(String(part)) }
            }
            return out
        }
    }

    static func list(_ query: Query, _ key: String) -> [String] { query.list(key) }

    static func limit(_ query: Query) throws -> Int {
        guard let raw = query["limit"] else { return 50 }
        guard let value = Int(raw), (1...200).contains(value) else { throw APIError.unprocessable("'limit' must be an integer from 1 to 200") }
        return value
    }

    static func outboundContent(_ body: [String: Any]) throws -> MessageContent {
        let typeName = try body.string("type", required: false) ?? "text"
        guard let type = MessageType(rawValue: typeName), outboundTypes.contains(type) else {
            throw APIError.unprocessable("'type' must be one of: \(outboundTypes.map(\.rawValue).joined(separator: ", "))")
        }
        let text = try body.string("text", required: false)
        let url = try body.string("url", required: false)
        if let text, text.count > maxTextLength { throw APIError.unprocessable("'text' is longer than \(maxTextLength) characters") }
        var location: GeoLocation?
        var contact: ContactCard?
        var mediaID: String?
        switch type {
        case .text:
            guard let text, !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw APIError.unprocessable("'text' is required and must not be empty for a text message")
            }
        case .location:
            guard let object = body["location"] as? [String: Any], let latitude = (object["latitude"] as? NSNumber)?.doubleValue,
                let longitude = (object["longitude"] as? NSNumber)?.doubleValue, (-90...90).contains(latitude),
                (-180...180).contains(longitude)
            else { throw APIError.unprocessable("'location' must be {\"latitude\", \"longitude\"} with valid coordinates") }
            location = GeoLocation(latitude: latitude, longitude: longitude, title: object["title"] as? String, address: object["address"] as? String)
        case .contact:
            guard let object = body["contact"] as? [String: Any], let phone = object["phone_number"] as? String, !phone.isEmpty else {
                throw APIError.unprocessable("'contact' must be {\"phone_number\", \"name\"}")
            }
            contact = ContactCard(phoneNumber: phone, name: object["name"] as? String)
        case .sticker:
            guard let id = try body.string("media_id", required: false), !id.isEmpty else {
                throw APIError.unprocessable("'media_id' is required for a sticker (the network's sticker id)")
            }
            mediaID = id
        default:
            guard let url else { throw APIError.unprocessable("'url' is required for a \(type.rawValue) message") }
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme), parsed.host != nil
            else { throw APIError.unprocessable("'url' must be an http:// or https:// URL") }
        }
        var replies: [QuickReply] = []
        switch body["quick_replies"] {
        case nil, is NSNull: break
        case let items as [Any]:
            for (index, item) in items.enumerated() {
                if let title = item as? String, !title.isEmpty {
                    replies.append(QuickReply(title: title))
                } else if let object = item as? [String: Any], let title = object["title"] as? String, !title.isEmpty {
                    guard object["payload"] == nil || object["payload"] is String else {
                        throw APIError.unprocessable("'quick_replies[\(index)].payload' must be a string")
                    }
                    replies.append(QuickReply(title: title, payload: object["payload"] as? String))
                } else {
                    throw APIError.unprocessable("'quick_replies[\(index)]' must be a non-empty string or {\"title\", \"payload\"}")
                }
            }
        default:
            throw APIError.unprocessable("'quick_replies' must be an array")
        }
        return MessageContent(
            type: type, text: text, url: url, mediaID: mediaID, fileName: try body.string("file_name", required: false),
            location: location, contact: contact, quickReplies: replies)
    }

    // MARK: JSON shapes

    static func user(_ u: User) -> [String: Any] {
        [
            "id": u.id, "email": u.email, "name": u.name, "role": u.role.rawValue, "online": u.online,
            "channels": JSONBody.null(u.channels), "max_open_rooms": JSONBody.null(u.maxOpenRooms),
            "created_at": u.createdAt.iso8601,
            "divisions": u.divisions,
            "open_rooms": u.openRooms,
        ]
    }

    static func room(_ r: Room) -> [String: Any] {
        [
            "id": r.id,
            "channel": r.channelID,
            "status": r.status.rawValue,
            "assignee": r.assignee.map { ["id": $0.id, "name": $0.name, "email": $0.email] as [String: Any] } ?? NSNull(),
            "contact": [
                "id": r.contact.id, "external_id": r.contact.externalID, "name": JSONBody.null(r.contact.displayName),
                "username": JSONBody.null(r.contact.username),
            ] as [String: Any],
            "last_message_at": JSONBody.null(r.lastMessageAt?.iso8601),
            "waiting_since": JSONBody.null(r.waitingSince?.iso8601),
            "created_at": r.createdAt.iso8601,
            "division_id": JSONBody.null(r.divisionID),
            "session": r.session,
            "title": JSONBody.null(r.title),
        ]
    }

    static func message(_ m: StoredMessage) -> [String: Any] {
        let c = m.content
        var out: [String: Any] = [
            "id": m.id,
            "room_id": m.roomID,
            "direction": m.direction.rawValue,
            "type": c.type.rawValue,
            "text": JSONBody.null(c.text),
            "url": JSONBody.null(c.url),
            "created_at": m.createdAt.iso8601,
            "delivery": ["status": m.deliveryStatus.rawValue, "attempts": m.attempts, "error": JSONBody.null(m.deliveryError)] as [String: Any],
            "sender_id": JSONBody.null(m.senderUserID ?? m.senderKeyID),
            "sender_type": JSONBody.null(m.senderUserID != nil ? "agent" : m.senderKeyID != nil ? "bot" : nil),
            "network_message_id": JSONBody.null(m.networkMessageID),
            "edited": c.edited,
        ]
        if let v = c.mediaID { out["media_id"] = v }
        if let v = c.fileName { out["file_name"] = v }
        if let v = c.mimeType { out["mime_type"] = v }
        if let v = c.payload { out["payload"] = v }
        if let l = c.location {
            out["location"] = ["latitude": l.latitude, "longitude": l.longitude, "title": JSONBody.null(l.title), "address": JSONBody.null(l.address)]
        }
        if let k = c.contact { out["contact"] = ["phone_number": k.phoneNumber, "name": JSONBody.null(k.name)] }
        if !c.quickReplies.isEmpty { out["quick_replies"] = c.quickReplies.map { ["title": $0.title, "payload": $0.payload] } }
        return out
    }
}
