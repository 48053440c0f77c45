import Foundation
import GRDB
import OmnichatCore
@testable import OmnichatStore
import Testing

/// Migration v9 (integer ids) on a database as the previous release left it:
/// schema v8, string ids (`usr_…`, `rm_…`) in every table that has ids, rows
/// that reference each other. Every row survives, every reference points at
/// the same row as before, and the old ids still resolve.
@Suite("Integer id migration")
struct IntegerIDMigrationTests {
    static let now = 1_700_000_000.0

    /// Rows written as the previous release wrote them (its SQL, its id forms).
    static let oldRows = """
        INSERT INTO users (id, email, name, role, password_hash, online, channels, created_at, open_rooms, active)
            VALUES ('usr_0aaa', 'ann@example.com', 'Ann', 'agent', 'h1', 1, '["tg"]', 1700000000.0, 1, 1),
                   ('usr_0bbb', 'root@example.com', 'Root', 'admin', 'h2', 0, NULL, 1700000001.0, 0, 1),
                   ('usr_0ccc', 'gus@example.com', 'Gus', 'agent', '', 0, NULL, 1700000002.0, 0, 1);
        INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('tok-ann', 'usr_0aaa', 1700000000.0, 4000000000.0);
        INSERT INTO divisions (id, name, is_default, created_at) VALUES ('div_0sales', 'Sales', 0, 1700000003.0);
        INSERT INTO user_divisions (user_id, division_id) VALUES ('usr_0aaa', 'div_0sales'), ('usr_0aaa', 'div_default');
        INSERT INTO contacts (id, channel_id, external_id, display_name, created_at, updated_at)
            VALUES ('ct_0one', 'tg', '4242', 'Carla', 1700000000.0, 1700000000.0),
                   ('ct_0two', 'tg', '4343', 'Dora', 1700000010.0, 1700000010.0);
        INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, assignee_id, session, created_at, last_message_at,
                           division_id, last_agent_id)
            VALUES ('rm_0one', 'tg', '4242', 'ct_0one', 'assigned', 'usr_0aaa', 1, 1700000000.0, 1700000020.0, 'div_0sales', NULL),
                   ('rm_0two', 'tg', '4343', 'ct_0two', 'resolved', NULL, 2, 1700000010.0, 1700000030.0, NULL, 'usr_0aaa');
        INSERT INTO messages (id, room_id, direction, type, text, content, network_message_id, sender_user_id, created_at, delivery_status)
            VALUES ('msg_0in', 'rm_0one', 'inbound', 'text', 'hello', '{"type":"text","text":"hello"}', 'n1', NULL, 1700000005.0, 'received'),
                   ('msg_0out', 'rm_0one', 'outbound', 'text', 'hi', '{"type":"text","text":"hi"}', 'n2', 'usr_0aaa', 1700000006.0, 'delivered'),
                   ('msg_0bot', 'rm_0two', 'outbound', 'text', 'bot', '{"type":"text","text":"bot"}', NULL, 'key_0bot', 1700000011.0, 'pending');
        INSERT INTO outbox (room_id, channel_id, message_id, status, next_attempt_at, created_at, target)
            VALUES ('rm_0one', 'tg', 'msg_0out', 'delivered', 1700000006.0, 1700000006.0, 'channel'),
                   ('rm_0two', 'tg', 'msg_0bot', 'pending', 1700000011.0, 1700000011.0, 'channel');
        INSERT INTO outbox (room_id, channel_id, action, status, next_attempt_at, created_at, target)
            VALUES ('rm_0two', 'tg', '{"name":"resolved","parameters":{}}', 'pending', 1700000031.0, 1700000031.0, 'resolved');
        INSERT INTO room_events (room_id, from_status, to_status, assignee_id, actor, at)
            VALUES ('rm_0one', NULL, 'waiting', NULL, 'customer', 1700000000.0),
                   ('rm_0one', 'waiting', 'assigned', 'usr_0aaa', 'routing', 1700000001.0),
                   ('rm_0two', 'assigned', 'resolved', 'usr_0aaa', 'usr_0bbb', 1700000030.0),
                   ('rm_0two', 'bot', 'waiting', NULL, 'key_0bot', 1700000012.0);
        INSERT INTO api_keys (id, name, scope, key_hash, created_at) VALUES ('key_0bot', 'bot', 'bot', 'kh', 1700000000.0);
        INSERT INTO invitations (token_hash, user_id, created_by, created_at, expires_at) VALUES ('inv', 'usr_0ccc', 'usr_0bbb', 1700000002.0, 4000000000.0);
        INSERT INTO audit_log (actor, actor_role, action, target_type, target_id, details, at)
            VALUES ('usr_0bbb', 'admin', 'agent.create', 'user', 'usr_0ccc', '{}', 1700000002.0),
                   ('key_0bot', 'key:bot', 'room.handover', 'room', 'rm_0two', '{}', 1700000012.0),
                   ('usr_0bbb', 'admin', 'channel.agents', 'channel', 'tg', '{}', 1700000013.0);
        INSERT INTO room_reads (room_id, user_id, last_read_seq, read_at) VALUES ('rm_0one', 'usr_0aaa', 1, 1700000007.0);
        INSERT INTO notes (id, room_id, author_id, text, created_at) VALUES ('note_0a', 'rm_0one', 'usr_0aaa', 'VIP', 1700000008.0);
        INSERT INTO room_tags (room_id, tag, created_at) VALUES ('rm_0one', 'vip', 1700000008.0);
        INSERT INTO settings (key, value) VALUES ('routing', '{}');
        INSERT INTO processed_events (channel_id, event_id, received_at) VALUES ('tg', '1001', 1700000005.0);
        """

