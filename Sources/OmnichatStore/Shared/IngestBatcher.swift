import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

/// Group commit for webhook ingests. The first request to arrive while no
/// commit runs starts one; requests that arrive meanwhile wait and go into the
/// next transaction together. Each request gets its own savepoint, so one bad
/// request rolls back alone; each caller resumes only after the commit that
/// holds its events (or with the error that lost them).
///
/// Back-pressure: when the disk falls behind, requests are refused rather
/// than queued without bound. A request finding `maxPending` others waiting,
/// or still waiting (not yet in a commit) after `deadline`, is answered with
/// `StoreError.busy` having stored nothing, so the network redelivers later
/// and the answer still comes within its deadline (LINE: 2 s).
actor IngestBatcher {
    struct Limits: Sendable {
        var maxPending = 4096
        var deadline: Duration = .milliseconds(1500)
    }

    /// One caller's work: run inside its own savepoint, then told the outcome
    /// once the transaction holding it has committed (or failed).
    private struct Entry {
        var perform: @Sendable (Database) throws -> Bool
        var finish: @Sendable ((any Error)?) -> Void
        var since: ContinuousClock.Instant
        /// Webhook ingests may be refused under back-pressure (the network
        /// redelivers); agents' replies and delivery records always wait.
        var sheddable: Bool
    }

    /// Where a caller's value waits between its savepoint and the commit.
    private final class Slot<T>: @unchecked Sendable {
        var result: Result<T, any Error> = .failure(StoreError(.invalid, "not run"))
    }

    private let pool: DatabasePool
    private let limits: Limits
    private var pending: [Entry] = []
    private var committing = false
    private var sweeping = false
    private(set) var refused = 0
    static let maxRequestsPerCommit = 512

    init(pool: DatabasePool, limits: Limits = Limits()) {
        self.pool = pool
        self.limits = limits
    }

    var waiting: Int { pending.count }

    func submit(_ batch: IngestBatch) async throws -> IngestResult {
        try await write(sheddable: true) { db in try IngestWriter.write(batch, db: db) }
    }

    /// Runs `body` in the next group commit, in its own savepoint: an error
    /// rolls back this caller's statements only and is thrown to it.
    func write<T: Sendable>(sheddable: Bool = false, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            if sheddable && pending.count >= limits.maxPending {
                refused += 1
                continuation.resume(throwing: StoreError(.busy, "the store is behind: \(pending.count) webhook requests are waiting for a commit"))
                return
            }
            let slot = Slot<T>()
            pending.append(
                Entry(
                    perform: { db in
                        do {
                            let value = try body(db)
                            try db.flush()  // PostgreSQL: this entry's pipelined statements, inside its savepoint
                            slot.result = .success(value)
                            return true
                        } catch let error where isRetryableConflict(error) {
                            throw error  // the engine reruns the whole transaction
                        } catch let error as StoreError {
                            slot.result = .failure(error)
                        } catch {
                            slot.result = .failure(sheddable ? StoreError(.invalid, "could not store events: \(error)") : error)
                        }
                        return false
                    },
                    finish: { error in
                        if let error { continuation.resume(throwing: error) } else { continuation.resume(with: slot.result) }
                    },
                    since: .now, sheddable: sheddable))
            if !committing {
                committing = true
                Task { await self.drain() }
            } else if !sweeping {
                sweeping = true
                Task { await self.sweep() }
            }
        }
    }

    /// While requests wait behind a commit, refuses webhooks past the deadline.
    private func sweep() async {
        let tick = min(limits.deadline / 4, .milliseconds(100))
        while !pending.isEmpty {
            do { try await Task.sleep(for: tick) } catch { break }
            let limit = ContinuousClock.now - limits.deadline
            guard pending.contains(where: { $0.sheddable && $0.since < limit }) else { continue }
            var kept: [Entry] = []
            for entry in pending {
                if entry.sheddable && entry.since < limit {
                    entry.finish(StoreError(.busy, "the store is behind: no commit within \(limits.deadline)"))
                    refused += 1
                } else {
                    kept.append(entry)
                }
            }
            pending = kept
        }
        sweeping = false
    }

    private func drain() async {
        while !pending.isEmpty {
            let take = min(pending.count, Self.maxRequestsPerCommit)
            let group = Array(pending.prefix(take))
            pending.removeFirst(take)
            do {
                try await pool.write { db in
                    for entry in group {
                        try db.inSavepoint { try entry.perform(db) ? .commit : .rollback }
                    }
                }
                for entry in group { entry.finish(nil) }
            } catch {
                for entry in group { entry.finish(error) }
            }
        }
        committing = false
    }
}

/// The statements of one ingest, run inside the caller's transaction.
enum IngestWriter {

