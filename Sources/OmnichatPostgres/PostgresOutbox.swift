import Foundation
import OmnichatCore
import PostgresNIO

/// The outbox on PostgreSQL, native: SQL written for PostgreSQL, run on
/// `PostgresClient` without blocking a thread. Each call is one statement, so
/// one round trip: a claim locks, leases and reads its rows in one CTE; a
/// delivery record changes the outbox row and its message in one CTE (a
/// statement is atomic on its own, no BEGIN/COMMIT round trips).
///
/// Several daemons share the outbox: rows are claimed with `FOR UPDATE SKIP
/// LOCKED` (two daemons never claim the same row) and leased to the claiming
/// daemon on the database's clock; a daemon that dies stops renewing, and its
/// rows go to another when the lease runs out.
extension PostgresStore {
    /// Claims the due rows: each room's oldest pending row per target, not
    /// leased by a live daemon, leased to this daemon.
    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem] {
        guard limit > 0 else { return [] }
        let due = now.timeIntervalSince1970
        let skipIDs = Array(excluding)
        let skipChannels = Array(excludingChannels)
        let node = options.nodeName
        let lease = options.outboxLease.seconds
        return try await native.run("claiming due deliveries") { connection in
            let rows = try await connection.statement(
                """
                WITH due AS (
                    SELECT outbox.id FROM outbox
                    WHERE outbox.status = 'pending' AND outbox.next_attempt_at <= \(due)
                      AND (outbox.lease_until IS NULL OR outbox.lease_until < omnichat_now())
                      AND outbox.id <> ALL(\(skipIDs)) AND outbox.channel_id <> ALL(\(skipChannels))
                      AND NOT EXISTS (
                          SELECT 1 FROM outbox AS earlier
                          WHERE earlier.room_id = outbox.room_id AND earlier.target = outbox.target
                            AND earlier.status = 'pending' AND earlier.id < outbox.id)
                    ORDER BY outbox.next_attempt_at, outbox.id
                    LIMIT \(limit)
                    FOR UPDATE OF outbox SKIP LOCKED
                ), claimed AS (
                    UPDATE outbox SET lease_owner = \(node), lease_until = omnichat_now() + \(lease)
                    FROM due WHERE outbox.id = due.id
                    RETURNING outbox.id, outbox.room_id, outbox.channel_id, outbox.message_id, outbox.action, outbox.parts_done,
                        outbox.attempts, outbox.target, outbox.next_attempt_at
                )
                SELECT claimed.*, rooms.conversation_id, rooms.last_inbound_at, messages.content, users.name AS sender_name
                FROM claimed
                JOIN rooms ON rooms.id = claimed.room_id
                LEFT JOIN messages ON messages.id = claimed.message_id
                LEFT JOIN users ON users.id = messages.sender_user_id
                ORDER BY claimed.next_attempt_at, claimed.id
                """)
            var items: [OutboxItem] = []
            for try await row in rows {
                if let item = try Self.outboxItem(row.makeRandomAccess()) { items.append(item) }
            }
            return items
        }
    }

    static func outboxItem(_ row: PostgresRandomAccessRow) throws -> OutboxItem? {
        let payload: OutboxItem.Payload
        if let messageID = try row.value("message_id", as: Int64?.self),
            let content = Rows.decode(MessageContent.self, try row.value("content", as: String?.self))
        {
            payload = .message(id: messageID, content: content)
        } else if let action = Rows.decode(AdapterAction.self, try row.value("action", as: String?.self)) {
            payload = .action(action)
        } else {
            return nil
        }
        return OutboxItem(
            id: try row.value("id"), channelID: try row.value("channel_id"), roomID: try row.value("room_id"),
            conversationID: try row.value("conversation_id"), payload: payload, partsDone: try row.value("parts_done"),
            attempts: try row.value("attempts"),
            lastInboundAt: try row.value("last_inbound_at", as: Double?.self).map(Date.init(timeIntervalSince1970:)),
            senderName: try row.value("sender_name"), target: OutboxTarget(rawValue: try row.value("target")) ?? .channel)
    }

    /// When the next pending row is due (or its lease runs out).
    public func nextOutboxDue() async throws -> Date? {
        try await native.run("reading the next delivery time") { connection in
            let rows = try await connection.statement(
                "SELECT min(greatest(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE status = 'pending'")
            for try await seconds in rows.decode(Double?.self) { return seconds.map(Date.init(timeIntervalSince1970:)) }
            return nil
        }
    }

    /// The room's reply context, cleared as it is read: the row lock makes a
    /// second reader wait, and find it cleared.
    public func takeReplyContext(roomID: Int64) async throws -> [String: String]? {
        let text = try await native.run("taking a reply context") { connection -> String? in
            let rows = try await connection.statement(
                """
                UPDATE rooms SET reply_context = NULL
                FROM (SELECT id, reply_context FROM rooms WHERE id = \(roomID) AND reply_context IS NOT NULL FOR UPDATE) AS taken
                WHERE rooms.id = taken.id
                RETURNING taken.reply_context
                """)
            for try await text in rows.decode(String?.self) { return text }
            return nil
        }
        return Rows.decode([String: String].self, text)
    }

    public func recordPartDelivered(outboxID: Int64, partsDone: Int) async throws {
        try await execute("recording a delivered part", "UPDATE outbox SET parts_done = \(partsDone) WHERE id = \(outboxID)")
    }

    public func markDelivered(outboxID: Int64, attempts: Int, networkMessageID: String?) async throws {
        let now = Date().timeIntervalSince1970
        let node = options.nodeName
        // Text from the network: a NUL in it would fail the statement and leave the row
        // to be claimed, and sent, again.
        let networkMessageID = PostgresIngestRequest.clean(networkMessageID)
        try await execute(
            "recording a delivery",
            """
            WITH changed AS (
                UPDATE outbox SET status = 'delivered', attempts = \(attempts), delivered_at = \(now), last_error = NULL,
                    lease_owner = NULL, lease_until = NULL, delivered_by = \(node)
                WHERE id = \(outboxID) RETURNING message_id
            )
            UPDATE messages SET delivery_status = 'delivered', attempts = \(attempts), delivery_error = NULL,
                network_message_id = coalesce(\(networkMessageID), network_message_id)
            FROM changed WHERE messages.id = changed.message_id
            """)
    }

    public func scheduleRetry(outboxID: Int64, attempts: Int, at: Date, error: String) async throws {
        let next = at.timeIntervalSince1970
        let error = PostgresIngestRequest.clean(error)
        try await execute(
            "scheduling a retry",
            """
            WITH changed AS (
                UPDATE outbox SET attempts = \(attempts), next_attempt_at = \(next), last_error = \(error),
                    lease_owner = NULL, lease_until = NULL
                WHERE id = \(outboxID) RETURNING message_id
            )
            UPDATE messages SET attempts = \(attempts), delivery_error = \(error)
            FROM changed WHERE messages.id = changed.message_id
            """)
    }

    public func markFailed(outboxID: Int64, attempts: Int, error: String) async throws {
        let error = PostgresIngestRequest.clean(error)
        try await execute(
            "recording a failed delivery",
            """
            WITH changed AS (
                UPDATE outbox SET status = 'failed', attempts = \(attempts), last_error = \(error), lease_owner = NULL, lease_until = NULL
                WHERE id = \(outboxID) RETURNING message_id
            )
            UPDATE messages SET delivery_status = 'failed', attempts = \(attempts), delivery_error = \(error)
            FROM changed WHERE messages.id = changed.message_id
            """)
    }

    /// Gives back rows this daemon claimed and will not deliver now.
    public func releaseOutbox(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        let node = options.nodeName
        try await execute(
            "releasing claimed deliveries",
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = \(node) AND id = ANY(\(ids))")
    }

    /// Extends this daemon's leases on rows it is still delivering (a long
    /// reply in several calls may outlast one lease).
    func renewLeases() async throws {
        let node = options.nodeName
        let lease = options.outboxLease.seconds
        try await execute(
            "renewing delivery leases",
            """
            UPDATE outbox SET lease_until = omnichat_now() + \(lease)
            WHERE lease_owner = \(node) AND status = 'pending' AND lease_until IS NOT NULL
            """)
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

    private func execute(_ what: String, _ query: PostgresQuery) async throws {
        try await native.run(what) { connection in
            _ = try await connection.statement(query)
        }
    }
}

// MARK: Dead letters

extension PostgresStore {
    /// Outbox rows that gave up, newest first, optionally of some channels.
    public func failedDeliveries(channelIDs: [String], cursor: Int64?, limit: Int) async throws -> Page<FailedDelivery> {
        let limit = max(1, min(limit, 500))
        let everyChannel = channelIDs.isEmpty
        let before = cursor ?? Int64.max
        let items = try await native.run("listing failed deliveries") { connection in
            let rows = try await connection.statement(
                """
                SELECT id, room_id, channel_id, message_id, target, attempts, last_error, created_at FROM outbox
                WHERE status = 'failed' AND (\(everyChannel) OR channel_id = ANY(\(channelIDs))) AND id < \(before)
                ORDER BY id DESC LIMIT \(limit + 1)
                """)
            var items: [FailedDelivery] = []
            for try await (id, roomID, channelID, messageID, target, attempts, error, createdAt) in rows.decode(
                (Int64, Int64, String, Int64?, String, Int, String?, Double).self)
            {
                items.append(
                    FailedDelivery(
                        id: id, roomID: roomID, channelID: channelID, messageID: messageID, target: OutboxTarget(rawValue: target) ?? .channel,
                        attempts: attempts, error: error, createdAt: Date(timeIntervalSince1970: createdAt)))
            }
            return items
        }
        let page = Array(items.prefix(limit))
        return Page(items: page, nextCursor: items.count > limit ? page.last.map { String($0.id) } : nil)
    }

    /// Puts a failed reply back in the outbox with a fresh set of attempts.
    public func retryDelivery(messageID: Int64) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try await native.run("retrying a failed delivery") { connection in
            let rows = try await connection.statement(
                """
                WITH changed AS (
                    UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = \(now), last_error = NULL
                    WHERE message_id = \(messageID) AND status = 'failed' RETURNING message_id
                ), message AS (
                    UPDATE messages SET delivery_status = 'pending', attempts = 0, delivery_error = NULL
                    WHERE id IN (SELECT message_id FROM changed) RETURNING id
                )
                SELECT count(*) FROM changed
                """)
            for try await count in rows.decode(Int.self) { return count > 0 }
            return false
        }
    }
}
