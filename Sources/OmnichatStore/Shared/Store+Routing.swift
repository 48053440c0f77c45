import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

/// Allocation's effects. Every change of who has a room is one conditional
/// statement plus the agents' load counters in the same transaction, so no
/// interleaving of decisions (here or in another process) can put an agent
/// above capacity or give a room two agents.
extension EngineStore {
    public func waitingRooms(limit: Int, offset: Int) async throws -> [Room] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: Self.roomSelect + " WHERE rooms.status = 'waiting' ORDER BY rooms.waiting_since, rooms.id LIMIT ? OFFSET ?"),
                arguments: [limit, offset]
            ).map(Rows.room)
        }
    }

    /// Reads the load index (users by online, open_rooms, last_assigned_at) in
    /// order, so the least busy agents come first without scanning rooms.
    public func eligibleAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad] {
        try await agents(channelID: channelID, divisionID: divisionID, defaultCapacity: defaultCapacity, includeFull: false)
    }

    public func hasFreeAgent(defaultCapacity: Int) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(
                db.cachedStatement(sql: """
                    SELECT EXISTS (SELECT 1 FROM users INDEXED BY users_by_load
                                   WHERE online = 1 AND open_rooms < coalesce(max_open_rooms, ?))
                    """), arguments: [defaultCapacity]) ?? false
        }
    }

    public func candidateAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad] {
        try await agents(channelID: channelID, divisionID: divisionID, defaultCapacity: defaultCapacity, includeFull: true)
    }

    public func countRooms(status: RoomStatus) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM rooms WHERE status = ?"), arguments: [status.rawValue]) ?? 0
        }
    }

    /// Walks the load index (online, open_rooms, last_assigned_at, id) in order,
    /// a page at a time, so the least busy agents come first without sorting
    /// or scanning rooms; a page only grows when its agents serve other channels.
    func agents(channelID: String, divisionID: Int64?, defaultCapacity: Int, includeFull: Bool) async throws -> [AgentLoad] {
        try await pool.read { db in
            let defaultID = try Self.defaultDivisionID(db)
            let division = divisionID ?? defaultID
            let statement = try db.cachedStatement(
                sql: """
                    SELECT users.id, users.channels, users.max_open_rooms, users.last_assigned_at, users.open_rooms
                    FROM users INDEXED BY users_by_load
                    WHERE users.online = 1
                      AND (?4 OR users.open_rooms < coalesce(users.max_open_rooms, ?1))
                      AND (EXISTS (SELECT 1 FROM user_divisions d WHERE d.user_id = users.id AND d.division_id = ?2)
                           OR (?3 AND NOT EXISTS (SELECT 1 FROM user_divisions d WHERE d.user_id = users.id)))
                    ORDER BY users.open_rooms, users.last_assigned_at, users.id
                    LIMIT ?5 OFFSET ?6
                    """)
            var found: [AgentLoad] = []
            var offset = 0
            let page = includeFull ? 1_000 : 16
            while true {
                let rows = try Row.fetchAll(statement, arguments: [defaultCapacity, division, division == defaultID, includeFull, page, offset])
                for row in rows {
                    if let text = row["channels"] as String?, !Rows.decodeList(text).contains(channelID) { continue }
                    found.append(
                        AgentLoad(
                            userID: row["id"], openRooms: row["open_rooms"], capacity: (row["max_open_rooms"] as Int?) ?? defaultCapacity,
                            lastAssignedAt: (row["last_assigned_at"] as Double?).map(Date.init(timeIntervalSince1970:))))
                }
                // Allocation needs the best few; listing (includeFull) needs them all.
                if rows.count < page || (!includeFull && found.count >= 4) { break }
                offset += page
            }
            return found
        }
    }

    static func defaultDivisionID(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM divisions WHERE is_default = 1 LIMIT 1")) ?? 1
    }

    public func assign(roomID: Int64, to userID: Int64, capacity: Int, actor: String, replace: Bool, force: Bool) async throws -> RoomTransition? {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db -> RoomTransition? in
            guard let room = try Self.fetchRoom(db, id: roomID) else { throw StoreError(.notFound, "no room \(roomID)") }
            let previous = room.assignee?.id
            if previous == userID && room.status == .assigned { return nil }
            let allowed = replace ? "status IN ('waiting', 'assigned', 'bot')" : "status = 'waiting' AND assignee_id IS NULL"
            try db.execute(
                sql: """
                    UPDATE rooms SET status = 'assigned', assignee_id = ?1, waiting_since = NULL
                    WHERE id = ?2 AND \(allowed)
                      AND EXISTS (SELECT 1 FROM users WHERE id = ?1 AND (online = 1 OR ?4) AND (open_rooms < ?3 OR ?4))
                    """,
                arguments: [userID, roomID, capacity, force])
            guard db.changesCount == 1 else { return nil }
            try db.cachedStatement(sql: "UPDATE users SET open_rooms = open_rooms + 1, last_assigned_at = ? WHERE id = ?").execute(arguments: [now, userID])
            if room.status == .assigned, let previous {
                try db.cachedStatement(sql: "UPDATE users SET open_rooms = max(open_rooms - 1, 0) WHERE id = ?").execute(arguments: [previous])
            }
            try Self.recordTransition(db, roomID: roomID, from: room.status, to: .assigned, assignee: userID, actor: actor, at: now)
            return RoomTransition(
                roomID: roomID, channelID: room.channelID, from: room.status, to: .assigned, assigneeID: userID,
                divisionID: room.divisionID, actor: actor, at: Date(timeIntervalSince1970: now))
        }
    }

    public func requeue(roomID: Int64, divisionID: Int64?, actor: String) async throws -> RoomTransition {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            guard let room = try Self.fetchRoom(db, id: roomID) else { throw StoreError(.notFound, "no room \(roomID)") }
            guard room.status != .resolved else { throw StoreError(.conflict, "room \(roomID) is resolved") }
            if let divisionID {
                guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM divisions WHERE id = ?"), arguments: [divisionID]) != nil else {
                    throw StoreError(.notFound, "no division \(divisionID)")
                }
            }
            try db.cachedStatement(sql: """
                    UPDATE rooms SET status = 'waiting', assignee_id = NULL, division_id = coalesce(?, division_id), allocation_requested_at = NULL,
                        waiting_since = coalesce(waiting_since, ?)
                    WHERE id = ?
                    """).execute(arguments: [divisionID, now, roomID])
            if room.status == .assigned, let agent = room.assignee?.id {
                try db.cachedStatement(sql: "UPDATE users SET open_rooms = max(open_rooms - 1, 0) WHERE id = ?").execute(arguments: [agent])
            }
            try Self.recordTransition(db, roomID: roomID, from: room.status, to: .waiting, assignee: nil, actor: actor, at: now)
            return RoomTransition(
                roomID: roomID, channelID: room.channelID, from: room.status, to: .waiting, assigneeID: nil,
                divisionID: divisionID ?? room.divisionID, actor: actor, at: Date(timeIntervalSince1970: now))
        }
    }

    public func returnRooms(userID: Int64, actor: String) async throws -> [RoomTransition] {
        let ids = try await pool.read { db in
            try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM rooms WHERE assignee_id = ? AND status = 'assigned' ORDER BY id"), arguments: [userID])
        }
        var transitions: [RoomTransition] = []
        for id in ids { transitions.append(try await requeue(roomID: id, divisionID: nil, actor: actor)) }
        return transitions
    }

    public func setCapacity(userID: Int64, maxOpenRooms: Int?) async throws -> User {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET max_open_rooms = ? WHERE id = ?").execute(arguments: [maxOpenRooms, userID])
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            return user
        }
    }

    public func setChannels(userID: Int64, channels: [String]?) async throws -> User {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET channels = ? WHERE id = ?").execute(arguments: [channels.map(Rows.encodeList), userID])
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            return user
        }
    }

    public func transitions(roomID: Int64) async throws -> [RoomTransition] {
        try await pool.read { db in
            let channel = try String.fetchOne(db.cachedStatement(sql: "SELECT channel_id FROM rooms WHERE id = ?"), arguments: [roomID]) ?? ""
            return try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM room_events WHERE room_id = ? ORDER BY id"), arguments: [roomID]).map { row in
                RoomTransition(
                    roomID: roomID, channelID: channel, from: (row["from_status"] as String?).flatMap(RoomStatus.init(rawValue:)),
                    to: RoomStatus(rawValue: row["to_status"]) ?? .waiting, assigneeID: row["assignee_id"], actor: row["actor"],
                    at: Date(timeIntervalSince1970: row["at"]))
            }
        }
    }

    // MARK: Divisions

    public func divisions() async throws -> [Division] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM divisions ORDER BY is_default DESC, name")).map(Rows.division)
        }
    }

    public func createDivision(name: String) async throws -> Division {
        var division = Division(id: 0, name: name, isDefault: false, createdAt: Date())
        let createdAt = division.createdAt.timeIntervalSince1970
        do {
            division.id = try await pool.write { db in
                try Int64.fetchOne(
                    db.cachedStatement(sql: "INSERT INTO divisions (name, is_default, created_at) VALUES (?, 0, ?) RETURNING id"),
                    arguments: [name, createdAt]) ?? 0
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError(.conflict, "a division named \(name) already exists")
        }
        return division
    }

    public func setDefaultDivision(id: Int64) async throws {
        try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM divisions WHERE id = ?"), arguments: [id]) != nil else {
                throw StoreError(.notFound, "no division \(id)")
            }
            try db.cachedStatement(sql: "UPDATE divisions SET is_default = CASE WHEN id = ? THEN 1 ELSE 0 END").execute(arguments: [id])
        }
    }

    public func setUserDivisions(userID: Int64, divisionIDs: [Int64]) async throws -> User {
        try await pool.write { db in
            for id in divisionIDs where try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM divisions WHERE id = ?"), arguments: [id]) == nil {
                throw StoreError(.notFound, "no division \(id)")
            }
            try db.cachedStatement(sql: "DELETE FROM user_divisions WHERE user_id = ?").execute(arguments: [userID])
            for id in Set(divisionIDs) {
                try db.cachedStatement(sql: "INSERT INTO user_divisions (user_id, division_id) VALUES (?, ?)").execute(arguments: [userID, id])
            }
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            return user
        }
    }

    // MARK: Settings and API keys

    public func settings() async throws -> [String: String] {
        try await pool.read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db.cachedStatement(sql: "SELECT key, value FROM settings")).map { ($0["key"] as String, $0["value"] as String) })
        }
    }

    public func setSettings(_ values: [String: String]) async throws {
        try await pool.write { db in
            for (key, value) in values {
                try db.cachedStatement(sql: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").execute(arguments: [key, value])
            }
        }
    }

    public func createAPIKey(name: String, scope: APIKey.Scope, keyHash: String) async throws -> APIKey {
        var key = APIKey(id: 0, name: name, scope: scope, createdAt: Date())
        let createdAt = key.createdAt.timeIntervalSince1970
        key.id = try await pool.write { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "INSERT INTO api_keys (name, scope, key_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id"),
                arguments: [name, scope.rawValue, keyHash, createdAt]) ?? 0
        }
        return key
    }

    public func apiKey(keyHash: String) async throws -> APIKey? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"), arguments: [keyHash]).map { row in
                APIKey(
                    id: row["id"], name: row["name"], scope: APIKey.Scope(rawValue: row["scope"]) ?? .read,
                    createdAt: Date(timeIntervalSince1970: row["created_at"]))
            }
        }
    }
}

