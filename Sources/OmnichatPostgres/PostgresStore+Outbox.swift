import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import OmnichatCore
import PostgresNIO

extension PostgresStore {
    // MARK: Outbox claims

    /// Claims the due rows: each room's oldest pending row, not leased by a
    /// live daemon, locked with SKIP LOCKED so two daemons never claim the
    /// same row, leased to this daemon until the lease runs out.
    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem] {
        let channelClause =
            excludingChannels.isEmpty ? "" : " AND outbox.channel_id NOT IN (\(excludingChannels.map { _ in "?" }.joined(separator: ",")))"
        let nowSeconds = now.timeIntervalSince1970
        var arguments: StatementArguments = [nowSeconds]
        arguments += StatementArguments(Array(excludingChannels))
        arguments += [limit + excluding.count]
        // Leases run on the database's clock: daemons' clocks may differ.
        let claimArguments: StatementArguments = [options.nodeName, options.outboxLease.seconds]
        let finalArguments = arguments
        // READ COMMITTED: the row locks (SKIP LOCKED) and the lease, re-checked on
        // the locked row, decide; a room's younger rows wait while an older one is pending.
        return try await pool.writeReadCommitted { db in
            let candidates = try Int64.fetchAll(
                db,
                sql: """
                    SELECT outbox.id FROM outbox
                    WHERE outbox.status = 'pending' AND outbox.next_attempt_at <= ?
                      AND (outbox.lease_until IS NULL OR outbox.lease_until < omnichat_now())\(channelClause)
                      AND NOT EXISTS (
                          SELECT 1 FROM outbox AS earlier
                          WHERE earlier.room_id = outbox.room_id AND earlier.target = outbox.target
                            AND earlier.status = 'pending' AND earlier.id < outbox.id)
                    ORDER BY outbox.next_attempt_at, outbox.id
                    LIMIT ?
                    FOR UPDATE OF outbox SKIP LOCKED
                    """,
                arguments: finalArguments
            ).filter { !excluding.contains($0) }.prefix(limit)
            guard !candidates.isEmpty else { return [] }
            let ids = Array(candidates)
            try db.execute(
                sql: "UPDATE outbox SET lease_owner = ?, lease_until = omnichat_now() + ? WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                arguments: claimArguments + StatementArguments(ids))
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT outbox.*, rooms.conversation_id, rooms.last_inbound_at, messages.content, users.name AS sender_name
                    FROM outbox
                    JOIN rooms ON rooms.id = outbox.room_id
                    LEFT JOIN messages ON messages.id = outbox.message_id
                    LEFT JOIN users ON users.id = messages.sender_user_id
                    WHERE outbox.id IN (\(ids.map { _ in "?" }.joined(separator: ",")))
                    ORDER BY outbox.next_attempt_at, outbox.id
                    """,
                arguments: StatementArguments(ids))
            return rows.compactMap(Rows.outboxItem)
        }
    }
}

extension PostgresStore {
    public func releaseOutbox(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        let node = nodeName
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ? AND id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                arguments: [node] + StatementArguments(ids))
        }
    }

    /// Extends this daemon's leases on rows it is still delivering (a long
    /// reply in several calls may outlast one lease); a daemon that died
    /// stops renewing, and its rows go to another when the lease runs out.
    func renewLeases() async throws {
        let node = nodeName
        let lease = options.outboxLease.seconds
        try await pool.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    UPDATE outbox SET lease_until = omnichat_now() + ?
                    WHERE lease_owner = ? AND status = 'pending' AND lease_until IS NOT NULL
                    """,
                arguments: [lease, node])
        }
    }

    func startLeaseRenewal() {
        let every = max(0.2, options.outboxLease.seconds / 3)
        renewal = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int64(every * 1000)))
                guard let self else { return }
                try? await self.renewLeases()
            }
        }
    }
}
