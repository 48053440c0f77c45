import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The native side of the PostgreSQL engine: postgres-nio's `PostgresClient`,
/// which pools its own connections and runs every query asynchronously (no
/// thread waits on the database). The ports moved off the transitional facade
/// (`SQLFacade`, `PostgresPool`) run here with SQL written for PostgreSQL:
/// the outbox (`PostgresOutbox.swift`).
final class AsyncPostgres: Sendable {
    let client: PostgresClient
    private let running: Task<Void, Never>
    private let retryCount = Mutex(0)

    /// Statements run again after a deadlock or a serialization failure.
    var retries: Int { retryCount.withLock { $0 } }

    static let maxAttempts = 20
    /// Statements log nothing (their text and arguments may carry customers' words).
    static let quiet: Logger = {
        var logger = Logger(label: "omnichat.store.native")
        logger.logLevel = .critical
        return logger
    }()

    init(configuration: PostgresClient.Configuration, logger: Logger) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
    }

    /// Closes the connections (the client's run ends when cancelled).
    func shutdown() {
        running.cancel()
    }

    /// Runs `body` on a pooled connection. Each statement it sends is its own
    /// transaction (the outbox's are single statements: a CTE changes the
    /// outbox row and its message together), so nothing is held between round
    /// trips. A deadlock or serialization failure runs `body` again, after an
    /// asynchronous pause; any other failure is a `StorePostgresError` that
    /// names what failed and PostgreSQL's reason, never the configuration.
    func run<T: Sendable>(_ what: String, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await client.withConnection { connection in try await body(connection) }
            } catch let error as PSQLError {
                if Self.isRetryable(error) && attempt < Self.maxAttempts {
                    retryCount.withLock { $0 += 1 }
                    let pause = Int.random(in: 200...(1_000 + min(attempt, 20) * 1_000))
                    try await Task.sleep(for: .microseconds(pause))
                    continue
                }
                throw StorePostgresError.unavailable("\(what): \(PostgresPool.describe(error))")
            }
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// The client's configuration for a parsed URL: the same server, TLS,
    /// schema, statement timeout and application name as the facade's connections.
    static func configuration(
        _ location: PostgresStore.Location, options: PostgresStore.Options, maximumConnections: Int
    ) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        if let settings = try PostgresStore.tlsConfiguration(location) {
            tls = location.sslMode == "prefer" ? .prefer(settings) : .require(settings)
        } else {
            tls = .disable
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = options.connectTimeout
        configuration.options.additionalStartupParameters = PostgresStore.startupParameters(location, options: options)
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = max(1, maximumConnections)
        configuration.options.connectionIdleTimeout = .seconds(30)
        return configuration
    }
}

extension PostgresConnection {
    /// A query whose text and values are not logged.
    func statement(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await self.query(query, logger: AsyncPostgres.quiet)
    }
}

extension PostgresRandomAccessRow {
    /// The column's value; a missing column or a type that does not decode is a
    /// store error naming the column (a schema this release does not expect).
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard contains(column) else { throw StorePostgresError.unavailable("the result has no column \(column)") }
        do {
            return try self[column].decode(T.self)
        } catch {
            throw StorePostgresError.unavailable("column \(column) does not read as \(T.self)")
        }
    }
}
