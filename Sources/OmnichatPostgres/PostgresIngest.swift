import Foundation
import OmnichatCore
import PostgresNIO

/// Group commit for webhook ingest on PostgreSQL. Requests that arrive while
/// a group is being stored wait and go together into the next one: one
/// statement (`omnichat_ingest_group`, `PostgresSchema+Ingest.swift`), so one
/// round trip and one commit for the whole group, on the native client. Each
/// request runs in its own subtransaction inside it: one that fails stored
/// nothing and gets its own error; the others are stored. A caller resumes
/// only after the commit that holds its events.
///
/// At most `concurrency` groups run at once (each on its own connection): the
/// function locks a group's conversations in one order, so groups never wait
/// on each other in a cycle, on this daemon or across daemons.
actor PostgresIngestGroups {
    private struct Waiting {
        var request: Data
        var batch: IngestBatch
        var continuation: CheckedContinuation<IngestResult, any Error>
    }

    private let native: AsyncPostgres
    private let concurrency: Int
    private var pending: [Waiting] = []
    private var running = 0
    /// Each request is a subtransaction: past 64 in one transaction PostgreSQL's
    /// per-backend cache of them overflows and every session slows down.
    static let maxRequestsPerGroup = 64
    /// Each conversation is an advisory lock held to the commit: the lock table
    /// is shared (`max_locks_per_transaction` × `max_connections`).
    static let maxEventsPerGroup = 1000
    static let maxBytesPerGroup = 8 << 20

    init(native: AsyncPostgres, concurrency: Int) {
        self.native = native
        self.concurrency = max(1, concurrency)
    }

    /// Stores one webhook request's events in the next group; returns once committed.
    nonisolated func submit(_ batch: IngestBatch) async throws -> IngestResult {
        // Encoded on the caller's task, not on the actor.
        let request = try PostgresIngestRequest.encode(batch)
        return try await wait(request, batch)
    }

    private func wait(_ request: Data, _ batch: IngestBatch) async throws -> IngestResult {
        try await withCheckedThrowingContinuation { continuation in
            enqueue(Waiting(request: request, batch: batch, continuation: continuation))
        }
    }

    private func enqueue(_ waiting: Waiting) {
        pending.append(waiting)
        if running < concurrency {
            running += 1
            Task { await self.drain() }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            var bytes = 0
            var events = 0
            var take = 0
            // At least one request, however large; then as many as fit.
            while take < pending.count && take < Self.maxRequestsPerGroup
                && (take == 0
                    || (bytes + pending[take].request.count <= Self.maxBytesPerGroup
                        && events + pending[take].batch.events.count <= Self.maxEventsPerGroup))
            {
                bytes += pending[take].request.count
                events += pending[take].batch.events.count
                take += 1
            }
            let group = Array(pending.prefix(take))
            pending.removeFirst(take)
            await store(group)
        }
        running -= 1
    }

    private func store(_ group: [Waiting]) async {
        var body = Data("[".utf8)
        for (index, waiting) in group.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(waiting.request)
        }
        body.append(UInt8(ascii: "]"))
        let requests = String(decoding: body, as: UTF8.self)
        let now = Date().timeIntervalSince1970
        let answers: [PostgresIngestRequest.Answer]
        do {
            let text = try await native.run("storing webhooks") { connection -> String in
                let rows = try await connection.statement("SELECT omnichat_ingest_group(\(now), \(requests)::jsonb)::text")
                for try await text in rows.decode(String.self) { return text }
                throw StorePostgresError.unavailable("storing webhooks: no answer")
            }
            answers = try JSONDecoder().decode([PostgresIngestRequest.Answer].self, from: Data(text.utf8))
            guard answers.count == group.count else {
                throw StorePostgresError.unavailable("storing webhooks: \(answers.count) answers for \(group.count) requests")
            }
        } catch {
            // Nothing of the group was stored: each network redelivers.
            for waiting in group {
                waiting.continuation.resume(throwing: StoreError(.busy, "the store could not commit: \(error)"))
            }
            return
        }
        let at = Date(timeIntervalSince1970: now)
        for (waiting, answer) in zip(group, answers) {
            if let error = answer.error {
                waiting.continuation.resume(throwing: StoreError(.invalid, "could not store events: \(error)"))
            } else {
                waiting.continuation.resume(returning: answer.result(for: waiting.batch, at: at))
            }
        }
    }
}

/// One webhook request as `omnichat_ingest` reads it, and what it answers.
enum PostgresIngestRequest {
    struct Request: Encodable {
        var channel: String
        var bot: Bool
        var division: Int64?
        var events: [Event]
    }