extension EngineStore {
    public func enqueueWebhook(roomID: Int64, target: OutboxTarget, action: AdapterAction) async throws {
        let now = Date().timeIntervalSince1970
        try await pool.write { db in
            try db.cachedStatement(sql: """
                    INSERT INTO outbox (room_id, channel_id, action, target, next_attempt_at, created_at)
                    SELECT id, channel_id, ?, ?, ?, ? FROM rooms WHERE id = ?
                    """).execute(arguments: [Rows.encode(action), target.rawValue, now, now, roomID])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no room \(roomID)") }
        }
    }

    public func markAllocationRequested(roomID: Int64, at: Date?) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE rooms SET allocation_requested_at = ? WHERE id = ?").execute(arguments: [at.map { $0 == .distantPast ? -1 : $0.timeIntervalSince1970 }, roomID])
        }
    }

    public func allocationOverdue(before: Date, limit: Int) async throws -> [Room] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: Self.roomSelect
                    + " WHERE rooms.status = 'waiting' AND rooms.allocation_requested_at > 0 AND rooms.allocation_requested_at < ? ORDER BY rooms.waiting_since LIMIT ?"),
                arguments: [before.timeIntervalSince1970, limit]
            ).map(Rows.room)
        }
    }

    public func handover(roomID: Int64, divisionID: Int64?, note: String?, actor: String) async throws -> RoomTransition {
        let room = try await self.room(id: roomID)
        guard let room else { throw StoreError(.notFound, "no room \(roomID)") }
        guard room.status == .bot else { throw StoreError(.conflict, "room \(roomID) is \(room.status.rawValue), not with a bot") }
        let transition = try await requeue(roomID: roomID, divisionID: divisionID, actor: actor)
        if let note {
            try await pool.write { db in
                try db.cachedStatement(sql: "UPDATE room_events SET note = ? WHERE id = (SELECT max(id) FROM room_events WHERE room_id = ?)").execute(arguments: [note, roomID])
            }
        }
        return transition
    }
}
