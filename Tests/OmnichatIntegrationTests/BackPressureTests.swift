import Foundation
import GRDB
import Testing

/// When the store falls behind, webhooks are still answered inside the
/// networks' deadlines: committed and acknowledged, or 503 with Retry-After
/// and redelivered later, never lost and never stored twice.
@Suite("Back-pressure", .serialized)
struct BackPressureTests {
    struct WriteLockTimeout: Error, CustomStringConvertible {
        let path: String
        var description: String { "the write lock on \(path) was not taken within 15 s" }
    }

    /// The lock holder's error, read by the test's thread.
    final class FailureBox: @unchecked Sendable {
        private let lock = NSLock()
        private var error: (any Error)?
        func set(_ error: any Error) { lock.withLock { self.error = error } }
        func get() -> (any Error)? { lock.withLock { error } }
    }

    /// Another process holds SQLite's write lock for `seconds` (a backup, a
    /// stuck maintenance job): our writer cannot commit meanwhile.
    ///
    /// The daemon may be committing at that moment, so the lock is taken with
    /// a busy timeout, and a failure to take it fails the test instead of
    /// leaving the caller waiting forever.
    static func holdWriteLock(_ path: String, seconds: Double) throws -> Thread {
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(10)
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let locked = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        let thread = Thread {
            do {
                try queue.writeWithoutTransaction { db in
                    try db.execute(sql: "BEGIN IMMEDIATE")
                    locked.signal()
                    Thread.sleep(forTimeInterval: seconds)
                    try db.execute(sql: "COMMIT")
                }
            } catch {
                failure.set(error)
                locked.signal()
            }
        }
        thread.start()
        guard locked.wait(timeout: .now() + 15) == .success else {
            throw WriteLockTimeout(path: path)
        }
        if let error = failure.get() { throw error }
        return thread
    }

    @Test("a stalled store: every webhook answered within LINE's 2 s, as 503 + Retry-After; redelivered, each stored once")
    func stalledStore() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.ingestDeadlineSeconds = 0.5
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let url = daemon.base + "/webhooks/tg"
        let secret = [(name: "X-Telegram-Bot-Api-Secret-Token", value: "test-secret")]

        _ = try Self.holdWriteLock(daemon.configuration.database, seconds: 3.5)
        let clock = ContinuousClock()
        let answers = try await withThrowingTaskGroup(of: (Int, Int, Duration, String?).self) { group in
            for id in 1...40 {
                group.addTask {
                    let started = clock.now
                    let answer = try await call("POST", url, body: telegramUpdate(id, chat: Int64(5000 + id % 7)), headers: secret)
                    let retryAfter = answer.headers.first { $0.name.lowercased() == "retry-after" }?.value
                    return (id, answer.status, clock.now - started, retryAfter)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let slowest = answers.map(\.2).max() ?? .zero
        #expect(slowest < .seconds(2), "slowest answer took \(slowest)")
        let refused = answers.filter { $0.1 == 503 }
        #expect(refused.count == 40, "statuses: \(Set(answers.map(\.1)))")
        #expect(refused.allSatisfy { $0.3 == "1" }, "every 503 carries Retry-After: 1")

        // The network redelivers until it gets a 2xx, as networks do.
        try await eventually(timeout: .seconds(15), "redeliveries accepted") {
            var pending = 0
            for id in 1...40 {
                let answer = try await call("POST", url, body: telegramUpdate(id, chat: Int64(5000 + id % 7)), headers: secret)
                if answer.status != 200 { pending += 1 }
            }
            return pending == 0
        }
        #expect(try await daemon.store.countMessages(direction: .inbound) == 40)
        await daemon.stop()
    }

    @Test("a full ingest backlog is refused at once, with a message naming the backlog")
    func fullBacklog() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.ingestMaxPending = 4
            $0.ingestDeadlineSeconds = 1.5
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let url = daemon.base + "/webhooks/tg"
        let secret = [(name: "X-Telegram-Bot-Api-Secret-Token", value: "test-secret")]
        _ = try Self.holdWriteLock(daemon.configuration.database, seconds: 2.5)
        let clock = ContinuousClock()
        let answers = try await withThrowingTaskGroup(of: (Int, Duration, String).self) { group in
            for id in 1...30 {
                group.addTask {
                    let started = clock.now
                    let answer = try await call("POST", url, body: telegramUpdate(id), headers: secret)
                    return (answer.status, clock.now - started, answer.text)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.0 == 503 })
        // "At once" means without waiting for the ingest deadline (1.5 s): the
        // backlog refusals are told apart by their message, not by a wall-clock
        // bound a loaded CI machine can miss (18 of 30 under 500 ms once).
        let backlog = answers.filter { $0.2.contains("waiting for a commit") }
        #expect(backlog.count >= 20, "refused for the full backlog: \(backlog.count) of 30")
        let slowest = backlog.map(\.1).max() ?? .zero
        #expect(slowest < .milliseconds(1500), "a backlog refusal waited \(slowest), as long as the deadline")
        // Once the lock is gone, ingest works again.
        try await eventually(timeout: .seconds(10), "store back") {
            try await call("POST", url, body: telegramUpdate(99), headers: secret).status == 200
        }
        let metrics = try await call("GET", daemon.base + "/metrics").text
        #expect(metrics.contains("outcome=\"busy\""))
        await daemon.stop()
    }
}
