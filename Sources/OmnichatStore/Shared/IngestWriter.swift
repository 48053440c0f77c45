import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

/// The statements of one ingest, run inside the caller's transaction.
enum IngestWriter {

    /// The JSON columns of one event, encoded before the write transaction so
    /// the single writer spends its time on statements only.
    struct Encoded: Sendable {
        var content: String
        var replyContext: String?
        var followUp: String?

        init(_ event: InboundEvent) {
            content = Rows.encode(event.content)
            replyContext = event.replyContext.map(Rows.encode)
            followUp = event.followUp.map(Rows.encode)
        }
    }

#if !OMNICHAT_POSTGRES  // PostgreSQL: the same statements in omnichat_ingest (PostgresSchema+Ingest.swift)
    /// A batch with its JSON already encoded (`prepare` runs on the caller's thread).
    struct Prepared: Sendable {
        var batch: IngestBatch
        var encoded: [Encoded]
    }

    static func prepare(_ batch: IngestBatch) -> Prepared {
        Prepared(batch: batch, encoded: batch.events.map(Encoded.init))
    }

    static func write(_ prepared: Prepared, db: Database) throws -> IngestResult {
        let batch = prepared.batch
        let now = Date().timeIntervalSince1970
        var stored = 0
        var duplicates = 0
        var rooms: [Int64] = []
        var transitions: [RoomTransition] = []
        var messages: [StoredMessage] = []
        var deliveries: [DeliveryUpdate] = []
        var notices: [RoomNotice] = []
        for (event, encoded) in zip(batch.events, prepared.encoded) {
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

            switch event.kind {
            case .message:
                messages.append(try storeMessage(event, encoded, batch: batch, db: db, now: now, waiting: &rooms, transitions: &transitions))
            case .echo:
                try storeEcho(event, encoded, batch: batch, db: db)
            case .receipt(let receipt):
                try apply(receipt, event: event, batch: batch, db: db, updates: &deliveries)
            case .system:
                if let notice = try recordNotice(event, channelID: batch.channelID, db: db, now: now) { notices.append(notice) }
            }
        }
        return IngestResult(
            stored: stored, duplicates: duplicates, roomIDs: rooms, transitions: transitions, messages: messages, deliveries: deliveries,
            notices: notices)
    }

