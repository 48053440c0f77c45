import Foundation
import GRDB
import OmnichatCore
@testable import OmnichatStore
import Testing

/// `omnichatd backup` copies in paced steps inside one read transaction: the
/// copy is the database as of its start, however many commits land while it
/// runs, and it is checked before it is renamed into place.
@Suite("SQLite backups in steps")
struct BackupTests {
    @Test("a paced backup of a database larger than one step, while another connection commits, is whole and consistent")
    func pacedUnderWrites() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("live.db").path
        let store = try await SQLiteStore(path: path, synchronous: .normal, logger: quietLogger())
        await store.close()
        // About 12 MiB of messages: three 4 MiB steps at least.
        let writer = try DatabasePool(path: path)
        let text = String(repeating: "backup step ", count: 80)
        try await writer.write { db in
            try db.execute(sql: "INSERT INTO contacts (id, channel_id, external_id, created_at, updated_at) VALUES (1, 'tg', '1', 0, 0)")
            try db.execute(sql: "INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, created_at) VALUES (1, 'tg', '1', 1, 'resolved', 0)")
            for _ in 0..<12_000 {
                try db.execute(
                    sql: "INSERT INTO messages (room_id, direction, type, text, content, created_at, delivery_status) VALUES (1, 'inbound', 'text', ?, '{}', 0, 'received')",
                    arguments: [text])
            }
        }
        let before = try await writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") ?? 0 }
        let copy = directory.appendingPathComponent("copy.db").path
        // Commits go on while the copy runs (paced at 8 MiB/s: more than a second).
        // On a thread of its own, as `omnichatd backup` runs in a process of its own: the
        // copy blocks while it paces itself, and must not hold one of Swift concurrency's
        // few threads (the other suites' daemons run on them meanwhile).
        let backup = Task {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
                Thread { continuation.resume(with: Result { try SQLiteStore.backup(path: path, to: copy, bytesPerSecond: 8 << 20) }) }.start()
            }
        }
        var written = 0
        while written < 400 {
            try await writer.write { db in
                try db.execute(
                    sql: "INSERT INTO messages (room_id, direction, type, text, content, created_at, delivery_status) VALUES (1, 'inbound', 'text', 'later', '{}', 1, 'received')")
            }
            written += 1
            try await Task.sleep(for: .milliseconds(2))
        }
        let size = try await backup.value
        #expect(size > 8 << 20, "the copy is the whole file: \(size) bytes")
        let copied = try DatabaseQueue(path: copy)
        defer { try? copied.close() }
        let rows = try await copied.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") ?? 0 }
        let after = try await writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages") ?? 0 }
        #expect(rows >= before && rows <= after, "a snapshot between the start and the end: \(before) ≤ \(rows) ≤ \(after)")
        #expect(try await copied.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        #expect(!FileManager.default.fileExists(atPath: copy + ".partial"))
        try writer.close()
    }
}
