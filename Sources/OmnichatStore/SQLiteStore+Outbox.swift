import Foundation
import GRDB
import OmnichatCore

// The SQLite engine's outbox (the PostgreSQL engine has its own, native:
// OmnichatPostgres/PostgresOutbox.swift). `dueOutbox` is in SQLiteStore.swift.

extension SQLiteStore {
    public func takeReplyContext(roomID: Int64) async throws -> [String: String]? {
        try await pool.write { db in
            let text = try String.fetchOne(db.cachedStatement(sql: "SELECT reply_context FROM rooms WHERE id = ?"), arguments: [roomID])
            guard let text else { return nil }
            try db.cachedStatement(sql: "UPDATE rooms SET reply_context = NULL WHERE id = ?").execute(arguments: [roomID])
            return Rows.decode([String: String].self, text)
        }
    }

    // MARK: Outbox

    public func nextOutboxDue() async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE status = 'pending'"))
                .map(Date.init(timeIntervalSince1970:))
        }
    }

    public func recordPartDelivered(outboxID: Int64, partsDone: Int) async throws {
        try await batcher.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET parts_done = ? WHERE id = ?").execute(arguments: [partsDone, outboxID])
        }
    }

    public func markDelivered(outboxID: Int64, attempts: Int, networkMessageID: String?) async throws {
        let now = Date().timeIntervalSince1970
        let node = nodeName
        try await batcher.write { db in
            try db.cachedStatement(sql: """
                    UPDATE outbox SET status = 'delivered', attempts = ?, delivered_at = ?, last_error = NULL,
                        lease_owner = NULL, lease_until = NULL, delivered_by = ?
                    WHERE id = ?
                    """).execute(arguments: [attempts, now, node, outboxID])
            try db.cachedStatement(sql: """
                    UPDATE messages SET delivery_status = 'delivered', attempts = ?, delivery_error = NULL,
                        network_message_id = coalesce(?, network_message_id)
                    WHERE id = (SELECT message_id FROM outbox WHERE id = ?)
                    """).execute(arguments: [attempts, networkMessageID, outboxID])
        }
    }

    public func scheduleRetry(outboxID: Int64, attempts: Int, at: Date, error: String) async throws {
        try await batcher.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?").execute(arguments: [attempts, at.timeIntervalSince1970, error, outboxID])
            try db.cachedStatement(sql: "UPDATE messages SET attempts = ?, delivery_error = ? WHERE id = (SELECT message_id FROM outbox WHERE id = ?)").execute(arguments: [attempts, error, outboxID])
        }
    }

    public func markFailed(outboxID: Int64, attempts: Int, error: String) async throws {
        try await batcher.write { db in
            try db.cachedStatement(sql: "UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?").execute(arguments: [attempts, error, outboxID])
            try db.cachedStatement(sql: """
                    UPDATE messages SET delivery_status = 'failed', attempts = ?, delivery_error = ?
                    WHERE id = (SELECT message_id FROM outbox WHERE id = ?)
                    """).execute(arguments: [attempts, error, outboxID])
        }
    }
}

// MARK: Dead letters

extension SQLiteStore {
    public func failedDeliveries(channelIDs: [String], cursor: Int64?, limit: Int) async throws -> Page<FailedDelivery> {
        let limit = max(1, min(limit, 500))
        var sql = "SELECT * FROM outbox WHERE status = 'failed'"
        var arguments: StatementArguments = []
        if !channelIDs.isEmpty {
            sql += " AND channel_id IN (\(channelIDs.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(channelIDs)
        }
        if let cursor {
            sql += " AND id < ?"
            arguments += [cursor]
        }
        sql += " ORDER BY id DESC LIMIT \(limit + 1)"
        let finalSQL = sql
        let finalArguments = arguments
        let items = try await pool.read { db in
            try Row.fetchAll(db, sql: finalSQL, arguments: finalArguments).map { row in
                FailedDelivery(
                    id: row["id"], roomID: row["room_id"], channelID: row["channel_id"], messageID: row["message_id"],
                    target: OutboxTarget(rawValue: row["target"]) ?? .channel, attempts: row["attempts"], error: row["last_error"],
                    createdAt: Date(timeIntervalSince1970: row["created_at"]))
            }
        }
        let page = Array(items.prefix(limit))
        return Page(items: page, nextCursor: items.count > limit ? page.last.map { String($0.id) } : nil)
    }

    public func retryDelivery(messageID: Int64) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            try db.cachedStatement(sql: """
                    UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, last_error = NULL
                    WHERE message_id = ? AND status = 'failed'
                    """).execute(arguments: [now, messageID])
            guard db.changesCount > 0 else { return false }
            try db.cachedStatement(sql: "UPDATE messages SET delivery_status = 'pending', attempts = 0, delivery_error = NULL WHERE id = ?").execute(arguments: [messageID])
            return true
        }
    }
}
