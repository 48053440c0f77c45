import Foundation
import OmnichatCore
import Synchronization

/// An in-memory fake of `OutboxPort` for fast tests of the delivery worker:
/// rows in order, at most one due row per room at a time (the oldest), retries
/// kept back until their time, delivered and failed rows kept for inspection.
public actor InMemoryOutbox: OutboxPort {
    public enum Status: String, Sendable { case pending, delivered, failed }

    public struct Row: Sendable, Equatable {
        public var item: OutboxItem
        public var status: Status
        public var nextAttemptAt: Date
        public var lastError: String?
        public var networkMessageID: String?
        public var createdAt: Date
    }

    public private(set) var rows: [Row] = []
    /// Reply contexts by room (a context is taken once).
    private var contexts: [Int64: [String: String]] = [:]
    private var nextID: Int64 = 1

    public init() {}

    /// Queues a reply (or an action) for a room; returns the row's id.
    @discardableResult
    public func add(
        channelID: String, roomID: Int64, conversationID: String = "conversation", payload: OutboxItem.Payload,
        target: OutboxTarget = .channel, due: Date = Date()
    ) -> Int64 {
        let id = nextID
        nextID += 1
        let item = OutboxItem(id: id, channelID: channelID, roomID: roomID, conversationID: conversationID, payload: payload, partsDone: 0, attempts: 0, target: target)
        rows.append(Row(item: item, status: .pending, nextAttemptAt: due, createdAt: Date()))
        return id
    }

    public func setReplyContext(roomID: Int64, _ context: [String: String]) {
        contexts[roomID] = context
    }

    public func row(_ id: Int64) -> Row? { rows.first { $0.item.id == id } }

    private func update(_ id: Int64, _ change: (inout Row) -> Void) {
        guard let index = rows.firstIndex(where: { $0.item.id == id }) else { return }
        change(&rows[index])
    }

    // MARK: OutboxPort

    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem] {
        var seenRooms: Set<Int64> = []
        var due: [OutboxItem] = []
        for row in rows where row.status == .pending {
            // A room's rows go in order: only its oldest pending row can be due.
            guard seenRooms.insert(row.item.roomID).inserted else { continue }
            guard row.nextAttemptAt <= now, !excluding.contains(row.item.id), !excludingChannels.contains(row.item.channelID) else { continue }
            due.append(row.item)
            if due.count == limit { break }
        }
        return due
    }

    public func nextOutboxDue() async throws -> Date? {
        rows.filter { $0.status == .pending }.map(\.nextAttemptAt).min()
    }

    public func takeReplyContext(roomID: Int64) async throws -> [String: String]? {
        contexts.removeValue(forKey: roomID)
    }

    public func recordPartDelivered(outboxID: Int64, partsDone: Int) async throws {
        update(outboxID) { $0.item.partsDone = partsDone }
    }

    public func markDelivered(outboxID: Int64, attempts: Int, networkMessageID: String?) async throws {
        update(outboxID) {
            $0.status = .delivered
            $0.item.attempts = attempts
            $0.networkMessageID = networkMessageID
            $0.lastError = nil
        }
    }

    public func scheduleRetry(outboxID: Int64, attempts: Int, at: Date, error: String) async throws {
        update(outboxID) {
            $0.item.attempts = attempts
            $0.nextAttemptAt = at
            $0.lastError = error
        }
    }

    public func markFailed(outboxID: Int64, attempts: Int, error: String) async throws {
        update(outboxID) {
            $0.status = .failed
            $0.item.attempts = attempts
            $0.lastError = error
        }
    }

    public func failedDeliveries(channelIDs: [String], cursor: Int64?, limit: Int) async throws -> Page<FailedDelivery> {
        let failed = rows.reversed().filter { row in
            row.status == .failed && (channelIDs.isEmpty || channelIDs.contains(row.item.channelID)) && (cursor.map { row.item.id < $0 } ?? true)
        }
        let page = failed.prefix(limit).map { row -> FailedDelivery in
            var messageID: Int64?
            if case .message(let id, _) = row.item.payload { messageID = id }
            return FailedDelivery(
                id: row.item.id, roomID: row.item.roomID, channelID: row.item.channelID, messageID: messageID, target: row.item.target,
                attempts: row.item.attempts, error: row.lastError, createdAt: row.createdAt)
        }
        return Page(items: Array(page), nextCursor: failed.count > limit ? page.last.map { String($0.id) } : nil)
    }

    public func retryDelivery(messageID: Int64) async throws -> Bool {
        guard let index = rows.firstIndex(where: { row in
            if case .message(let id, _) = row.item.payload, id == messageID, row.status == .failed { return true }
            return false
        }) else { return false }
        rows[index].status = .pending
        rows[index].item.attempts = 0
        rows[index].nextAttemptAt = Date()
        rows[index].lastError = nil
        return true
    }
}

/// An `HTTPTransport` that answers from a script (in order; the last answer
/// repeats) and records every request: for tests of the delivery logic. The
/// real transport (libcurl) is tested against local fakes of each network.
public final class ScriptedTransport: HTTPTransport {
    public enum Answer: Sendable {
        case response(HTTPResponseDescription)
        case failure(TransportError)

        /// An answer with this status and body.
        public static func status(_ code: Int, body: String = "{}", headers: [(name: String, value: String)] = []) -> Answer {
            .response(HTTPResponseDescription(status: code, headers: headers, body: Data(body.utf8)))
        }
    }

    private let state: Mutex<(answers: [Answer], requests: [HTTPRequestDescription])>

    public init(_ answers: [Answer]) {
        state = Mutex((answers, []))
    }


    public var requests: [HTTPRequestDescription] { state.withLock { $0.requests } }

    public func send(_ request: HTTPRequestDescription, timeout: Duration) async throws -> HTTPResponseDescription {
        let answer = state.withLock { (state: inout (answers: [Answer], requests: [HTTPRequestDescription])) -> Answer in
            state.requests.append(request)
            return state.answers.count > 1 ? state.answers.removeFirst() : state.answers[0]
        }
        switch answer {
        case .response(let response): return response
        case .failure(let error): throw error
        }
    }
}
