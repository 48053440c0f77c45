import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import OmnichatCore
import PostgresNIO

/// The shared store on PostgreSQL, for several daemons on one database.
/// Everything the daemons must agree on is decided by the database:
/// webhook events are unique by (channel, event id); state changes are
/// SERIALIZABLE transactions (retried on conflict), so an agent's capacity
/// holds whichever daemon assigns; outbox rows are claimed with
/// `FOR UPDATE SKIP LOCKED` and a lease that another daemon takes over when
/// the owner dies; live events get their ids from one sequence.
public final class PostgresStore: Store, @unchecked Sendable {
    public struct Options: Sendable {
        /// Connections (and threads running transactions) per daemon.
        public var poolSize = 10
        public var connectTimeout: Duration = .seconds(10)
        /// A statement running longer is cancelled by PostgreSQL (its transaction fails).
        public var statementTimeout: Duration = .seconds(30)
        /// How long a daemon holds an outbox row it is delivering.
        public var outboxLease: Duration = .seconds(30)
        /// This daemon's name in leases and logs.
        public var nodeName = ProcessInfo.processInfo.hostName
        public var ingestMaxPending = 4096
        /// Stop migrating after the migration whose name starts with this
        /// (tests write a database as an earlier release left it).
        var lastMigration: String?

        public init() {}
    }

    /// A parsed `postgres://user:password@host:port/database?schema=…&sslmode=…`.
    public struct Location: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var schema: String?
        /// `sslmode`, as libpq spells it: `disable` (the default), `prefer` and
        /// `require` (encrypted, certificate not checked), `verify-ca` (signed
        /// by a trusted authority), `verify-full` (and issued for this host).
        public var sslMode = "disable"
        /// `sslrootcert`: a PEM file of authorities to trust (default: the system's).
        public var sslRootCert: String?

        /// The URL with the password hidden (for logs and errors).
        public var redacted: String {
            let query = [schema.map { "schema=\($0)" }, sslMode == "disable" ? nil : "sslmode=\(sslMode)"].compactMap { $0 }
            return "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
                + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        }

        public static func isPostgresURL(_ text: String) -> Bool {
            text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
        }