    /// Ingest: a system event of a known conversation becomes a notice of its room.
    static func recordNotice(_ event: InboundEvent, channelID: String, db: Database, now: TimeInterval) throws -> RoomNotice? {
        guard case .system(let name) = event.kind, let kind = RoomNotice.kind(ofSystemEvent: name),
            let room = try existingRoom(channelID, event.conversationID, db: db)
        else { return nil }
        let notice = RoomNotice(
            roomID: room["id"], kind: kind, name: event.content.text ?? event.contact.displayName,
            // When we heard of it: notices sit among the room's events in the order they reached us, as messages do.
            at: Date(timeIntervalSince1970: now))
        try db.cachedStatement(sql: "INSERT INTO room_notices (room_id, kind, name, at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [notice.roomID, notice.kind, notice.name, notice.at.timeIntervalSince1970])
        return notice
    }

    static func existingRoom(_ channelID: String, _ conversationID: String, db: Database) throws -> Row? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT id, status FROM rooms WHERE channel_id = ? AND conversation_id = ?"),
            arguments: [channelID, conversationID])
    }

    /// A customer's message: contact, room (opened or reopened), message, follow-up.
    @discardableResult
    static func storeMessage(
        _ event: InboundEvent, _ encoded: Encoded, batch: IngestBatch, db: Database, now: TimeInterval, waiting rooms: inout [Int64],
        transitions: inout [RoomTransition]
    ) throws -> StoredMessage {
        let contactID = try contact(event, batch: batch, db: db, now: now)
        let inboundAt = min(event.occurredAt.timeIntervalSince1970, now)
        let context = encoded.replyContext

        let roomID: Int64
        let opening: RoomStatus = batch.botEnabled ? .bot : .waiting
        var status: RoomStatus
        // The usual case, an open room, in one statement: its update returns it.
        if let row = try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    UPDATE rooms SET last_message_at = ?, last_inbound_at = max(coalesce(last_inbound_at, 0), ?),
                        reply_context = coalesce(?, reply_context), title = coalesce(?, title)
                    WHERE channel_id = ? AND conversation_id = ? AND status <> 'resolved'
                    RETURNING id, status
                    """),
            arguments: [now, inboundAt, context, event.conversationTitle, batch.channelID, event.conversationID])
        {
            roomID = row["id"]
            status = RoomStatus(rawValue: row["status"]) ?? .waiting
        } else if let row = try existingRoom(batch.channelID, event.conversationID, db: db) {
            roomID = row["id"]
            status = RoomStatus(rawValue: row["status"]) ?? .waiting
            if status == .resolved {
                // A new customer message reopens the room as a new session: the bot
                // first when the channel has one, else routing again.
                try db.cachedStatement(sql: """
                        UPDATE rooms SET status = ?, assignee_id = NULL, session = session + 1, division_id = ?,
                            waiting_since = ?, resolved_at = NULL, last_message_at = ?, allocation_requested_at = NULL,
                            last_inbound_at = max(coalesce(last_inbound_at, 0), ?), reply_context = coalesce(?, reply_context),
                            title = coalesce(?, title)
                        WHERE id = ?
                        """).execute(arguments: [opening.rawValue, batch.divisionID, now, now, inboundAt, context, event.conversationTitle, roomID])
                try EngineStore.recordTransition(db, roomID: roomID, from: .resolved, to: opening, assignee: nil, actor: "customer", at: now)
                transitions.append(
                    RoomTransition(
                        roomID: roomID, channelID: batch.channelID, from: .resolved, to: opening, assigneeID: nil, divisionID: batch.divisionID,
                        actor: "customer", at: Date(timeIntervalSince1970: now)))
                status = opening
            }
        } else {
            roomID = try Int64.fetchOne(
                db.cachedStatement(sql: """
                    INSERT INTO rooms (channel_id, conversation_id, contact_id, status, division_id, waiting_since, last_message_at, created_at,
                        last_inbound_at, reply_context, title)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    RETURNING id
                    """),
                arguments: [
                    batch.channelID, event.conversationID, contactID, opening.rawValue, batch.divisionID, now, now, now, inboundAt, context,
                    event.conversationTitle,
                ]) ?? 0
            try EngineStore.recordTransition(db, roomID: roomID, from: nil, to: opening, assignee: nil, actor: "customer", at: now)
            transitions.append(
                RoomTransition(
                    roomID: roomID, channelID: batch.channelID, from: nil, to: opening, assigneeID: nil, divisionID: batch.divisionID,
                    actor: "customer", at: Date(timeIntervalSince1970: now)))
            status = opening
        }
        let waiting = status == .waiting

        let messageID = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO messages (room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                    VALUES (?, 'inbound', ?, ?, ?, ?, ?, ?, ?, 'received')
                    RETURNING id
                    """),
            arguments: [
                roomID, event.content.type.rawValue, event.content.text, event.content.url,
                encoded.content, event.raw, event.networkMessageID, event.occurredAt.timeIntervalSince1970,
            ]) ?? 0
        let stored = StoredMessage(
            id: messageID, roomID: roomID, direction: .inbound, content: event.content, senderUserID: nil,
            networkMessageID: event.networkMessageID, createdAt: event.occurredAt, deliveryStatus: .received, attempts: 0,
            deliveryError: nil, sequence: messageID)
        if status == .bot {
            // The bot has the room: the message goes to the bot's webhook, durably.
            try db.cachedStatement(
                sql: "INSERT INTO outbox (room_id, channel_id, message_id, target, next_attempt_at, created_at) VALUES (?, ?, ?, 'bot', ?, ?)"
            ).execute(arguments: [roomID, batch.channelID, messageID, now, now])
        }
        if let followUp = encoded.followUp {
            try db.cachedStatement(sql: "INSERT INTO outbox (room_id, channel_id, action, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)").execute(arguments: [roomID, batch.channelID, followUp, now, now])
        }
        if waiting && !rooms.contains(roomID) { rooms.append(roomID) }
        return stored
    }

    /// The customer's contact: read, and written only when new or when the
    /// network now reports another name, avatar, email or extras (writing it
    /// on every message dirtied a contacts page per message for nothing).
    static func contact(_ event: InboundEvent, batch: IngestBatch, db: Database, now: TimeInterval) throws -> Int64 {
        let externalID = event.contact.externalID.isEmpty ? event.conversationID : event.contact.externalID
        let profile = event.contact
        if let row = try Row.fetchOne(
            db.cachedStatement(
                sql: "SELECT id, display_name, username, avatar_url, email, extras FROM contacts WHERE channel_id = ? AND external_id = ?"),
            arguments: [batch.channelID, externalID])
        {
            let id: Int64 = row["id"]
            func changed(_ new: String?, _ column: String) -> String? { new.flatMap { $0 == (row[column] as String?) ? nil : $0 } }
            let updates = [
                changed(profile.displayName, "display_name"), changed(profile.username, "username"), changed(profile.avatarURL, "avatar_url"),
                changed(profile.email, "email"), changed(profile.extras, "extras"),
            ]
            if updates.contains(where: { $0 != nil }) {
                try db.cachedStatement(
                    sql: """
                        UPDATE contacts SET display_name = coalesce(?, display_name), username = coalesce(?, username),
                            avatar_url = coalesce(?, avatar_url), email = coalesce(?, email), extras = coalesce(?, extras), updated_at = ?
                        WHERE id = ?
                        """
                ).execute(arguments: [updates[0], updates[1], updates[2], updates[3], updates[4], now, id])
            }
            return id
        }
        // New (or created by another daemon a moment ago: the upsert covers both).
        return try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    INSERT INTO contacts (channel_id, external_id, display_name, username, avatar_url, email, extras, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (channel_id, external_id) DO UPDATE SET
                        display_name = coalesce(excluded.display_name, contacts.display_name),
                        username = coalesce(excluded.username, contacts.username),
                        avatar_url = coalesce(excluded.avatar_url, contacts.avatar_url),
                        email = coalesce(excluded.email, contacts.email),
                        extras = coalesce(excluded.extras, contacts.extras),
                        updated_at = excluded.updated_at
                    RETURNING id
                    """),
            arguments: [
                batch.channelID, externalID, profile.displayName, profile.username, profile.avatarURL, profile.email, profile.extras, now, now,
            ])!
    }

    /// The business's own message sent from elsewhere: kept in the history, not routed.
    static func storeEcho(_ event: InboundEvent, _ encoded: Encoded, batch: IngestBatch, db: Database) throws {
        guard let row = try existingRoom(batch.channelID, event.conversationID, db: db) else { return }
        let roomID: Int64 = row["id"]
        if let id = event.networkMessageID,
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM messages WHERE room_id = ? AND direction = 'outbound' AND network_message_id = ?"), arguments: [roomID, id]) != nil
        {
            return  // our own reply, already in the history
        }
        try db.cachedStatement(sql: """
                INSERT INTO messages (room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                VALUES (?, 'outbound', ?, ?, ?, ?, ?, ?, ?, 'delivered')
                """).execute(arguments: [
                roomID, event.content.type.rawValue, event.content.text, event.content.url,
                encoded.content, event.raw, event.networkMessageID, event.occurredAt.timeIntervalSince1970,
            ])
    }

    /// Receipts move our outbound messages forward only: pending/delivered → read,
    /// never read → delivered; failed unless already read.
    static func apply(_ receipt: Receipt, event: InboundEvent, batch: IngestBatch, db: Database, updates: inout [DeliveryUpdate]) throws {
        guard let row = try existingRoom(batch.channelID, event.conversationID, db: db) else { return }
        let roomID: Int64 = row["id"]
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
#endif
}
