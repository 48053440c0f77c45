import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

struct Credentials: Sendable {
    var user: User
    var passwordHash: String
}

// The store's logic, shared by both engines (SQLite: OmnichatStore; PostgreSQL:
// OmnichatPostgres compiles these same files against its own `Database`).
extension EngineStore {
    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT 1")) }
    }

    public func legacyID(kind: EntityKind, oldID: String) async throws -> Int64? {
        guard oldID.hasPrefix(kind.legacyPrefix) else { return nil }
        return try await pool.read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT new_id FROM legacy_ids WHERE kind = ? AND old_id = ?"), arguments: [kind.rawValue, oldID])
        }
    }

    // MARK: Ingest


    // MARK: Users and sessions

    public func createUser(_ new: NewUser) async throws -> User {
        var user = User(
            id: 0, email: new.email, name: new.name, role: new.role, online: false,
            channels: new.channels, maxOpenRooms: new.maxOpenRooms, createdAt: Date())
        let draft = user
        do {
            user.id = try await pool.write { db in
                try Int64.fetchOne(
                    db.cachedStatement(sql: """
                        INSERT INTO users (email, name, role, password_hash, online, channels, max_open_rooms, created_at)
                        VALUES (?, ?, ?, ?, 0, ?, ?, ?)
                        RETURNING id
                        """),
                    arguments: [
                        draft.email, draft.name, draft.role.rawValue, new.passwordHash,
                        draft.channels.map(Rows.encodeList), draft.maxOpenRooms, draft.createdAt.timeIntervalSince1970,
                    ]) ?? 0
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError(.conflict, "a user with email \(new.email) already exists")
        }
        return user
    }

    public func user(id: Int64) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.userSelect + " WHERE id = ?"), arguments: [id]).map(Rows.user)
        }
    }

    public func credentials(email: String) async throws -> (User, String)? {
        let found = try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.userSelect + " WHERE email = ?"), arguments: [email])
                .map { Credentials(user: Rows.user($0), passwordHash: $0["password_hash"]) }
        }
        return found.map { ($0.user, $0.passwordHash) }
    }

    public func countUsers(role: Role) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM users WHERE role = ?"), arguments: [role.rawValue]) ?? 0
        }
    }

    public func createSession(tokenHash: String, userID: Int64, expiresAt: Date) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)").execute(arguments: [tokenHash, userID, Date().timeIntervalSince1970, expiresAt.timeIntervalSince1970])
            // Housekeeping: expired sessions go.
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE expires_at < ?").execute(arguments: [Date().timeIntervalSince1970])
        }
    }

