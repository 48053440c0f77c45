import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

/// Row ⇄ domain conversions shared by the store's queries.
enum Rows {
    static func user(_ row: Row) -> User {
        User(
            id: row["id"], email: row["email"], name: row["name"], role: Role(rawValue: row["role"]) ?? .agent,
            online: row["online"], channels: (row["channels"] as String?).map(decodeList),
            maxOpenRooms: row["max_open_rooms"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            divisions: ((row["division_ids"] as String?) ?? "").split(separator: ",").compactMap { Int64($0) }.sorted(),
            openRooms: (row["open_rooms"] as Int?) ?? 0,
            // Absent before migration v4 and in joined selects: active, password chosen.
            active: (row["active"] as Bool?) ?? true,
            invitationPending: (row["password_hash"] as String?) == TeamSchema.noPassword)
    }

    static func room(_ row: Row) -> Room {
        var assignee: User?
        if let id = row["u_id"] as Int64? {
            assignee = User(
                id: id, email: row["u_email"], name: row["u_name"], role: Role(rawValue: row["u_role"]) ?? .agent,
                online: row["u_online"], channels: (row["u_channels"] as String?).map(decodeList),
                maxOpenRooms: row["u_max_open_rooms"], createdAt: Date(timeIntervalSince1970: row["u_created_at"]),
                openRooms: (row["u_open_rooms"] as Int?) ?? 0)
        }
        var room = Room(
            id: row["id"], channelID: row["channel_id"], conversationID: row["conversation_id"],
            status: RoomStatus(rawValue: row["status"]) ?? .waiting, assignee: assignee,
            contact: Contact(
                id: row["c_id"], channelID: row["c_channel_id"], externalID: row["c_external_id"],
                displayName: row["c_display_name"], username: row["c_username"], avatarURL: row["c_avatar_url"], email: row["c_email"],
                extras: row["c_extras"]),
            lastMessageAt: (row["last_message_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            waitingSince: (row["waiting_since"] as Double?).map(Date.init(timeIntervalSince1970:)),
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            divisionID: row["division_id"], lastAgentID: row["last_agent_id"], session: (row["session"] as Int?) ?? 1)
        if let requested = row["allocation_requested_at"] as Double? {
            room.allocationRequestedAt = requested < 0 ? .distantPast : Date(timeIntervalSince1970: requested)
        }
        room.title = row["title"]
        return room
    }

    static func message(_ row: Row) -> StoredMessage {
        let type = MessageType(rawValue: row["type"]) ?? .unsupported
        let content = decode(MessageContent.self, row["content"] as String?) ?? MessageContent(type: type, text: row["text"], url: row["url"])
        return StoredMessage(
            id: row["id"], roomID: row["room_id"], direction: MessageDirection(rawValue: row["direction"]) ?? .inbound,
            content: content, senderUserID: row["sender_user_id"], networkMessageID: row["network_message_id"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            deliveryStatus: DeliveryStatus(rawValue: row["delivery_status"]) ?? .received,
            attempts: row["attempts"], deliveryError: row["delivery_error"], sequence: row["id"],
            senderKeyID: row["sender_key_id"])
    }

    /// A due outbox row (joined with its room, message and sender).
    static func outboxItem(_ row: Row) -> OutboxItem? {
        let payload: OutboxItem.Payload
        if let messageID = row["message_id"] as Int64?, let content = Rows.decode(MessageContent.self, row["content"] as String?) {
            payload = .message(id: messageID, content: content)
        } else if let action = Rows.decode(AdapterAction.self, row["action"] as String?) {
            payload = .action(action)
        } else {
            return nil
        }
        return OutboxItem(
            id: row["id"], channelID: row["channel_id"], roomID: row["room_id"], conversationID: row["conversation_id"],
            payload: payload, partsDone: row["parts_done"], attempts: row["attempts"],
            lastInboundAt: (row["last_inbound_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            senderName: row["sender_name"], target: OutboxTarget(rawValue: row["target"]) ?? .channel)
    }

    static func roomCursor(_ room: Room) -> String { RoomFilter.cursor(of: room) }

    static func decodeRoomCursor(_ cursor: String) -> (Double, Int64)? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "|", maxSplits: 1)
        guard parts.count == 2, let time = Double(parts[0]), let id = Int64(parts[1]) else { return nil }
        return (time, id)
    }

    static func encode(_ value: some Encodable) -> String {
        encodeWithEncoder(value)
    }

    private static func encodeWithEncoder(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(value), as: UTF8.self)) ?? "{}"
    }

    /// A message's content, written directly (the same bytes as `encode`).
    static func encode(_ content: MessageContent) -> String {
        content.sortedJSON ?? encodeWithEncoder(content)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func encodeList(_ list: [String]) -> String { encode(list) }
    static func decodeList(_ text: String) -> [String] { decode([String].self, text) ?? [] }
}

extension Rows {
    static func division(_ row: Row) -> Division {
        Division(id: row["id"], name: row["name"], isDefault: row["is_default"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
    }
}