    /// Row counts of every table, to compare before and after.
    static let tables = [
        "users", "sessions", "divisions", "user_divisions", "contacts", "rooms", "messages", "outbox", "room_events", "api_keys",
        "invitations", "audit_log", "room_reads", "notes", "room_tags", "agent_presence", "settings", "processed_events",
        "channel_activity",
    ]

    @Test("a v8 database with string ids in every table: rows, references and old ids survive v9")
    func upgrade() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("old.db").path

        // The previous release's schema and rows.
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator().migrate(queue, upTo: "v8: network ids indexed for our own messages only")
        try await queue.write { db in try db.execute(sql: Self.oldRows) }
        let before = try await queue.read { db in
            try Self.tables.map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
        }
        // Data in every table the previous release had (read from its schema, so none is forgotten).
        let oldTables = try await queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'")
        }
        let empty = try await queue.read { db in
            try oldTables.filter { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") == 0 }
        }
        #expect(empty.isEmpty, "every table of the previous schema holds rows: \(empty) do not")
        #expect(Set(oldTables).isSubset(of: Set(Self.tables)), "the compared tables cover the old schema: \(Set(oldTables).subtracting(Self.tables))")
        #expect(before.allSatisfy { $0 > 0 })
        try queue.close()

        // The new release opens it.
        let store = try await SQLiteStore(path: path, synchronous: .full, logger: quietLogger())
        defer { Task { await store.close() } }
        let check = try DatabaseQueue(path: path)
        defer { try? check.close() }
        let after = try await check.read { db in
            try Self.tables.map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
        }
        #expect(after == before, "row counts per table")
        let violations = try check.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(violations.isEmpty)
        #expect(try await store.integrityCheck() == "ok")

        // Every old id resolves to the new one, and the rows behind them are the same.
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
        #expect(Set([ann, root, gus]).count == 3 && Set([one, two]).count == 2 && sales != general)
        #expect(try await store.legacyID(kind: .room, oldID: "rm_nope") == nil)
        #expect(try await store.legacyID(kind: .room, oldID: "usr_0aaa") == nil, "a kind's map holds that kind only")

        #expect(try await store.user(id: ann)?.email == "ann@example.com")
        #expect(try await store.user(id: ann)?.divisions == [general, sales].sorted())
        #expect(try await store.user(sessionTokenHash: "tok-ann", now: Date())?.id == ann, "sessions follow their user")
        let roomOne = try #require(try await store.room(id: one))
        #expect(roomOne.assignee?.id == ann && roomOne.contact.displayName == "Carla" && roomOne.divisionID == sales)
        let roomTwo = try #require(try await store.room(id: two))
        #expect(roomTwo.lastAgentID == ann && roomTwo.contact.externalID == "4343" && roomTwo.session == 2)

        let messages = try await store.messages(roomID: one, cursor: nil, limit: 10).items
        #expect(messages.map(\.content.text) == ["hello", "hi"] && messages[1].id == out && messages[1].senderUserID == ann)
        let (botMessage, botRoom) = try #require(try await store.message(id: bot))
        #expect(botRoom.id == two && botMessage.senderUserID == nil && botMessage.senderKeyID == key, "a bot's message keeps its key")
        #expect(try await store.transitions(roomID: two).map(\.actor) == [String(root), "key:\(key)"])
        #expect(try await store.transitions(roomID: one).last?.assigneeID == ann)
        #expect(try await store.notes(roomID: one, cursor: nil, limit: 10).items.map(\.authorID) == [ann])
        #expect(try await store.roomSummaries(roomIDs: [one], readerID: ann)[one]?.tags == ["vip"])
        #expect(try await store.roomSummaries(roomIDs: [one], readerID: ann)[one]?.unreadCount == 0, "the read mark still points at its message")

        let outbox = try await check.read { db in
            try Row.fetchAll(db, sql: "SELECT room_id, message_id, target FROM outbox ORDER BY id").map {
                [$0["room_id"] as Int64? ?? 0, $0["message_id"] as Int64? ?? 0]
            }
        }
        #expect(outbox == [[one, out], [two, bot], [two, 0]])
        let audit = try await check.read { db in
            try Row.fetchAll(db, sql: "SELECT actor, target_id FROM audit_log ORDER BY id").map { [$0["actor"] as String, $0["target_id"] as String] }
        }
        #expect(audit == [[String(root), String(gus)], ["key:\(key)", String(two)], [String(root), "tg"]])
        let invitedBy = try await check.read { db in try Int64.fetchOne(db, sql: "SELECT created_by FROM invitations WHERE user_id = ?", arguments: [gus]) }
        #expect(invitedBy == root)

        // The upgraded store keeps working: a new room and user get fresh, larger ids.
        let result = try await store.ingest(
            IngestBatch(channelID: "tg", events: [
                InboundEvent(eventID: "1002", conversationID: "5555", contact: ContactProfile(externalID: "5555"), content: .text("new"), occurredAt: Date(), raw: "{}"),
                InboundEvent(eventID: "1001", conversationID: "4242", contact: ContactProfile(externalID: "4242"), content: .text("dup"), occurredAt: Date(), raw: "{}"),
            ]))
        #expect(result.stored == 1 && result.duplicates == 1, "the old dedupe keys still hold")
        let fresh = try #require(result.roomIDs.first)
        #expect(fresh > max(one, two))
        let user = try await store.createUser(NewUser(email: "new@example.com", name: "New", role: .agent, passwordHash: "x"))
        #expect(user.id > max(ann, root, gus))
    }
}
