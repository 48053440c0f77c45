import Foundation
import OmnichatCore
@testable import OmnichatPostgres
import Testing

/// Migration v3 (integer ids) of the PostgreSQL engine on a schema as the
/// previous release left it (v1–v2, string ids in every table), in the
/// PostgreSQL pass of `make test`.
@Suite("Integer id migration on PostgreSQL", .enabled(if: TestEngine.postgresURL != nil, "needs OMNICHAT_TEST_POSTGRES"))
struct PostgresIntegerIDMigrationTests {
    @Test("a schema a newer release migrated is refused: by the store at start and by migrate --dry-run")
    func newerSchema() async throws {
        let url = TestEngine.freshPostgresURL()
        var options = PostgresStore.Options()
        options.poolSize = 2
        let store = try await PostgresStore(url: url, options: options, logger: quietLogger())
        #expect(try await PostgresStore.pendingMigrations(url: url).isEmpty)
        try await store.pool.writeWithoutTransaction { db in
            try db.raw("INSERT INTO omnichat_migrations (version, applied_at) VALUES ('v99: from a newer release', 0)")
        }
        await store.close()
        do {
            _ = try await PostgresStore(url: url, options: options, logger: quietLogger())
            Issue.record("a newer schema was opened")
        } catch let error as StoreError {
            #expect(error.message.contains("was written by a newer omnichatd") && error.message.contains("v99: from a newer release"), "\(error)")
        }
        await #expect(throws: StoreError.self) { _ = try await PostgresStore.pendingMigrations(url: url) }
        let fresh = TestEngine.freshPostgresURL()
        #expect(try await PostgresStore.pendingMigrations(url: fresh).count == PostgresSchema.migrations.count)
    }

    @Test("a v2 schema with string ids in every table: rows, references and old ids survive v3")
    func upgrade() async throws {
        let url = TestEngine.freshPostgresURL()
        var old = PostgresStore.Options()
        old.poolSize = 2
        old.lastMigration = "v2:"
        let before = try await PostgresStore(url: url, options: old, logger: quietLogger())
        try await before.pool.writeWithoutTransaction { db in
            try db.raw(IntegerIDMigrationTests.oldRows)
            // The cluster's live event log exists on PostgreSQL only.
            try db.raw("INSERT INTO live_events (node, body, at) VALUES ('old-node', '{\"type\":\"room.created\"}', 1700000009.0)")
        }
        let counts = try await Self.counts(before)
        let oldTables = try await Self.tableNames(before)
        await before.close()
        #expect(counts.allSatisfy { $0 > 0 } && counts[0] == 3, "three users written, and rows in every table")
        #expect(Set(oldTables).subtracting(Self.tables).isEmpty, "every table of the previous schema is compared: \(oldTables)")

        var options = PostgresStore.Options()
        options.poolSize = 2
        let store = try await PostgresStore(url: url, options: options, logger: quietLogger())
        defer { Task { await store.close() } }
        #expect(try await Self.counts(store) == counts, "row counts per table")

        func new(_ kind: EntityKind, _ old: String) async throws -> Int64 {
            let id = try await store.legacyID(kind: kind, oldID: old)
            #expect(id != nil, "\(old) resolves")
            return id ?? 0
        }
        let ann = try await new(.user, "usr_0aaa"), root = try await new(.user, "usr_0bbb"), gus = try await new(.user, "usr_0ccc")
        let one = try await new(.room, "rm_0one"), two = try await new(.room, "rm_0two")
        let sales = try await new(.division, "div_0sales"), general = try await new(.division, "div_default")
        let key = try await new(.key, "key_0bot")
        let out = try await new(.message, "msg_0out"), bot = try await new(.message, "msg_0bot")

        #expect(try await store.user(id: ann)?.divisions == [general, sales].sorted())
        #expect(try await store.user(sessionTokenHash: "tok-ann", now: Date())?.id == ann)
        let roomOne = try #require(try await store.room(id: one))
        #expect(roomOne.assignee?.id == ann && roomOne.contact.displayName == "Carla" && roomOne.divisionID == sales)
        #expect(try await store.room(id: two)?.lastAgentID == ann)
        let messages = try await store.messages(roomID: one, cursor: nil, limit: 10).items
        #expect(messages.map(\.content.text) == ["hello", "hi"] && messages[1].id == out && messages[1].senderUserID == ann)
        let (botMessage, _) = try #require(try await store.message(id: bot))
        #expect(botMessage.senderUserID == nil && botMessage.senderKeyID == key)
        #expect(try await store.transitions(roomID: two).map(\.actor) == [String(root), "key:\(key)"])
        #expect(try await store.notes(roomID: one, cursor: nil, limit: 10).items.map(\.authorID) == [ann])
        #expect(try await store.roomSummaries(roomIDs: [one], readerID: ann)[one]?.tags == ["vip"])
        let audit = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT actor, target_id FROM audit_log ORDER BY id").map { [$0["actor"] as String, $0["target_id"] as String] }
        }
        #expect(audit == [[String(root), String(gus)], ["key:\(key)", String(two)], [String(root), "tg"]])
        let outbox = try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT room_id, message_id FROM outbox ORDER BY id").map { [$0["room_id"] as Int64? ?? 0, $0["message_id"] as Int64? ?? 0] }
        }
        #expect(outbox == [[one, out], [two, bot], [two, 0]])

        // New rows get fresh ids past the migrated ones, from the identity sequences.
        let result = try await store.ingest(
            IngestBatch(channelID: "tg", events: [
                InboundEvent(eventID: "1002", conversationID: "5555", contact: ContactProfile(externalID: "5555"), content: .text("new"), occurredAt: Date(), raw: "{}"),
                InboundEvent(eventID: "1001", conversationID: "4242", contact: ContactProfile(externalID: "4242"), content: .text("dup"), occurredAt: Date(), raw: "{}"),
            ]))
        #expect(result.stored == 1 && result.duplicates == 1)
        #expect(try #require(result.roomIDs.first) > max(one, two))
        let user = try await store.createUser(NewUser(email: "new@example.com", name: "New", role: .agent, passwordHash: "x"))
        #expect(user.id > max(ann, root, gus))
        let division = try await store.createDivision(name: "Later")
        #expect(division.id > max(sales, general))
    }

    static let tables = IntegerIDMigrationTests.tables + ["live_events"]

    /// The schema's own tables (not the migrations' bookkeeping).
    static func tableNames(_ store: PostgresStore) async throws -> [String] {
        try await store.pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
            ).filter { !$0.contains("migration") }
        }
    }

    static func counts(_ store: PostgresStore) async throws -> [Int] {
        try await store.pool.read { db in
            try Self.tables.map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
        }
    }
}
