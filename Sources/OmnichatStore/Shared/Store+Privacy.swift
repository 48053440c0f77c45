import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

// Retention and data-subject requests (both engines). Personal data is
// scrubbed from the rows reports count (a message keeps its room, direction,
// type, sender and times), so reports over erased or expired data keep their
// figures; rows that only carry personal data are deleted.
extension EngineStore {
    /// A scrubbed message's content: its type and the mark, nothing else.
    static let erasedContent = "'{\"erased\":true,\"type\":\"' || type || '\"}'"

    public func applyRetention(_ policy: RetentionPolicy, now: Date, batchSize: Int, cursor: RetentionCursor) async throws -> RetentionPass {
        let limit = max(1, batchSize)
        let day = 86_400.0
        let clock = now.timeIntervalSince1970
        return try await pool.write { db in
            var pass = RetentionPass()
            pass.cursor = cursor
            if let days = policy.messagesDays {
                let before = clock - Double(days) * day
                let ids = try Int64.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT id FROM messages WHERE id > ? AND created_at < ? AND content NOT LIKE '{"erased":true%'
                            ORDER BY id LIMIT ?
                            """), arguments: [cursor.messages, before, limit])
                for id in ids {
                    try db.cachedStatement(
                        sql: "UPDATE messages SET text = NULL, url = NULL, raw = NULL, content = \(Self.erasedContent) WHERE id = ?"
                    ).execute(arguments: [id])
                }
                pass.messages = ids.count
                if let last = ids.last { pass.cursor.messages = last }
                // Internal notes about customers, and the raw payloads of events that left no message.
                try db.cachedStatement(
                    sql: "DELETE FROM notes WHERE id IN (SELECT id FROM notes WHERE created_at < ? ORDER BY id LIMIT ?)"
                ).execute(arguments: [before, limit])
                let notes = db.changesCount
                // Notices name people (who blocked the bot, who joined a group): they go with the messages.
                try db.cachedStatement(
                    sql: "DELETE FROM room_notices WHERE id IN (SELECT id FROM room_notices WHERE at < ? ORDER BY id LIMIT ?)"
                ).execute(arguments: [before, limit])
                let notices = db.changesCount
                try db.cachedStatement(
                    sql: """
                        UPDATE processed_events SET raw = NULL WHERE (channel_id, event_id) IN
                            (SELECT channel_id, event_id FROM processed_events WHERE raw IS NOT NULL AND received_at < ? LIMIT ?)
                        """
                ).execute(arguments: [before, limit])
                let raws = db.changesCount
                if ids.count == limit || notes == limit || notices == limit || raws == limit { pass.done = false }
            }
            if let days = policy.mediaDays {
                let before = clock - Double(days) * day
                let rows = try Row.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT id, content FROM messages
                            WHERE id > ? AND created_at < ? AND (url IS NOT NULL OR content LIKE '%"url":%' OR content LIKE '%"media_id":%')
                            ORDER BY id LIMIT ?
                            """), arguments: [cursor.media, before, limit])
                for row in rows {
                    let id: Int64 = row["id"]
                    guard var content = Rows.decode(MessageContent.self, row["content"] as String?) else { continue }
                    content.url = nil
                    content.mediaID = nil
                    try db.cachedStatement(sql: "UPDATE messages SET url = NULL, content = ? WHERE id = ?")
                        .execute(arguments: [Rows.encode(content), id])
                }
                pass.media = rows.count
                if let last = rows.last { pass.cursor.media = last["id"] }
                if rows.count == limit { pass.done = false }
            }
            if let days = policy.deliveryLogsDays {
                let before = clock - Double(days) * day
                try db.cachedStatement(
                    sql: """
                        DELETE FROM outbox WHERE id IN
                            (SELECT id FROM outbox WHERE status IN ('delivered', 'failed') AND created_at < ? ORDER BY id LIMIT ?)
                        """
                ).execute(arguments: [before, limit])
                pass.deliveries = db.changesCount
                if pass.deliveries == limit { pass.done = false }
            }
            if let days = policy.auditLogDays {
                let before = clock - Double(days) * day
                try db.cachedStatement(
                    sql: "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? ORDER BY id LIMIT ?)"
                ).execute(arguments: [before, limit])
                pass.auditEntries = db.changesCount
                if pass.auditEntries == limit { pass.done = false }
            }
            return pass
        }
    }

    public func eraseContact(id: Int64, now: Date) async throws -> ContactErasure {
        try await pool.write { db in
            guard let contact = try Row.fetchOne(db.cachedStatement(sql: "SELECT channel_id, external_id FROM contacts WHERE id = ?"), arguments: [id])
            else { throw StoreError(.notFound, "no contact \(id)") }
            let open = try Int64.fetchAll(
                db.cachedStatement(sql: "SELECT id FROM rooms WHERE contact_id = ? AND status <> 'resolved' ORDER BY id"), arguments: [id])
            if !open.isEmpty {
                throw StoreError(
                    .conflict,
                    "contact \(id) has open rooms (\(open.map(String.init).joined(separator: ", "))); resolve them before erasing the customer")
            }
            let rooms = "(SELECT id FROM rooms WHERE contact_id = ?)"
            let roomCount = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM rooms WHERE contact_id = ?"), arguments: [id]) ?? 0
            try db.cachedStatement(
                sql: """
                    UPDATE messages SET text = NULL, url = NULL, raw = NULL, network_message_id = NULL, content = \(Self.erasedContent)
                    WHERE room_id IN \(rooms)
                    """
            ).execute(arguments: [id])
            let messages = db.changesCount
            try db.cachedStatement(sql: "DELETE FROM notes WHERE room_id IN \(rooms)").execute(arguments: [id])
            let notes = db.changesCount
            try db.cachedStatement(sql: "DELETE FROM room_notices WHERE room_id IN \(rooms)").execute(arguments: [id])
            try Self.detach(db, contactID: id)
            try db.cachedStatement(sql: "DELETE FROM contact_properties WHERE contact_id = ?").execute(arguments: [id])
            let properties = db.changesCount
            // Merchant webhooks about these rooms carry the customer's profile: dropped.
            // A reply still waiting would go out empty: failed, with the reason.
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE message_id IS NULL AND room_id IN \(rooms)").execute(arguments: [id])
            try db.cachedStatement(
                sql: "UPDATE outbox SET status = 'failed', last_error = 'the customer was erased' WHERE status = 'pending' AND room_id IN \(rooms)"
            ).execute(arguments: [id])
            try db.cachedStatement(
                sql: "UPDATE rooms SET conversation_id = 'erased-' || CAST(id AS TEXT), reply_context = NULL WHERE contact_id = ?"
            ).execute(arguments: [id])
            try db.cachedStatement(
                sql: """
                    UPDATE contacts SET external_id = 'erased-' || CAST(id AS TEXT), display_name = NULL, username = NULL,
                        avatar_url = NULL, email = NULL, extras = NULL, updated_at = ?
                    WHERE id = ?
                    """
            ).execute(arguments: [now.timeIntervalSince1970, id])
            // Raw payloads of events that left no message (receipts, edits) name the customer's network id.
            let externalID: String = contact["external_id"]
            let pattern = "%" + externalID.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_") + "%"
            try db.cachedStatement(
                sql: "UPDATE processed_events SET raw = NULL WHERE channel_id = ? AND raw IS NOT NULL AND raw LIKE ? ESCAPE '\\'"
            ).execute(arguments: [contact["channel_id"] as String, pattern])
            return ContactErasure(contactID: id, rooms: roomCount, messages: messages, notes: notes, properties: properties)
        }
    }

    public func exportContact(id: Int64) async throws -> ContactExport? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM contacts WHERE id = ?"), arguments: [id]) else { return nil }
            let contact = Contact(
                id: row["id"], channelID: row["channel_id"], externalID: row["external_id"], displayName: row["display_name"],
                username: row["username"], avatarURL: row["avatar_url"], email: row["email"], extras: row["extras"])
            let rooms = try Row.fetchAll(
                db.cachedStatement(sql: Self.roomSelect + " WHERE rooms.contact_id = ? ORDER BY rooms.id"), arguments: [id]
            ).map(Rows.room)
            let messages = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM messages WHERE room_id IN (SELECT id FROM rooms WHERE contact_id = ?) ORDER BY id"),
                arguments: [id]
            ).map(Rows.message)
            let notes = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM notes WHERE room_id IN (SELECT id FROM rooms WHERE contact_id = ?) ORDER BY id"),
                arguments: [id]
            ).map { note in
                ExportedNote(
                    id: note["id"], roomID: note["room_id"], authorID: note["author_id"], text: note["text"],
                    createdAt: Date(timeIntervalSince1970: note["created_at"]))
            }
            return ContactExport(
                contact: contact, createdAt: Date(timeIntervalSince1970: row["created_at"]), properties: try Self.properties(db, contactID: id),
                rooms: rooms, messages: messages, notes: notes)
        }
    }
}