#if !OMNICHAT_POSTGRES  // PostgreSQL: native (OmnichatPostgres/PostgresConversation.swift)
    public func user(sessionTokenHash: String, now: Date) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT users.*, (SELECT group_concat(CAST(division_id AS TEXT)) FROM user_divisions WHERE user_id = users.id) AS division_ids
                    FROM sessions JOIN users ON users.id = sessions.user_id
                    WHERE sessions.token_hash = ? AND sessions.expires_at > ?
                    """),
                arguments: [sessionTokenHash, now.timeIntervalSince1970]
            ).map(Rows.user)
        }
    }
#endif

    public func deleteSession(tokenHash: String) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE token_hash = ?").execute(arguments: [tokenHash])
        }
    }

    public func setOnline(userID: Int64, online: Bool) async throws -> User {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET online = ? WHERE id = ?").execute(arguments: [online, userID])
            guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.userSelect + " WHERE id = ?"), arguments: [userID]) else {
                throw StoreError(.notFound, "no user \(userID)")
            }
            return Rows.user(row)
        }
    }

    // MARK: Rooms and messages

    static let userSelect = "SELECT users.*, (SELECT group_concat(CAST(division_id AS TEXT)) FROM user_divisions WHERE user_id = users.id) AS division_ids FROM users"

    static func fetchUser(_ db: Database, id: Int64) throws -> User? {
        try Row.fetchOne(db.cachedStatement(sql: userSelect + " WHERE id = ?"), arguments: [id]).map(Rows.user)
    }

    static let roomSelect = """
        SELECT rooms.*,
               contacts.id AS c_id, contacts.channel_id AS c_channel_id, contacts.external_id AS c_external_id,
               contacts.display_name AS c_display_name, contacts.username AS c_username,
               contacts.avatar_url AS c_avatar_url, contacts.email AS c_email, contacts.extras AS c_extras,
               users.id AS u_id, users.email AS u_email, users.name AS u_name, users.role AS u_role,
               users.online AS u_online, users.channels AS u_channels, users.max_open_rooms AS u_max_open_rooms,
               users.created_at AS u_created_at, users.open_rooms AS u_open_rooms
        FROM rooms
        JOIN contacts ON contacts.id = rooms.contact_id
        LEFT JOIN users ON users.id = rooms.assignee_id
        """

    public func rooms(_ filter: RoomFilter) async throws -> Page<Room> {
        var (clauses, arguments) = try Self.roomClauses(filter)
        if let cursor = filter.cursor {
            guard let (time, id) = Rows.decodeRoomCursor(cursor) else {
                throw StoreError(.invalid, "cursor is not one this server gave")
            }
            clauses.append("(rooms.last_message_at < ? OR (rooms.last_message_at = ? AND rooms.id < ?))")
            arguments += [time, time, id]
        }
        let backwards = filter.cursorBefore != nil
        if let cursor = filter.cursorBefore {
            guard let (time, id) = Rows.decodeRoomCursor(cursor) else {
                throw StoreError(.invalid, "cursor is not one this server gave")
            }
            clauses.append("(rooms.last_message_at > ? OR (rooms.last_message_at = ? AND rooms.id > ?))")
            arguments += [time, time, id]
        }
        let limit = max(1, min(filter.limit, 500))
        let order = backwards ? "ASC" : "DESC"
        let sql = Self.roomSelect + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
            + " ORDER BY rooms.last_message_at \(order), rooms.id \(order) LIMIT \(limit + 1)"
        let finalArguments = arguments
        let rows = try await pool.read { db in
            db.add(function: Self.fold)  // for `text`
            return try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Rows.room)
        }
        if backwards {
            // The rooms just above the cursor, read upwards, shown newest first.
            let items = Array(rows.prefix(limit).reversed())
            return Page(items: items, nextCursor: rows.count > limit ? items.first.map(Rows.roomCursor) : nil)
        }
        let items = Array(rows.prefix(limit))
        let next = rows.count > limit ? items.last.map(Rows.roomCursor) : nil
        return Page(items: items, nextCursor: next)
    }

#if !OMNICHAT_POSTGRES  // PostgreSQL: native (OmnichatPostgres/PostgresConversation.swift)
    public func room(id: Int64) async throws -> Room? {
        try await pool.read { db in try Self.fetchRoom(db, id: id) }
    }
#endif

    static func fetchRoom(_ db: Database, id: Int64) throws -> Room? {
        try Row.fetchOne(db.cachedStatement(sql: roomSelect + " WHERE rooms.id = ?"), arguments: [id]).map(Rows.room)
    }

    public func messages(roomID: Int64, cursor: String?, limit: Int) async throws -> Page<StoredMessage> {
        var start: Int64 = 0
        if let cursor {
            guard let value = Int64(cursor), value >= 0 else { throw StoreError(.invalid, "cursor is not one this server gave") }
            start = value
        }
        let after = start
        let limit = max(1, min(limit, 500))
        let rows = try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT * FROM messages WHERE room_id = ? AND id > ? ORDER BY id LIMIT ?"),
                arguments: [roomID, after, limit + 1]
            ).map(Rows.message)
        }
        let items = Array(rows.prefix(limit))
        return Page(items: items, nextCursor: rows.count > limit ? items.last.map { String($0.sequence) } : nil)
    }

#if !OMNICHAT_POSTGRES  // PostgreSQL: native (OmnichatPostgres/PostgresConversation.swift)
    public func addOutbound(roomID: Int64, content: MessageContent, senderUserID: Int64?, senderKeyID: Int64?) async throws -> StoredMessage {
        let now = Date()
        return try await batcher.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM rooms WHERE id = ?"), arguments: [roomID]) != nil else {
                throw StoreError(.notFound, "no room \(roomID)")
            }
            let id = try Int64.fetchOne(
                db.cachedStatement(sql: """
                    INSERT INTO messages (room_id, direction, type, text, url, content, sender_user_id, sender_key_id, created_at, delivery_status)
                    VALUES (?, 'outbound', ?, ?, ?, ?, ?, ?, ?, 'pending')
                    RETURNING id
                    """),
                arguments: [
                    roomID, content.type.rawValue, content.text, content.url, Rows.encode(content), senderUserID, senderKeyID,
                    now.timeIntervalSince1970,
                ]) ?? 0
            try db.cachedStatement(sql: """
                    INSERT INTO outbox (room_id, channel_id, message_id, next_attempt_at, created_at)
                    SELECT id, channel_id, ?, ?, ? FROM rooms WHERE id = ?
                    """).execute(arguments: [id, now.timeIntervalSince1970, now.timeIntervalSince1970, roomID])
            return StoredMessage(
                id: id, roomID: roomID, direction: .outbound, content: content, senderUserID: senderUserID,
                networkMessageID: nil, createdAt: now, deliveryStatus: .pending, attempts: 0, deliveryError: nil, sequence: id,
                senderKeyID: senderKeyID)
        }
    }
#endif

    public func message(id: Int64) async throws -> (StoredMessage, Room)? {
        let found = try await pool.read { db -> MessageInRoom? in
            guard let message = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM messages WHERE id = ?"), arguments: [id]).map(Rows.message),
                let room = try Self.fetchRoom(db, id: message.roomID)
            else { return nil }
            return MessageInRoom(message: message, room: room)
        }
        return found.map { ($0.message, $0.room) }
    }

    private struct MessageInRoom: Sendable {
        var message: StoredMessage
        var room: Room
    }

    public func resolve(roomID: Int64, by actor: String) async throws -> Room {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            guard let room = try Self.fetchRoom(db, id: roomID) else { throw StoreError(.notFound, "no room \(roomID)") }
            if room.status == .resolved { return room }
            try db.cachedStatement(sql: "UPDATE rooms SET status = 'resolved', resolved_at = ?, waiting_since = NULL, last_agent_id = coalesce(assignee_id, last_agent_id) WHERE id = ?").execute(arguments: [now, roomID])
            if room.status == .assigned, let agent = room.assignee?.id {
                try db.cachedStatement(sql: "UPDATE users SET open_rooms = max(open_rooms - 1, 0) WHERE id = ?").execute(arguments: [agent])
            }
            try Self.recordTransition(db, roomID: roomID, from: room.status, to: .resolved, assignee: room.assignee?.id, actor: actor, at: now)
            return try Self.fetchRoom(db, id: roomID)!
        }
    }

    static func recordTransition(
        _ db: Database, roomID: Int64, from: RoomStatus?, to: RoomStatus, assignee: Int64?, actor: String, at: TimeInterval
    ) throws {
        try db.cachedStatement(sql: "INSERT INTO room_events (room_id, from_status, to_status, assignee_id, actor, at) VALUES (?, ?, ?, ?, ?, ?)").execute(arguments: [roomID, from?.rawValue, to.rawValue, assignee, actor, at])
    }

    // MARK: Test and operations helpers

    /// Number of stored messages in all rooms (for tests and reports).
    public func countMessages(direction: MessageDirection? = nil) async throws -> Int {
        try await pool.read { db in
            if let direction {
                return try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM messages WHERE direction = ?"), arguments: [direction.rawValue]) ?? 0
            }
            return try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM messages")) ?? 0
        }
    }
}
