import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

enum TeamSchema {
    /// The password hash of a user invited who has not chosen a password yet
    /// (no bcrypt hash is empty, so nothing verifies against it).
    static let noPassword = ""
}

extension EngineStore {
    // MARK: Sessions and passwords

    public func rotateSession(oldTokenHash: String, newTokenHash: String, expiresAt: Date, now: Date) async throws -> User? {
        try await pool.write { db in
            guard
                let userID = try Int64.fetchOne(
                    db.cachedStatement(sql: """
                        SELECT sessions.user_id FROM sessions JOIN users ON users.id = sessions.user_id
                        WHERE sessions.token_hash = ? AND sessions.expires_at > ? AND users.active = 1
                        """),
                    arguments: [oldTokenHash, now.timeIntervalSince1970])
            else { return nil }
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE token_hash = ?").execute(arguments: [oldTokenHash])
            try db.cachedStatement(sql: "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)").execute(arguments: [newTokenHash, userID, now.timeIntervalSince1970, expiresAt.timeIntervalSince1970])
            return try Self.fetchUser(db, id: userID)
        }
    }

    public func deleteSessions(userID: Int64, except tokenHash: String?) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "DELETE FROM sessions WHERE user_id = ? AND token_hash IS DISTINCT FROM ?").execute(arguments: [userID, tokenHash])
        }
    }

    public func passwordHash(userID: Int64) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT password_hash FROM users WHERE id = ?"), arguments: [userID])
        }
    }

    public func setPassword(userID: Int64, passwordHash: String) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET password_hash = ? WHERE id = ?").execute(arguments: [passwordHash, userID])
            guard db.changesCount == 1 else { throw StoreError(.notFound, "no user \(userID)") }
        }
    }

    // MARK: Team members

    public func createMember(_ new: NewUser, divisionIDs: [Int64], invitation: NewInvitation?) async throws -> User {
        let now = Date().timeIntervalSince1970
        do {
            return try await pool.write { db in
                for division in divisionIDs where try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM divisions WHERE id = ?"), arguments: [division]) == nil {
                    throw StoreError(.invalid, "unknown division '\(division)'")
                }
                let id = try Int64.fetchOne(
                    db.cachedStatement(sql: """
                        INSERT INTO users (email, name, role, password_hash, online, channels, max_open_rooms, created_at)
                        VALUES (?, ?, ?, ?, 0, ?, ?, ?)
                        RETURNING id
                        """),
                    arguments: [
                        new.email, new.name, new.role.rawValue, invitation == nil ? new.passwordHash : TeamSchema.noPassword,
                        new.channels.map(Rows.encodeList), new.maxOpenRooms, now,
                    ]) ?? 0
                for division in Set(divisionIDs) {
                    try db.cachedStatement(sql: "INSERT INTO user_divisions (user_id, division_id) VALUES (?, ?)").execute(arguments: [id, division])
                }
                if let invitation { try Self.insertInvitation(db, userID: id, invitation, now: now) }
                return try Self.fetchUser(db, id: id)!
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError(.conflict, "a user with email \(new.email) already exists")
        }
    }

    public func users(_ filter: UserFilter) async throws -> [User] {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if !filter.roles.isEmpty {
            var roleClause = "users.role IN (\(filter.roles.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(filter.roles.map(\.rawValue))
            if let also = filter.alsoUserID {
                roleClause = "(\(roleClause) OR users.id = ?)"
                arguments += [also]
            }
            clauses.append(roleClause)
        }
        if let online = filter.online {
            clauses.append("users.online = ?")
            arguments += [online]
        }
        if let active = filter.active {
            clauses.append("users.active = ?")
            arguments += [active]
        }
        let finalClauses = clauses
        let finalArguments = arguments
        let users = try await pool.read { db -> [User] in
            var clauses = finalClauses
            var arguments = finalArguments
            if let division = filter.divisionID {
                let isDefault = try Self.defaultDivisionID(db) == division
                clauses.append(
                    """
                    (EXISTS (SELECT 1 FROM user_divisions d WHERE d.user_id = users.id AND d.division_id = ?)
                     OR (? AND NOT EXISTS (SELECT 1 FROM user_divisions d WHERE d.user_id = users.id)))
                    """)
                arguments += [division, isDefault]
            }
            let sql = Self.userSelect + (clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND "))
                + " ORDER BY users.name COLLATE NOCASE, users.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Rows.user)
        }
        guard let channel = filter.channelID else { return users }
        return users.filter { $0.serves(channel: channel) }
    }

    public func setName(userID: Int64, name: String) async throws -> User {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET name = ? WHERE id = ?").execute(arguments: [name, userID])
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            return user
        }
    }

    public func setRole(userID: Int64, role: Role) async throws -> User {
        try await pool.write { db in
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            if user.role == .admin && role != .admin && user.active {
                try Self.requireAnotherAdmin(db, besides: userID)
            }
            try db.cachedStatement(sql: "UPDATE users SET role = ? WHERE id = ?").execute(arguments: [role.rawValue, userID])
            if role != user.role {
                // A link sent for the old role must not open the new one (a supervisor
                // holding an agent's link would become admin on a promotion).
                try db.cachedStatement(sql: "DELETE FROM invitations WHERE user_id = ? AND used_at IS NULL").execute(arguments: [userID])
            }
            return try Self.fetchUser(db, id: userID)!
        }
    }

    public func setActive(userID: Int64, active: Bool) async throws -> User {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            guard let user = try Self.fetchUser(db, id: userID) else { throw StoreError(.notFound, "no user \(userID)") }
            if active {
                try db.cachedStatement(sql: "UPDATE users SET active = 1, deactivated_at = NULL WHERE id = ?").execute(arguments: [userID])
            } else {
                if user.role == .admin && user.active { try Self.requireAnotherAdmin(db, besides: userID) }
                try db.cachedStatement(sql: "UPDATE users SET active = 0, online = 0, deactivated_at = coalesce(deactivated_at, ?) WHERE id = ?").execute(arguments: [now, userID])
                try db.cachedStatement(sql: "DELETE FROM sessions WHERE user_id = ?").execute(arguments: [userID])
                try db.cachedStatement(sql: "DELETE FROM invitations WHERE user_id = ? AND used_at IS NULL").execute(arguments: [userID])
            }
            return try Self.fetchUser(db, id: userID)!
        }
    }

    static func requireAnotherAdmin(_ db: Database, besides userID: Int64) throws {
        let others = try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1 AND id != ?"), arguments: [userID]) ?? 0
        guard others > 0 else { throw StoreError(.conflict, "this would leave no active admin") }
    }

    // MARK: Invitations

    static func insertInvitation(_ db: Database, userID: Int64, _ invitation: NewInvitation, now: TimeInterval) throws {
        try db.cachedStatement(sql: "INSERT INTO invitations (token_hash, user_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)").execute(arguments: [invitation.tokenHash, userID, invitation.createdBy, now, invitation.expiresAt.timeIntervalSince1970])
    }

    public func replaceInvitation(userID: Int64, invitation: NewInvitation) async throws {
        let now = Date().timeIntervalSince1970
        try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?"), arguments: [userID]) != nil else {
                throw StoreError(.notFound, "no user \(userID)")
            }
            try db.cachedStatement(sql: "DELETE FROM invitations WHERE user_id = ? AND used_at IS NULL").execute(arguments: [userID])
            try Self.insertInvitation(db, userID: userID, invitation, now: now)
        }
    }

    public func invitation(tokenHash: String) async throws -> Invitation? {
        try await pool.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM invitations WHERE token_hash = ?"), arguments: [tokenHash]).map(Self.invitation)
        }
    }

    static func invitation(_ row: Row) -> Invitation {
        Invitation(
            userID: row["user_id"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            usedAt: (row["used_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    public func acceptInvitation(tokenHash: String, passwordHash: String, now: Date) async throws -> User? {
        try await pool.write { db in
            guard
                let found = try Row.fetchOne(
                    db.cachedStatement(sql: """
                        SELECT invitations.user_id, users.role, inviters.role AS inviter_role
                        FROM invitations JOIN users ON users.id = invitations.user_id
                        LEFT JOIN users AS inviters ON inviters.id = invitations.created_by
                        WHERE invitations.token_hash = ? AND invitations.used_at IS NULL AND invitations.expires_at > ? AND users.active = 1
                        """),
                    arguments: [tokenHash, now.timeIntervalSince1970])
            else { return nil }
            let userID: Int64 = found["user_id"]
            // Never above the inviter's role as it is now.
            guard let role = Role(rawValue: found["role"]), let inviter = (found["inviter_role"] as String?).flatMap(Role.init(rawValue:)), role <= inviter
            else { return nil }
            try db.cachedStatement(sql: "UPDATE users SET password_hash = ? WHERE id = ?").execute(arguments: [passwordHash, userID])
            try db.cachedStatement(sql: "UPDATE invitations SET used_at = ? WHERE token_hash = ?").execute(arguments: [now.timeIntervalSince1970, tokenHash])
            try db.cachedStatement(sql: "DELETE FROM invitations WHERE user_id = ? AND used_at IS NULL").execute(arguments: [userID])
            return try Self.fetchUser(db, id: userID)
        }
    }

    // MARK: API keys

    public func apiKeys() async throws -> [APIKey] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM api_keys ORDER BY created_at DESC, id DESC")).map(Self.apiKey)
        }
    }

    static func apiKey(_ row: Row) -> APIKey {
        APIKey(
            id: row["id"], name: row["name"], scope: APIKey.Scope(rawValue: row["scope"]) ?? .read,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }

    public func revokeAPIKey(id: Int64, at: Date) async throws -> APIKey? {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?").execute(arguments: [at.timeIntervalSince1970, id])
            return try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE id = ?"), arguments: [id]).map(Self.apiKey)
        }
    }

    // MARK: Divisions

    public func renameDivision(id: Int64, name: String) async throws -> Division {
        do {
            return try await pool.write { db in
                try db.cachedStatement(sql: "UPDATE divisions SET name = ? WHERE id = ?").execute(arguments: [name, id])
                guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM divisions WHERE id = ?"), arguments: [id]) else {
                    throw StoreError(.notFound, "no division '\(id)'")
                }
                return Rows.division(row)
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw StoreError(.conflict, "a division named \(name) already exists")
        }
    }

    public func deleteDivision(id: Int64) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM divisions WHERE id = ?"), arguments: [id]) else {
                throw StoreError(.notFound, "no division '\(id)'")
            }
            let division = Rows.division(row)
            if division.isDefault {
                throw StoreError(.conflict, "division '\(division.name)' is the default; make another division the default first")
            }
            let members = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM user_divisions WHERE division_id = ?"), arguments: [id]) ?? 0
            if members > 0 {
                throw StoreError(.conflict, "division '\(division.name)' still has \(members) member(s); move them first")
            }
            let rooms = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM rooms WHERE division_id = ? AND status != 'resolved'"), arguments: [id]) ?? 0
            if rooms > 0 {
                throw StoreError(.conflict, "division '\(division.name)' still has \(rooms) room(s) that are not resolved")
            }
            try db.cachedStatement(sql: "UPDATE rooms SET division_id = NULL WHERE division_id = ?").execute(arguments: [id])
            try db.cachedStatement(sql: "DELETE FROM divisions WHERE id = ?").execute(arguments: [id])
        }
    }

    // MARK: Channels

    public func setChannelMembers(channelID: String, userIDs: [Int64], scope: Set<Role>) async throws -> [User] {
        try await pool.write { db in
            let listed = Set(userIDs)
            for id in userIDs where try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM users WHERE id = ?"), arguments: [id]) == nil {
                throw StoreError(.invalid, "unknown agent '\(id)'")
            }
            var changed: [Int64] = []
            let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT id, role, channels FROM users WHERE channels IS NOT NULL"))
            for row in rows {
                let id: Int64 = row["id"]
                let role = Role(rawValue: row["role"]) ?? .agent
                var channels = Rows.decodeList(row["channels"])
                if listed.contains(id) {
                    guard !channels.contains(channelID) else { continue }
                    channels.append(channelID)
                } else {
                    guard scope.contains(role), channels.contains(channelID) else { continue }
                    channels.removeAll { $0 == channelID }
                }
                try db.cachedStatement(sql: "UPDATE users SET channels = ? WHERE id = ?").execute(arguments: [Rows.encodeList(channels), id])
                changed.append(id)
            }
            return try changed.compactMap { try Self.fetchUser(db, id: $0) }
        }
    }

    public func channelActivity() async throws -> [String: ChannelActivity] {
        try await pool.read { db in
            var out: [String: ChannelActivity] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM channel_activity")) {
                out[row["channel_id"]] = ChannelActivity(
                    lastWebhookAt: (row["last_webhook_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    lastDeliveryError: row["last_delivery_error"],
                    lastDeliveryErrorAt: (row["last_delivery_error_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
            }
            // The outbox per channel (its own deliveries, not merchant webhooks): what waits, and what
            // failed for good in the last day (created, or last tried, within it).
            let dayAgo = Date().timeIntervalSince1970 - 86_400
            for row in try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT channel_id, sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
                               sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed
                        FROM outbox
                        WHERE target = 'channel' AND (status = 'pending' OR (status = 'failed' AND (created_at > ? OR next_attempt_at > ?)))
                        GROUP BY channel_id
                        """), arguments: [dayAgo, dayAgo])
            {
                let channel: String = row["channel_id"]
                var activity = out[channel] ?? ChannelActivity()
                activity.pendingDeliveries = (row["pending"] as Int?) ?? 0
                activity.failedDeliveries = (row["failed"] as Int?) ?? 0
                out[channel] = activity
            }
            return out
        }
    }

    // MARK: Audit log

    public func recordAudit(_ entry: NewAuditEntry) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "INSERT INTO audit_log (actor, actor_role, action, target_type, target_id, details, at) VALUES (?, ?, ?, ?, ?, ?, ?)").execute(arguments: [
                    entry.actor, entry.actorRole, entry.action, entry.targetType, entry.targetID, entry.details, entry.at.timeIntervalSince1970,
                ])
        }
    }

    public func auditLog(filter: AuditFilter, cursor: String?, limit: Int) async throws -> Page<AuditEntry> {
        var before = Int64.max
        if let cursor {
            guard let value = Int64(cursor), value > 0 else { throw StoreError(.invalid, "cursor is not one this server gave") }
            before = value
        }
        let limit = max(1, min(limit, 500))
        var clauses = ["id < ?"]
        var arguments: StatementArguments = [before]
        if let actor = filter.actor { clauses.append("actor = ?"); arguments += [actor] }
        if let action = filter.action {
            if action.hasSuffix(".") {
                clauses.append("action LIKE ? ESCAPE '\\'")
                let escaped = action.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                    .replacingOccurrences(of: "_", with: "\\_")
                arguments += [escaped + "%"]
            } else {
                clauses.append("action = ?")
                arguments += [action]
            }
        }
        if let type = filter.targetType { clauses.append("target_type = ?"); arguments += [type] }
        if let target = filter.targetID { clauses.append("target_id = ?"); arguments += [target] }
        if let from = filter.from { clauses.append("at >= ?"); arguments += [from.timeIntervalSince1970] }
        if let until = filter.until { clauses.append("at < ?"); arguments += [until.timeIntervalSince1970] }
        arguments += [limit + 1]
        let sql = "SELECT * FROM audit_log WHERE \(clauses.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        let bound = arguments
        let rows = try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: bound).map { row in
                AuditEntry(
                    id: row["id"], actor: row["actor"], actorRole: row["actor_role"], action: row["action"],
                    targetType: row["target_type"], targetID: row["target_id"], details: row["details"],
                    at: Date(timeIntervalSince1970: row["at"]))
            }
        }
        let items = Array(rows.prefix(limit))
        return Page(items: items, nextCursor: rows.count > limit ? items.last.map { String($0.id) } : nil)
    }
}