        public init(url text: String) throws {
            guard Self.isPostgresURL(text), let url = URLComponents(string: text) else {
                throw StorePostgresError.invalidURL("database: not a postgres://user:password@host:port/database URL")
            }
            guard let host = url.host, !host.isEmpty else { throw StorePostgresError.invalidURL("database: the PostgreSQL URL has no host") }
            self.host = host
            self.port = url.port ?? 5432
            self.user = url.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
            self.password = url.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
            let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
            self.database = path.isEmpty ? self.user : path
            self.schema = nil
            for item in url.queryItems ?? [] {
                switch item.name {
                case "schema", "search_path":
                    guard let value = item.value, !value.isEmpty,
                        value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), value.first?.isNumber == false
                    else {
                        throw StorePostgresError.invalidURL("database: schema must be letters, digits and _ (got \(item.value ?? ""))")
                    }
                    self.schema = value.lowercased()
                case "sslmode":
                    let modes = ["disable", "prefer", "require", "verify-ca", "verify-full"]
                    guard let value = item.value, modes.contains(value) else {
                        throw StorePostgresError.invalidURL(
                            "database: sslmode must be one of \(modes.joined(separator: ", ")) (got \(item.value ?? ""))")
                    }
                    self.sslMode = value
                case "sslrootcert":
                    guard let value = item.value, !value.isEmpty else {
                        throw StorePostgresError.invalidURL("database: sslrootcert needs a file path")
                    }
                    self.sslRootCert = value
                case "application_name", "connect_timeout":
                    break
                default:
                    throw StorePostgresError.invalidURL("database: unknown PostgreSQL URL parameter \(item.name)")
                }
            }
        }
    }

    let pool: PostgresPool
    /// Replies and delivery records: each its own short transaction (see `DirectWriter`).
    let batcher: DirectWriter
    public let location: Location
    public let options: Options
    public var nodeName: String { options.nodeName }
    let logger: Logger
    let listener: NotificationListener
    /// The native client the outbox runs on (`PostgresOutbox.swift`).
    let native: AsyncPostgres
    /// Webhook ingest, grouped: one statement and one commit per group (`PostgresIngest.swift`).
    let ingestGroups: PostgresIngestGroups
    private let ingestGate = NIOLockedValueBox((pending: 0, refused: 0))
    var renewal: Task<Void, Never>?

    public init(url: String, options: Options = Options(), logger: Logger = Logger(label: "omnichat.store")) async throws {
        let location = try Location(url: url)
        self.location = location
        self.options = options
        self.logger = logger
        let configuration = try Self.connectionConfiguration(location, options: options)
        let nativeConfiguration = try AsyncPostgres.configuration(
            location, options: options, maximumConnections: max(4, options.poolSize / 2))
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        pool = PostgresPool(configuration: configuration, size: options.poolSize, logger: quiet)
        listener = NotificationListener(
            pool: pool, channel: "omnichat_events_" + (location.schema ?? "public"), logger: quiet)
        batcher = DirectWriter(pool: pool)
        native = AsyncPostgres(configuration: nativeConfiguration, logger: quiet)
        ingestGroups = PostgresIngestGroups(native: native, concurrency: 2)
        do {
            try await migrate()
        } catch {
            pool.shutdown()
            native.shutdown()
            throw error
        }
        startLeaseRenewal()
        logger.info(
            "store opened",
            metadata: ["omnichat.database": .string(location.redacted), "omnichat.pool_size": .stringConvertible(options.poolSize)])
    }

    static func connectionConfiguration(_ location: Location, options: Options) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: try Self.tls(location))
        configuration.options.connectTimeout = TimeAmount.nanoseconds(
            Int64(options.connectTimeout.components.seconds) * 1_000_000_000 + options.connectTimeout.components.attoseconds / 1_000_000_000)
        configuration.options.additionalStartupParameters = startupParameters(location, options: options)
        return configuration
    }

    /// What every connection starts with: its name, the statement timeout, the schema.
    static func startupParameters(_ location: Location, options: Options) -> [(String, String)] {
        var startup: [(String, String)] = [
            ("application_name", "omnichatd " + options.nodeName),
            ("statement_timeout", "\(max(1, Int(options.statementTimeout.seconds * 1000)))ms"),
        ]
        if let schema = location.schema { startup.append(("search_path", "\(schema), public")) }
        return startup
    }

    /// The migrations this release would apply, applying none (`omnichatd
    /// migrate --dry-run`). Throws when the database is newer than this release.
    public static func pendingMigrations(url: String, logger: Logger = Logger(label: "omnichat.store")) async throws -> [String] {
        let location = try Location(url: url)
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        let pool = PostgresPool(configuration: try connectionConfiguration(location, options: Options()), size: 1, logger: quiet)
        defer { pool.shutdown() }
        return try await pool.writeWithoutTransaction { db in
            let exists = try Bool.fetchOne(db, sql: "SELECT to_regclass('omnichat_migrations') IS NOT NULL") ?? false
            let applied = exists ? Set(try String.fetchAll(db, sql: "SELECT version FROM omnichat_migrations")) : []
            try refuseNewer(applied, location: location)
            return PostgresSchema.migrations.map(\.0).filter { !applied.contains($0) }
        }
    }

    /// A database that has migrations this release does not know was written
    /// by a newer release: running on it could corrupt what that release wrote.
    static func refuseNewer(_ applied: Set<String>, location: Location) throws {
        let unknown = applied.subtracting(PostgresSchema.migrations.map(\.0))
        guard unknown.isEmpty else {
            throw StoreError(
                .invalid,
                "the database \(location.redacted) was written by a newer omnichatd (migrations this release does not know: "
                    + unknown.sorted().joined(separator: "; ") + "); run that release, or restore a backup taken before the upgrade")
        }
    }

    /// The TLS settings `sslmode` and `sslrootcert` ask for (`nil`: `disable`).
    static func tlsConfiguration(_ location: Location) throws -> TLSConfiguration? {
        guard location.sslMode != "disable" else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        switch location.sslMode {
        case "verify-full": tls.certificateVerification = .fullVerification
        case "verify-ca": tls.certificateVerification = .noHostnameVerification
        default: tls.certificateVerification = .none
        }
        if let path = location.sslRootCert {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw StorePostgresError.invalidURL("database: cannot read sslrootcert \(path): \(error)")
            }
        }
        return tls
    }

    static func tls(_ location: Location) throws -> PostgresConnection.Configuration.TLS {
        guard let tls = try tlsConfiguration(location) else { return .disable }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw StorePostgresError.invalidURL("database: TLS setup failed: \(error)")
        }
        return location.sslMode == "prefer" ? .prefer(context) : .require(context)
    }

    deinit {
        renewal?.cancel()
        pool.shutdown()
        native.shutdown()
    }

    public func close() async {
        renewal?.cancel()
        listener.stop()
        pool.shutdown()
        native.shutdown()
    }

    /// Runs the migrations not applied yet, under an advisory lock: daemons
    /// starting together take turns, and the later ones find nothing to do.
    func migrate() async throws {
        let location = self.location
        let schema = location.schema
        let lastMigration = options.lastMigration
        try await pool.writeWithoutTransaction { db in
            // One migrator at a time in this database (the lock is the database's, not
            // the schema's: the citext extension is the database's). Waiting for the
            // lock is not a statement that may time out: daemons starting together
            // (or a suite's many test daemons) queue for as long as the migrations
            // before them take; statement_timeout applies again once it is held.
            try db.raw("SET statement_timeout = 0")
            try db.raw("SELECT pg_advisory_lock(7262005118)")
            try db.raw("RESET statement_timeout")
            defer { try? db.raw("SELECT pg_advisory_unlock(7262005118)") }
            if let schema { try db.raw("CREATE SCHEMA IF NOT EXISTS \(schema)") }
            try db.raw("CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public")
            try db.raw(
                "CREATE TABLE IF NOT EXISTS omnichat_migrations (version TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            let applied = Set(try String.fetchAll(db, sql: "SELECT version FROM omnichat_migrations"))
            try Self.refuseNewer(applied, location: location)
            for (version, sql) in PostgresSchema.migrations where !applied.contains(version) {
                try db.raw("BEGIN")
                do {
                    try db.raw(sql)
                    if version.hasPrefix("v1:") { try db.raw(PostgresSchema.seed) }
                    try db.execute(
                        sql: "INSERT INTO omnichat_migrations (version, applied_at) VALUES (?, ?)",
                        arguments: [version, Date().timeIntervalSince1970])
                    try db.raw("COMMIT")
                } catch {
                    try? db.raw("ROLLBACK")
                    throw error
                }
                if let lastMigration, version.hasPrefix(lastMigration) { break }
            }
        }
    }

    /// Webhook requests waiting for a commit, and how many were refused as busy.
    public func ingestBacklog() async -> (waiting: Int, refused: Int) {
        ingestGate.withLockedValue { ($0.pending, $0.refused) }
    }

    /// Webhook requests go in groups to one statement each (`PostgresIngestGroups`):
    /// events are unique by key, contacts are upserts, and a group's
    /// conversations are locked in one order before their rooms are read, so
    /// groups on several daemons never deadlock. Requests past
    /// `ingestMaxPending` are refused as busy, storing nothing.
    public func ingest(_ batch: IngestBatch) async throws -> IngestResult {
        let limit = options.ingestMaxPending
        let admitted = ingestGate.withLockedValue { gate -> Bool in
            guard gate.pending < limit else {
                gate.refused += 1
                return false
            }
            gate.pending += 1
            return true
        }
        guard admitted else {
            throw StoreError(.busy, "the store is behind: \(limit) webhook requests are waiting for a commit")
        }
        defer { ingestGate.withLockedValue { $0.pending -= 1 } }
        do {
            return try await ingestGroups.submit(batch)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.invalid, "could not store events: \(error)")
        }
    }

    /// Transactions run again after a serialization failure or a deadlock.
    public var conflictRetries: Int { pool.retries + native.retries }
}

/// What the SQLite engine groups into one commit (an agent's reply and its
/// outbox row; a delivery's record) runs here as its own READ COMMITTED
/// transaction on the pool: each is a few inserts, or updates of rows by
/// primary key, safe at that level, and PostgreSQL commits concurrent
/// transactions together. One big SERIALIZABLE group would conflict with
/// other daemons' work and be run again whole.
struct DirectWriter: Sendable {
    let pool: PostgresPool

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeReadCommitted(body)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension PostgresStore {
    /// `omnichat_fold` is a SQL function in the PostgreSQL schema.
    static let fold = DatabaseFunction("omnichat_fold", argumentCount: 1, pure: true) { _ in nil }
}

/// The shared logic's name for this engine's store.
typealias EngineStore = PostgresStore
