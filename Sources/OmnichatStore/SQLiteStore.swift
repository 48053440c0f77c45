import Foundation
import GRDB
import Logging
import OmnichatCore

/// The embedded store: one SQLite file in WAL mode. Webhook ingests are
/// grouped: requests that arrive while a commit is in progress are committed
/// together in the next transaction, each in its own savepoint, and each is
/// answered only after that commit.
public final class SQLiteStore: Store {
    public enum Synchronous: String, Sendable, CaseIterable {
        case off = "OFF", normal = "NORMAL", full = "FULL", extra = "EXTRA"
    }

    let pool: DatabasePool
    let path: String
    /// This daemon's name, recorded on the outbox rows it delivers.
    public let nodeName: String
    let batcher: IngestBatcher

    /// `ingestMaxPending` and `ingestDeadline`: the back-pressure limits of
    /// group commit (see `IngestBatcher`).
    public init(
        path: String, synchronous: Synchronous = .full, ingestMaxPending: Int = 4096, ingestDeadline: Duration = .milliseconds(1500),
        nodeName: String = ProcessInfo.processInfo.hostName, logger: Logger = Logger(label: "omnichat.store")
    ) async throws {
        self.path = path
        self.nodeName = nodeName
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Each webhook of a group commit runs in its own savepoint, and a
            // savepoint keeps the first version of every page it changes in a
            // statement journal: a temporary file by default, so every page
            // changed was also written there (about half of all `pwrite`s).
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB sets synchronous=NORMAL on the writer after prepareDatabase; set ours afterwards.
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous.rawValue)")
        }
        let migrator = SQLiteSchema.migrator()
        try await pool.read { db in try Self.refuseNewer(try migrator.appliedIdentifiers(db), path: path, migrator: migrator) }
        try migrator.migrate(pool)
        self.pool = pool
        self.batcher = IngestBatcher(pool: pool, limits: .init(maxPending: ingestMaxPending, deadline: ingestDeadline))
        logger.info(
            "store opened", metadata: ["omnichat.database": .string(path), "omnichat.synchronous": .string(synchronous.rawValue)])
    }

    /// The migrations this release would apply to the file, applying none
    /// (`omnichatd migrate --dry-run`); all of them when there is no file yet.
    /// Throws when the file is newer than this release.
    public static func pendingMigrations(path: String) throws -> [String] {
        let migrator = SQLiteSchema.migrator()
        guard FileManager.default.fileExists(atPath: path) else { return migrator.migrations }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            try refuseNewer(applied, path: path, migrator: migrator)
            return migrator.migrations.filter { !applied.contains($0) }
        }
    }

    /// A file with migrations this release does not know was written by a
    /// newer release: running on it could corrupt what that release wrote.
    static func refuseNewer(_ applied: Set<String>, path: String, migrator: DatabaseMigrator) throws {
        let unknown = applied.subtracting(migrator.migrations)
        guard unknown.isEmpty else {
            throw StoreError(
                .invalid,
                "the database \(path) was written by a newer omnichatd (migrations this release does not know: "
                    + unknown.sorted().joined(separator: "; ") + "); run that release, or restore a backup taken before the upgrade")
        }
    }

    /// The writer's `PRAGMA synchronous` as SQLite reports it (0 off, 1 normal, 2 full, 3 extra).
    public func synchronousLevel() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() async throws -> String {
        try await pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }

    /// Webhook requests waiting for a commit, and how many were refused as busy.
    public func ingestBacklog() async -> (waiting: Int, refused: Int) {
        (await batcher.waiting, await batcher.refused)
    }

    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem] {
        let channelClause =
            excludingChannels.isEmpty ? "" : " AND outbox.channel_id NOT IN (\(excludingChannels.map { _ in "?" }.joined(separator: ",")))"
        var arguments: StatementArguments = [now.timeIntervalSince1970]
        arguments += StatementArguments(Array(excludingChannels))
        arguments += [limit + excluding.count]
        let finalArguments = arguments
        return try await pool.read { db in
            // Cached: the text varies only with how many channels are excluded.
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT outbox.*, rooms.conversation_id, rooms.last_inbound_at, messages.content, users.name AS sender_name
                    FROM outbox INDEXED BY outbox_due
                    JOIN rooms ON rooms.id = outbox.room_id
                    LEFT JOIN messages ON messages.id = outbox.message_id
                    LEFT JOIN users ON users.id = messages.sender_user_id
                    WHERE outbox.status = 'pending' AND outbox.next_attempt_at <= ?\(channelClause)
                      -- each room's rows in order: only the oldest pending one is due
                      AND NOT EXISTS (
                          SELECT 1 FROM outbox AS earlier INDEXED BY outbox_room_order
                          WHERE earlier.room_id = outbox.room_id AND earlier.target = outbox.target
                            AND earlier.status = 'pending' AND earlier.id < outbox.id)
                    ORDER BY outbox.next_attempt_at, outbox.id
                    LIMIT ?
                    """),
                arguments: finalArguments)
            return rows.filter { !excluding.contains($0["id"]) }.compactMap(Rows.outboxItem).prefix(limit).map { $0 }
        }
    }

}

/// The shared logic's name for this engine's store.
typealias EngineStore = SQLiteStore

extension SQLiteStore {
    /// Group commit: see `IngestBatcher`.
    public func ingest(_ batch: IngestBatch) async throws -> IngestResult {
        try await batcher.submit(IngestWriter.prepare(batch))
    }
}

extension SQLiteStore: DaemonStore {
    /// One daemon per SQLite file: live events stay in its memory.
    public var eventLog: (any LiveEventLog)? { nil }

    public var conflictRetries: Int { 0 }

    public func close() async {
        try? pool.close()
    }
}