    struct Event: Encodable {
        var kind: String
        var eventID: String
        var conversationID: String
        var raw: String
        var externalID: String
        var displayName, username, avatarURL, email, extras: String?
        var occurredAt: Double
        var type: String
        var text, url: String?
        var content: String
        var networkMessageID, replyContext, followUp, title: String?
        var receiptStatus: String?
        var receiptIDs: [String]?
        var receiptError: String?
        var watermark: Double?
        var noticeKind, noticeName: String?

        enum CodingKeys: String, CodingKey {
            case kind, raw, username, email, extras, type, text, url, content, title, watermark
            case eventID = "event_id", conversationID = "conversation_id", externalID = "external_id", displayName = "display_name"
            case avatarURL = "avatar_url", occurredAt = "occurred_at", networkMessageID = "network_message_id"
            case replyContext = "reply_context", followUp = "follow_up", receiptStatus = "receipt_status", receiptIDs = "receipt_ids"
            case receiptError = "receipt_error", noticeKind = "notice_kind", noticeName = "notice_name"
        }
    }

    /// PostgreSQL text cannot hold U+0000: it is stored as U+FFFD, as everywhere on this engine.
    static func clean(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    static func clean(_ text: String?) -> String? { text.map(clean) }

    static func encode(_ batch: IngestBatch) throws -> Data {
        let events = batch.events.map { event -> Event in
            let encoded = IngestWriter.Encoded(event)
            var row = Event(
                kind: "message", eventID: clean(event.eventID), conversationID: clean(event.conversationID), raw: clean(event.raw),
                externalID: clean(event.contact.externalID), displayName: clean(event.contact.displayName),
                username: clean(event.contact.username), avatarURL: clean(event.contact.avatarURL), email: clean(event.contact.email),
                extras: clean(event.contact.extras), occurredAt: event.occurredAt.timeIntervalSince1970,
                type: event.content.type.rawValue, text: clean(event.content.text), url: clean(event.content.url),
                content: clean(encoded.content), networkMessageID: clean(event.networkMessageID),
                replyContext: clean(encoded.replyContext), followUp: clean(encoded.followUp), title: clean(event.conversationTitle))
            switch event.kind {
            case .message: break
            case .echo: row.kind = "echo"
            case .receipt(let receipt):
                row.kind = "receipt"
                row.receiptStatus = receipt.status.rawValue
                row.receiptIDs = receipt.networkMessageIDs.map(clean)
                row.receiptError = clean(receipt.error)
                row.watermark = receipt.watermark?.timeIntervalSince1970
            case .system(let name):
                row.kind = "system"
                row.noticeKind = RoomNotice.kind(ofSystemEvent: name)
                row.noticeName = clean(event.content.text ?? event.contact.displayName)
            }
            return row
        }
        return try JSONEncoder().encode(
            Request(channel: clean(batch.channelID), bot: batch.botEnabled, division: batch.divisionID, events: events))
    }

    struct Answer: Decodable {
        struct Transition: Decodable {
            var room: Int64
            var from: String?
            var to: String
        }

        struct Message: Decodable {
            var index: Int
            var id: Int64
            var room: Int64
        }

        struct Delivery: Decodable {
            var room: Int64
            var id: Int64
            var status: String
            var attempts: Int
            var error: String?
        }

        struct Notice: Decodable {
            var room: Int64
            var kind: String
            var name: String?
        }

        var error: String?
        var stored: Int?
        var duplicates: Int?
        var rooms: [Int64]?
        var transitions: [Transition]?
        var messages: [Message]?
        var deliveries: [Delivery]?
        var notices: [Notice]?

        func result(for batch: IngestBatch, at: Date) -> IngestResult {
            IngestResult(
                stored: stored ?? 0, duplicates: duplicates ?? 0, roomIDs: rooms ?? [],
                transitions: (transitions ?? []).map {
                    RoomTransition(
                        roomID: $0.room, channelID: batch.channelID, from: $0.from.flatMap(RoomStatus.init(rawValue:)),
                        to: RoomStatus(rawValue: $0.to) ?? .waiting, assigneeID: nil, divisionID: batch.divisionID, actor: "customer", at: at)
                },
                messages: (messages ?? []).compactMap { message in
                    guard batch.events.indices.contains(message.index) else { return nil }
                    let event = batch.events[message.index]
                    return StoredMessage(
                        id: message.id, roomID: message.room, direction: .inbound, content: event.content, senderUserID: nil,
                        networkMessageID: event.networkMessageID, createdAt: event.occurredAt, deliveryStatus: .received, attempts: 0,
                        deliveryError: nil, sequence: message.id)
                },
                deliveries: (deliveries ?? []).map {
                    DeliveryUpdate(
                        roomID: $0.room, messageID: $0.id, status: DeliveryStatus(rawValue: $0.status) ?? .delivered, attempts: $0.attempts,
                        error: $0.error)
                },
                notices: (notices ?? []).map { RoomNotice(roomID: $0.room, kind: $0.kind, name: $0.name, at: at) })
        }
    }
}