    static func write(_ batch: IngestBatch, db: Database) throws -> IngestResult {
        let now = Date().timeIntervalSince1970
        var stored = 0
        var duplicates = 0
        var rooms: [String] = []
        var transitions: [RoomTransition] = []
        var messages: [StoredMessage] = []
        var deliveries: [DeliveryUpdate] = []
        for event in batch.events {
            let isMessage = event.kind == .message
            // Events that leave no message keep their raw payload here.
            let keepsRaw = event.conversationID.isEmpty || !(isMessage || event.kind == .echo)
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO processed_events (channel_id, event_id, received_at, raw) VALUES (?, ?, ?, ?)")
                .execute(arguments: [batch.channelID, event.eventID, now, keepsRaw ? event.raw : nil])
            guard db.changesCount == 1 else {
                duplicates += 1
                continue
            }
            stored += 1
            guard !event.conversationID.isEmpty else { continue }  // nothing to route: kept in processed_events
            // Several writers (PostgreSQL): one conversation's events are stored one transaction at a time.
            try lockConversation(db, channelID: batch.channelID, conversationID: event.conversationID)

            switch event.kind {
            case .message:
                messages.append(try storeMessage(event, batch: batch, db: db, now: now, waiting: &rooms, transitions: &transitions))
            case .echo:
                try storeEcho(event, batch: batch, db: db)
            case .receipt(let receipt):
                try apply(receipt, event: event, batch: batch, db: db, updates: &deliveries)
            case .system:
                break
            }
        }
        return IngestResult(
            stored: stored, duplicates: duplicates, roomIDs: rooms, transitions: transitions, messages: messages, deliveries: deliveries)
    }

