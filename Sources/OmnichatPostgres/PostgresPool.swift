import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Connections to one PostgreSQL database and the threads that run the
/// store's transactions on them. A write is a SERIALIZABLE transaction,
/// retried from the start when PostgreSQL reports a serialization failure or
/// a deadlock: the shared logic was written for SQLite's one writer at a
/// time, and serializable isolation gives it the same guarantee with several
/// daemons writing at once.
final class PostgresPool: @unchecked Sendable {
    let configuration: PostgresConnection.Configuration
    let logger: Logger
    let dialect = SQLDialect()
    let size: Int
    private let threads: NIOThreadPool
    private let lock = NSLock()
    private var idle: [PostgresConnection] = []
    private var nextID = 0
    private var shutDown = false
    /// Transactions retried after a serialization failure or deadlock (metrics).
    private(set) var retries = 0

    static let maxAttempts = 60

    init(configuration: PostgresConnection.Configuration, size: Int, logger: Logger) {
        self.configuration = configuration
        self.size = max(1, size)
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: self.size)
        threads.start()
    }

    func shutdown() {
        let connections = lock.withLock { () -> [PostgresConnection] in
            if shutDown { return [] }
            shutDown = true
            defer { idle = [] }
            return idle
        }
        for connection in connections { closeLater(connection) }
        threads.shutdownGracefully { _ in }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await run(begin: Self.readOnly, body)
    }

    static let readOnly = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await run(begin: "BEGIN ISOLATION LEVEL SERIALIZABLE", body)
    }

    /// A READ COMMITTED write, for work whose statements are safe at that
    /// level by construction (webhook ingest: unique keys, upserts, and a lock
    /// per conversation), so unrelated conversations never conflict.
    func writeReadCommitted<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await run(begin: "BEGIN ISOLATION LEVEL READ COMMITTED", body)
    }

    func writeWithoutTransaction<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await run(begin: nil, body)
    }

    private func run<T: Sendable>(begin: String?, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await threads.runIfActive { try self.blocking(begin: begin, body) }
    }

    /// On a pool thread: one connection, one transaction, retried when PostgreSQL asks.
    private func blocking<T>(begin: String?, _ body: (Database) throws -> T) throws -> T {
        let connection = try checkout()
        var attempt = 0
        while true {
            attempt += 1
            let db = Database(connection: connection, logger: logger, dialect: dialect)
            do {
                if let begin { db.pipelined(begin) }
                let value = try body(db)
                if begin == Self.readOnly {
                    // Nothing to keep: the COMMIT goes out without a wait; the
                    // connection's next user is queued behind it.
                    try db.flush()
                    db.pipelined("COMMIT")
                } else if begin != nil {
                    try db.commit()
                } else {
                    try db.flush()
                }
                checkin(connection)
                return value
            } catch let thrown {
                // A pipelined statement's failure is the cause, whatever the body
                // made of the `changesCount` it could not read.
                let error = db.failure ?? thrown
                if connection.isClosed {
                    throw StorePostgresError.unavailable("the connection to PostgreSQL was lost: \(error)")
                }
                if begin != nil { db.abandon() }
                if Self.isRetryable(error) && attempt < Self.maxAttempts {
                    lock.withLock { retries += 1 }
                    // Back off a little, more each time, with jitter, so the
                    // transactions that collided do not collide again.
                    usleep(UInt32.random(in: 200...(1_000 + UInt32(min(attempt, 20)) * 1_000)))
                    continue
                }
                checkin(connection)
                throw error
            }
        }
    }

    /// What went wrong, without the generic text PostgresNIO gives (and without
    /// anything from the configuration: no password).
    static func describe(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] {
            return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
        }
        return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
    }

    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        // serialization_failure, deadlock_detected
        return error.extendedResultCode.raw == "40001" || error.extendedResultCode.raw == "40P01"
    }

    private func checkout() throws -> PostgresConnection {
        let reused = lock.withLock { () -> PostgresConnection? in
            while let connection = idle.popLast() {
                if !connection.isClosed { return connection }
            }
            nextID += 1
            return nil
        }
        if let reused { return reused }
        return try connect()
    }

    func connect() throws -> PostgresConnection {
        let id = lock.withLock { () -> Int in
            nextID += 1
            return nextID
        }
        do {
            return try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger
            ).wait()
        } catch let error as PSQLError {
            throw StorePostgresError.unavailable("cannot connect to PostgreSQL at \(configuration.host ?? "?"): \(Self.describe(error))")
        } catch {
            throw StorePostgresError.unavailable("cannot connect to PostgreSQL: \(error)")
        }
    }

    private func checkin(_ connection: PostgresConnection) {
        let close = lock.withLock { () -> Bool in
            if shutDown || connection.isClosed || idle.count >= size { return true }
            idle.append(connection)
            return false
        }
        if close { closeLater(connection) }
    }
}

public enum StorePostgresError: Error, CustomStringConvertible {
    case unavailable(String)
    case invalidURL(String)

    public var description: String {
        switch self {
        case .unavailable(let m), .invalidURL(let m): return m
        }
    }
}

/// The shared logic's name for the pool type.
typealias DatabasePool = PostgresPool

/// Closes a connection without waiting, keeping it referenced until the close
/// completes (PostgresNIO requires a connection to be closed before it goes).
func closeLater(_ connection: PostgresConnection) {
    (connection.close() as EventLoopFuture<Void>).whenComplete { _ in withExtendedLifetime(connection) {} }
}
