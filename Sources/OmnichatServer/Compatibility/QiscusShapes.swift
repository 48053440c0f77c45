import Foundation
import OmnichatCore

/// The hosted product's (Qiscus Multichannel's) shapes, as the services written
/// for it decode them (`docs/qiscus-compatibility.md`): agent rows, services
/// (a room's conversation sessions), rooms, user types, channel sources.
enum Qiscus {
    /// The hosted product's name for a channel's network: `wa`, `fb`, `line`,
    /// `telegram`; a custom channel is named by its own id; `qiscus` is its
    /// web widget.
    static func source(kind: String, channelID: String) -> String {
        switch kind {
        case "whatsapp": "wa"
        case "messenger": "fb"
        case "line": "line"
        case "telegram": "telegram"
        case "web", "widget": "qiscus"
        default: channelID
        }
    }

    /// User types as integers: 1 admin, 2 agent, 3 supervisor.
    static func type(_ role: Role) -> Int {
        switch role {
        case .admin: 1
        case .agent: 2
        case .supervisor: 3
        }
    }

    /// An agent row, as every agent list and the allocation webhook carry it.
    static func agent(_ user: User, channels: [String: Int64] = [:], allChannels: [String] = []) -> [String: Any] {
        let served = (user.channels ?? allChannels).compactMap { id in channels[id].map { ["id": $0, "name": id] as [String: Any] } }
        return [
            "id": user.id, "name": user.name, "email": user.email, "avatar_url": "",
            "created_at": user.createdAt.iso8601, "updated_at": user.createdAt.iso8601,
            "current_customer_count": user.openRooms, "force_offline": !user.active, "is_available": user.online && user.active,
            "is_verified": !user.invitationPending, "last_login": NSNull(), "sdk_email": user.email, "sdk_key": "",
            "type": type(user.role), "type_as_string": user.role.rawValue,
            "user_channels": served, "user_roles": [["id": type(user.role), "name": user.role.rawValue] as [String: Any]],
            "assigned_rules": [Any](), "is_supervisor": user.role == .supervisor,
        ]
    }

    /// A service: one conversation session of a room. Its id is the room's id
    /// times 10,000 plus the session's number (stable, unique while a room has
    /// fewer than 10,000 sessions).
    static func serviceID(room: Int64, session: Int) -> Int64 { room * 10_000 + Int64(session) }

    static func service(
        room: Room, session: RoomSession, notes: String? = nil, firstComment: Int64? = nil, lastComment: Int64? = nil, source: String? = nil
    ) -> [String: Any] {
        var out: [String: Any] = [
            "id": serviceID(room: room.id, session: session.number), "room_id": String(room.id),
            "user_id": JSONBody.null(session.agentIDs.last), "is_resolved": session.endedAt != nil,
            "notes": JSONBody.null(notes), "created_at": session.startedAt.iso8601,
            "updated_at": (session.endedAt ?? session.startedAt).iso8601, "resolved_at": JSONBody.null(session.endedAt?.iso8601),
            "first_comment_id": firstComment.map(String.init) ?? "", "last_comment_id": lastComment.map(String.init) ?? "",
        ]
        if let source { out["source"] = source }
        return out
    }

    /// The customer's extras as the hosted product sends them: a JSON object
    /// encoded as a string; properties set through the API ride along as
    /// `additional_info` (`[{"key","value"}]`).
    static func extras(_ contact: Contact, properties: [CustomerProperty]) -> String {
        var object = contact.extras.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] } ?? [:]
        if !properties.isEmpty { object["additional_info"] = additionalInfo(properties) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func additionalInfo(_ properties: [CustomerProperty]) -> [[String: String]] {
        properties.map { ["key": $0.key, "value": $0.value] }
    }

    /// A room as the hosted product's room lists give it.
    static func customerRoom(_ room: Room, source: String, channelNumber: Int64?) -> [String: Any] {
        [
            "id": room.id, "room_id": String(room.id), "room_id_str": String(room.id), "name": room.contact.displayName ?? room.contact.externalID,
            "source": source, "channel_id": JSONBody.null(channelNumber), "channel": room.channelID,
            "is_resolved": room.status == .resolved, "is_waiting": room.status == .waiting,
            "is_handled_by_bot": room.status == .bot, "status": room.status.rawValue,
            "user_id": room.contact.externalID, "user_avatar_url": room.contact.avatarURL ?? "",
            "assignee_id": JSONBody.null(room.assignee?.id),
            "last_comment_timestamp": JSONBody.null(room.lastMessageAt?.iso8601), "created_at": room.createdAt.iso8601,
            "extras": room.contact.extras ?? "{}",
        ]
    }
}
