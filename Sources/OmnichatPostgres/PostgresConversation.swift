import Foundation
import OmnichatCore
import PostgresNIO

/// What every agent request and reply reads and writes, on the native client:
/// the session behind a token, a room, and a reply with its outbox row. One
/// statement each (the reply's two inserts are one CTE). Rows are read into the
/// shared decoders' `Row` (`Rows.user`, `Rows.room`) so both engines build
/// users and rooms one way.
extension PostgresStore {
    public func user(sessionTokenHash: String, now: Date) async throws -> User? {
        let at = now.timeIntervalSince1970
        return try await native.run("reading a session") { connection in
            let rows = try await connection.statement(
                """
                SELECT users.*,
                    (SELECT string_agg(CAST(division_id AS TEXT), ',' ORDER BY division_id) FROM user_divisions WHERE user_id = users.id)
                        AS division_ids
                FROM sessions JOIN users ON users.id = sessions.user_id
                WHERE sessions.token_hash = \(sessionTokenHash) AND sessions.expires_at > \(at)
                """)
            for try await row in rows { return Rows.user(Database.decode(row)) }
            return nil
        }
    }

    public func room(id: Int64) async throws -> Room? {
        var binds = PostgresBindings(capacity: 1)
        binds.append(id)
        let query = PostgresQuery(unsafeSQL: Self.roomSelect + " WHERE rooms.id = $1", binds: binds)
        return try await native.run("reading a room") { connection in
            for try await row in try await connection.statement(query) { return Rows.room(Database.decode(row)) }
            return nil
        }
    }

    /// The reply and its outbox row, in one statement: both or neither.
    public func addOutbound(roomID: Int64, content: MessageContent, senderUserID: Int64?, senderKeyID: Int64?) async throws -> StoredMessage {
        let now = Date()
        let at = now.timeIntervalSince1970
        let type = content.type.rawValue
        let text = PostgresIngestRequest.clean(content.text)
        let url = PostgresIngestRequest.clean(content.url)
        let encoded = PostgresIngestRequest.clean(Rows.encode(content))
        let id = try await native.run("storing a reply") { connection -> Int64? in
            let rows = try await connection.statement(
                """
                WITH message AS (
                    INSERT INTO messages (room_id, direction, type, text, url, content, sender_user_id, sender_key_id, created_at, delivery_status)
                    SELECT id, 'outbound', \(type), \(text), \(url), \(encoded), \(senderUserID), \(senderKeyID), \(at), 'pending'
                    FROM rooms WHERE id = \(roomID)
                    RETURNING id, room_id
                ), queued AS (
                    INSERT INTO outbox (room_id, channel_id, message_id, next_attempt_at, created_at)
                    SELECT rooms.id, rooms.channel_id, message.id, \(at), \(at) FROM message JOIN rooms ON rooms.id = message.room_id
                )
                SELECT id FROM message
                """)
            for try await id in rows.decode(Int64.self) { return id }
            return nil
        }
        guard let id else { throw StoreError(.notFound, "no room \(roomID)") }
        return StoredMessage(
            id: id, roomID: roomID, direction: .outbound, content: content, senderUserID: senderUserID,
            networkMessageID: nil, createdAt: now, deliveryStatus: .pending, attempts: 0, deliveryError: nil, sequence: id,
            senderKeyID: senderKeyID)
    }
}
