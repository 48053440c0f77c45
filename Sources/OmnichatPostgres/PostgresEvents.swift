import Foundation
import Logging
import NIOCore
import OmnichatCore
import PostgresNIO

extension PostgresStore: DaemonStore {
    public var eventLog: (any LiveEventLog)? { self }
}

/// The live-event log on the native client: one statement per call.
extension PostgresStore: LiveEventLog {
    public func append(_ bodies: [String]) async throws -> [Int64] {
        guard !bodies.isEmpty else { return [] }
        let node = options.nodeName
        let now = Date().timeIntervalSince1970
        // One row per body, in order: the ids come back in the order of the bodies.
        var binds = PostgresBindings(capacity: bodies.count + 2)
        binds.append(node)
        binds.append(now)
        var values: [String] = []
        for (index, body) in bodies.enumerated() {
            binds.append(body)
            values.append("($1, $\(index + 3), $2)")
        }
        let query = PostgresQuery(
            unsafeSQL: "INSERT INTO live_events (node, body, at) VALUES " + values.joined(separator: ", ") + " RETURNING id", binds: binds)
        return try await native.run("appending live events") { connection in
            try await connection.statement(query).collect().map { try $0.decode(Int64.self) }
        }
    }

    public func events(after id: Int64, limit: Int) async throws -> [LoggedEvent] {
        try await loggedEvents("SELECT id, body, at FROM live_events WHERE id > \(id) ORDER BY id LIMIT \(limit)")
    }

    public func events(ids: [Int64]) async throws -> [LoggedEvent] {
        guard !ids.isEmpty else { return [] }
        return try await loggedEvents("SELECT id, body, at FROM live_events WHERE id = ANY(\(ids)) ORDER BY id")
    }

    private func loggedEvents(_ query: PostgresQuery) async throws -> [LoggedEvent] {
        try await native.run("reading live events") { connection in
            try await connection.statement(query).collect().map { row in
                let (id, body, at) = try row.decode((Int64, String, Double).self)
                return LoggedEvent(id: id, body: body, at: Date(timeIntervalSince1970: at))
            }
        }
    }

    public func horizon(olderThan seconds: Double) async throws -> Int64 {
        let before = Date().timeIntervalSince1970 - seconds
        return try await native.run("reading the live-event horizon") { connection in
            for try await id in try await connection.statement(
                "SELECT coalesce(max(id), 0)::bigint FROM live_events WHERE at < \(before)"
            ).decode(Int64.self) {
                return id
            }
            return 0
        }
    }

    public func notifications() -> AsyncStream<Void> { listener.subscribe() }

    public func prune(olderThan seconds: Double) async throws {
        let before = Date().timeIntervalSince1970 - seconds
        try await native.run("pruning live events") { connection in
            _ = try await connection.statement("DELETE FROM live_events WHERE at < \(before)")
        }
    }
}

/// One connection that LISTENs, reconnecting when it drops; wakes its
/// subscribers on every notification (and once after each reconnect, so
/// nothing sent while it was away is missed).
final class NotificationListener: @unchecked Sendable {
    private let pool: PostgresPool
    private let channel: String
    private let logger: Logger
    private let lock = NSLock()
    private var subscribers: [Int: AsyncStream<Void>.Continuation] = [:]
    private var next = 0
    private var task: Task<Void, Never>?

    init(pool: PostgresPool, channel: String, logger: Logger) {
        self.pool = pool
        self.channel = channel
        self.logger = logger
    }

    func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        lock.withLock {
            next += 1
            subscribers[next] = continuation
            if task == nil { task = Task { await self.loop() } }
        }
        return stream
    }

    private func wake() {
        for subscriber in lock.withLock({ Array(subscribers.values) }) { subscriber.yield() }
    }

    func stop() {
        let (task, all) = lock.withLock { () -> (Task<Void, Never>?, [AsyncStream<Void>.Continuation]) in
            defer {
                self.task = nil
                subscribers.removeAll()
            }
            return (self.task, Array(subscribers.values))
        }
        task?.cancel()
        for subscriber in all { subscriber.finish() }
    }

    private func loop() async {
        var delay: UInt64 = 100_000_000
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: pool.configuration, id: 0, logger: logger
                ).get()
                defer { closeLater(connection) }
                try await withTaskCancellationHandler {
                    try await connection.listen(on: channel) { notifications in
                        delay = 100_000_000
                        wake()  // anything appended while this connection was away
                        for try await _ in notifications { wake() }
                    }
                } onCancel: {
                    closeLater(connection)
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("live events: LISTEN connection lost, reconnecting", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(nanoseconds: delay)
            delay = min(delay * 2, 5_000_000_000)
        }
    }
}