    static func existingRoom(_ channelID: String, _ conversationID: String, db: Database) throws -> Row? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, status FROM rooms WHERE channel_id = ? AND conversation_id = ?"),
            arguments: [channelID, conversationID])
    }

    /// A customer's message: contact, room (opened or reopened), message, follow-up.
    @discardableResult
    static func storeMessage(
        _ event: InboundEvent, batch: IngestBatch, db: Database, now: TimeInterval, waiting rooms: inout [String],
        transitions: inout [RoomTransition]
    ) throws -> StoredMessage {
        let contactID = try String.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO contacts (id, channel_id, external_id, display_name, username, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel_id, external_id) DO UPDATE SET
                        display_name = coalesce(excluded.display_name, contacts.display_name),
                        username = coalesce(excluded.username, contacts.username),
                        updated_at = excluded.updated_at
                    RETURNING id
                    """),
            arguments: [
                Identifier.make("ct"), batch.channelID, event.contact.externalID.isEmpty ? event.conversationID : event.contact.externalID,
                event.contact.displayName, event.contact.username, now, now,
            ])!
        let inboundAt = min(event.occurredAt.timeIntervalSince1970, now)
        let context = event.replyContext.map(Rows.encode)

        let roomID: String
        let opening: RoomStatus = batch.botEnabled ? .bot : .waiting
        var status: RoomStatus
        if let row = try existingRoom(batch.channelID, event.conversationID, db: db) {
            roomID = row["id"]
            status = RoomStatus(rawValue: row["status"]) ?? .waiting
            if status == .resolved {
                // A new customer message reopens the room as a new session: the bot
                // first when the channel has one, else routing again.
                try db.execute(
                    sql: """
                        UPDATE rooms SET status = ?, assignee_id = NULL, session = session + 1, division_id = ?,
                            waiting_since = ?, resolved_at = NULL, last_message_at = ?, allocation_requested_at = NULL,
                            last_inbound_at = max(coalesce(last_inbound_at, 0), ?), reply_context = coalesce(?, reply_context)
                        WHERE id = ?
                        """,
                    arguments: [opening.rawValue, batch.divisionID, now, now, inboundAt, context, roomID])
                try EngineStore.recordTransition(db, roomID: roomID, from: .resolved, to: opening, assignee: nil, actor: "customer", at: now)
                transitions.append(
                    RoomTransition(
                        roomID: roomID, channelID: batch.channelID, from: .resolved, to: opening, assigneeID: nil, divisionID: batch.divisionID,
                        actor: "customer", at: Date(timeIntervalSince1970: now)))
                status = opening
            } else {
                // One statement for everything a message changes on its room.
                try db.cachedStatement(
                    sql: """
                        UPDATE rooms SET last_message_at = ?, last_inbound_at = max(coalesce(last_inbound_at, 0), ?),
                            reply_context = coalesce(?, reply_context)
                        WHERE id = ?
                        """
                ).execute(arguments: [now, inboundAt, context, roomID])
            }
        } else {
            roomID = Identifier.make("rm")
            try db.execute(
                sql: """
                    INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, division_id, waiting_since, last_message_at, created_at,
                        last_inbound_at, reply_context)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    roomID, batch.channelID, event.conversationID, contactID, opening.rawValue, batch.divisionID, now, now, now, inboundAt, context,
                ])
            try EngineStore.recordTransition(db, roomID: roomID, from: nil, to: opening, assignee: nil, actor: "customer", at: now)
            transitions.append(
                RoomTransition(
                    roomID: roomID, channelID: batch.channelID, from: nil, to: opening, assigneeID: nil, divisionID: batch.divisionID,
                    actor: "customer", at: Date(timeIntervalSince1970: now)))
            status = opening
        }
        let waiting = status == .waiting

        let messageID = Identifier.make("msg")
        let sequence = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO messages (id, room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                    VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?, ?, ?, 'received')
                    RETURNING seq
                    """),
            arguments: [
                messageID, roomID, event.content.type.rawValue, event.content.text, event.content.url,
                Rows.encode(event.content), event.raw, event.networkMessageID, event.occurredAt.timeIntervalSince1970,
            ])
        let stored = StoredMessage(
            id: messageID, roomID: roomID, direction: .inbound, content: event.content, senderUserID: nil,
            networkMessageID: event.networkMessageID, createdAt: event.occurredAt, deliveryStatus: .received, attempts: 0,
            deliveryError: nil, sequence: sequence ?? 0)
        if status == .bot {
            // The bot has the room: the message goes to the bot's webhook, durably.
            try db.cachedStatement(
                sql: "INSERT INTO outbox (room_id, channel_id, message_id, target, next_attempt_at, created_at) VALUES (?, ?, ?, 'bot', ?, ?)"
            ).execute(arguments: [roomID, batch.channelID, messageID, now, now])
        }
        if let followUp = event.followUp {
            try db.execute(
                sql: "INSERT INTO outbox (room_id, channel_id, action, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [roomID, batch.channelID, Rows.encode(followUp), now, now])
        }
        if waiting && !rooms.contains(roomID) { rooms.append(roomID) }
        return stored
    }

    /// The business's own message sent from elsewhere: kept in the history, not routed.
    static func storeEcho(_ event: InboundEvent, batch: IngestBatch, db: Database) throws {
        guard let row = try existingRoom(batch.channelID, event.conversationID, db: db) else { return }
        let roomID: String = row["id"]
        if let id = event.networkMessageID,
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM messages WHERE room_id = ? AND network_message_id = ?", arguments: [roomID, id]) != nil
        {
            return  // our own reply, already in the history
        }
        try db.execute(
            sql: """
                INSERT INTO messages (id, room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                VALUES (?, ?, 'outbound', ?, ?, ?, ?, ?, ?, ?, 'delivered')
                """,
            arguments: [
                Identifier.make("msg"), roomID, event.content.type.rawValue, event.content.text, event.content.url,
                Rows.encode(event.content), event.raw, event.networkMessageID, event.occurredAt.timeIntervalSince1970,
            ])
    }

    /// Receipts move our outbound messages forward only: pending/delivered → read,
    /// never read → delivered; failed unless already read.
    static func apply(_ receipt: Receipt, event: InboundEvent, batch: IngestBatch, db: Database, updates: inout [DeliveryUpdate]) throws {
        guard let row = try existingRoom(batch.channelID, event.conversationID, db: db) else { return }
        let roomID: String = row["id"]
        let rank = "CASE delivery_status WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 WHEN 'failed' THEN 1 ELSE 0 END"
        var target = ""
        var arguments: StatementArguments = []
        switch receipt.status {
        case .delivered:
            target = "delivery_status = 'delivered'"
        case .read:
            target = "delivery_status = 'read'"
        case .failed:
            target = "delivery_status = 'failed', delivery_error = ?"
            arguments += [receipt.error ?? "the network reported a failure"]
        }
        let newRank = receipt.status == .read ? 2 : 1
        var conditions = ["room_id = ?", "direction = 'outbound'"]
        arguments += [roomID]
        if receipt.status == .failed {
            conditions.append("delivery_status <> 'read'")
        } else {
            conditions.append("\(rank) < \(newRank)")
            conditions.append("delivery_status <> 'failed'")
        }
        if !receipt.networkMessageIDs.isEmpty {
            conditions.append("network_message_id IN (\(receipt.networkMessageIDs.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(receipt.networkMessageIDs)
        } else if let watermark = receipt.watermark {
            // Everything the network had accepted up to the watermark.
            conditions.append("delivery_status <> 'pending'")
            conditions.append("created_at <= ?")
            arguments += [watermark.timeIntervalSince1970]
        } else {
            return
        }
        let changed = try Row.fetchAll(
            db, sql: "UPDATE messages SET \(target) WHERE " + conditions.joined(separator: " AND ") + " RETURNING id, delivery_status, attempts, delivery_error",
            arguments: arguments)
        for row in changed {
            updates.append(
                DeliveryUpdate(
                    roomID: roomID, messageID: row["id"], status: DeliveryStatus(rawValue: row["delivery_status"]) ?? .delivered,
                    attempts: row["attempts"], error: row["delivery_error"]))
        }
    }
}
