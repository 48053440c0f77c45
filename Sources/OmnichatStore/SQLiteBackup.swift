import Foundation
import GRDB
import OmnichatCore

/// Backups of the SQLite file while a daemon runs (`omnichatd backup`), and
/// restores (`omnichatd restore`).
extension SQLiteStore {
    /// Copies the database with SQLite's backup API inside one read
    /// transaction: a consistent copy as of its start, while webhooks go on
    /// being committed (WAL: readers never block the writer). The copy is
    /// written beside `destination`, checked (`PRAGMA integrity_check`), then
    /// renamed into place; `destination` must not exist. Returns its size in bytes.
    ///
    /// The daemon's commits wait for the disk (fsync), so a copy that floods
    /// it with writes slows every webhook: the copy goes in steps of 4 MiB at
    /// most `bytesPerSecond` (0: as fast as the disk allows), and each 16 MiB
    /// is flushed as it goes, so the kernel never has a burst of the copy's
    /// dirty pages queued in front of a commit.
    @discardableResult
    public static func backup(path: String, to destination: String, bytesPerSecond: Int = 64 << 20) throws -> Int {
        let files = FileManager.default
        guard files.fileExists(atPath: path) else { throw StoreError(.notFound, "no database at \(path)") }
        guard !files.fileExists(atPath: destination) else {
            throw StoreError(.conflict, "\(destination) exists; a backup is written to a new file")
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let source = try DatabaseQueue(path: path, configuration: configuration)
        let partial = destination + ".partial"
        try? files.removeItem(atPath: partial)
        do {
            let target = try DatabaseQueue(path: partial)
            // The partial file is checked and flushed before it counts: no journal, no syncs while copying.
            try target.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = OFF")
                try db.execute(sql: "PRAGMA synchronous = OFF")
            }
            let pageSize = try source.read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") } ?? 4096
            let pagesPerStep = CInt(max(1, (4 << 20) / pageSize))
            let flushEvery = 16 << 20
            let clock = ContinuousClock()
            let started = clock.now
            var copied = 0
            var flushed = 0
            let handle = FileHandle(forUpdatingAtPath: partial)
            try target.writeWithoutTransaction { destination in
                try source.read { db in
                    try db.backup(to: destination, pagesPerStep: pagesPerStep) { progress in
                        copied = progress.completedPageCount * pageSize
                        if copied - flushed >= flushEvery {
                            try? handle?.synchronize()
                            flushed = copied
                        }
                        if bytesPerSecond > 0 {
                            let due = Double(copied) / Double(bytesPerSecond)
                            let spent = Double((clock.now - started).components.seconds)
                                + Double((clock.now - started).components.attoseconds) / 1e18
                            if due > spent { usleep(UInt32(min((due - spent) * 1_000_000, 1_000_000))) }
                        }
                    }
                }
            }
            try target.close()
            try handle?.synchronize()
            try handle?.close()
            try source.close()
            try verify(partial, what: "the copy")
            try files.moveItem(atPath: partial, toPath: destination)
        } catch {
            try? files.removeItem(atPath: partial)
            throw error
        }
        return (try? files.attributesOfItem(atPath: destination)[.size] as? Int) ?? 0
    }

    /// Puts a backup in place of the database at `path` (stop the daemon
    /// first). The backup is checked before anything is touched: a damaged
    /// file, or one a newer release migrated, is refused. An existing database
    /// is replaced only with `replace`.
    public static func restore(from backup: String, to path: String, replace: Bool) throws {
        let files = FileManager.default
        guard files.fileExists(atPath: backup) else { throw StoreError(.notFound, "no backup at \(backup)") }
        try verify(backup, what: "the backup")
        _ = try pendingMigrations(path: backup)  // refuses a file a newer release migrated
        if files.fileExists(atPath: path) && !replace {
            throw StoreError(.conflict, "\(path) exists; add --replace to overwrite it (stop the daemon first)")
        }
        let incoming = path + ".restoring"
        try? files.removeItem(atPath: incoming)
        try files.copyItem(atPath: backup, toPath: incoming)
        for suffix in ["", "-wal", "-shm"] { try? files.removeItem(atPath: path + suffix) }
        try files.moveItem(atPath: incoming, toPath: path)
    }

    /// `PRAGMA integrity_check` of a file, or a named refusal.
    static func verify(_ file: String, what: String) throws {
        let result: String
        do {
            var configuration = Configuration()
            configuration.readonly = true
            result = try DatabaseQueue(path: file, configuration: configuration).read { db in
                try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? ""
            }
        } catch {
            throw StoreError(.invalid, "\(what) \(file) is not a readable SQLite database: \(error)")
        }
        guard result == "ok" else { throw StoreError(.invalid, "\(what) \(file) failed its integrity check: \(result)") }
    }
}
