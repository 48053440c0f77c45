import Foundation
import OmnichatCore
@testable import OmnichatStore
import Testing

/// The store's contract, on the engine under test (`TestEngine`).
@Suite("Store", .bothEngines)
struct StoreTests {
    func withStore(_ body: (any TestStore) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await TestEngine.makeStore(in: directory)
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        if let sqlite = store as? SQLiteStore { #expect(try await sqlite.integrityCheck() == "ok") }
        await store.close()
    }

    func withSQLite(synchronous: SQLiteStore.Synchronous = .full, _ body: (SQLiteStore) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLiteStore(path: directory.appendingPathComponent("t.db").path, synchronous: synchronous, logger: quietLogger())
        try await body(store)
    }

    func event(_ id: String, chat: String = "c1", text: String = "hi", followUp: AdapterAction? = nil) -> InboundEvent {
        InboundEvent(
            eventID: id, conversationID: chat, contact: ContactProfile(externalID: chat, displayName: "Customer \(chat)"),
            content: .text(text), networkMessageID: id, occurredAt: Date(), raw: "{\"id\":\"\(id)\"}", followUp: followUp)
    }

    func agent(_ store: any TestStore, _ email: String, capacity: Int? = nil, online: Bool = true) async throws -> User {
        let user = try await store.createUser(NewUser(email: email, name: email, role: .agent, passwordHash: "x", maxOpenRooms: capacity))
        return try await store.setOnline(userID: user.id, online: online)
    }

    @Test("synchronous=FULL holds on the writer (GRDB would set NORMAL)", .enabled(if: !TestEngine.usesPostgres, "SQLite's setting"))
    func synchronousFull() async throws {
        try await withSQLite { store in
            let level = try await store.synchronousLevel()
            #expect(level == 2)
        }
        try await withSQLite(synchronous: .normal) { store in
            let level = try await store.synchronousLevel()
            #expect(level == 1)
        }
    }

    @Test func dedupesByChannelAndEventID() async throws {
        try await withStore { store in
            let first = try await store.ingest(IngestBatch(channelID: "tg", events: [event("1"), event("2")]))
            #expect(first.stored == 2)
            #expect(first.roomIDs.count == 1)
            let again = try await store.ingest(IngestBatch(channelID: "tg", events: [event("2"), event("3")]))
            #expect(again.stored == 1)
            #expect(again.duplicates == 1)
            // The same id on another channel is another event.
            let other = try await store.ingest(IngestBatch(channelID: "tg2", events: [event("1")]))
            #expect(other.stored == 1)
            #expect(try await store.countMessages() == 4)
        }
    }

    @Test("concurrent redeliveries of one event store it once (group commit)")
    func concurrentDuplicates() async throws {
        try await withStore { store in
            let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
                for i in 0..<200 {
                    group.addTask { try await store.ingest(IngestBatch(channelID: "tg", events: [self.event(String(i % 50), chat: "c\(i % 7)")])) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.map(\.stored).reduce(0, +) == 50)
            #expect(results.map(\.duplicates).reduce(0, +) == 150)
            #expect(try await store.countMessages() == 50)
        }
    }

    @Test("a request that fails in a group commit stores nothing and fails alone; the others of its group are stored")
    func failingRequestAlone() async throws {
        try await withStore { store in
            // Request 17 names a division that does not exist: its new room breaks a foreign key.
            let outcomes = try await withThrowingTaskGroup(of: (Int, StoreError?).self) { group in
                for i in 0..<40 {
                    group.addTask {
                        let batch = IngestBatch(
                            channelID: "tg", events: [self.event("g\(i)", chat: "g\(i)"), self.event("h\(i)", chat: "g\(i)")],
                            divisionID: i == 17 ? 987_654 : nil)
                        do {
                            _ = try await store.ingest(batch)
                            return (i, nil)
                        } catch let error as StoreError {
                            return (i, error)
                        }
                    }
                }
                return try await group.reduce(into: [Int: StoreError?]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes.count == 40)
            #expect(outcomes.filter { $0.value != nil }.map(\.key) == [17])
            #expect(outcomes[17]??.kind == .invalid)
            #expect(try await store.countMessages() == 78)
            // Nothing of it was kept, not even its events' keys: sent again correctly, it is stored, not a duplicate.
            let again = try await store.ingest(IngestBatch(channelID: "tg", events: [event("g17", chat: "g17"), event("h17", chat: "g17")]))
            #expect(again.stored == 2 && again.duplicates == 0)
            #expect(try await store.countMessages() == 80)
        }
    }

    @Test("unsupported events without a conversation are acknowledged and kept, not routed")
    func eventWithoutConversation() async throws {
        try await withStore { store in
            var e = event("9", chat: "")
            e.content = MessageContent(type: .unsupported)
            let result = try await store.ingest(IngestBatch(channelID: "tg", events: [e]))
            #expect(result.stored == 1)
            #expect(result.roomIDs.isEmpty)
            #expect(try await store.ingest(IngestBatch(channelID: "tg", events: [e])).duplicates == 1)
        }
    }

    @Test("assignment is conditional: never above capacity, never two agents")
    func conditionalAssign() async throws {
        try await withStore { store in
            let ann = try await agent(store, "ann@x", capacity: 1)
            let bo = try await agent(store, "bo@x", capacity: 5)
            let r1 = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("1", chat: "a")])).roomIDs.first)
            let r2 = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("2", chat: "b")])).roomIDs.first)
            #expect(try await store.assign(roomID: r1, to: ann.id, capacity: 1, actor: "t"))
            #expect(try await !store.assign(roomID: r2, to: ann.id, capacity: 1, actor: "t"), "ann is full")
            #expect(try await !store.assign(roomID: r1, to: bo.id, capacity: 5, actor: "t"), "r1 already has an agent")
            #expect(try await store.assign(roomID: r2, to: bo.id, capacity: 5, actor: "t"))
            let offline = try await agent(store, "cy@x", online: false)
            let r3 = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("3", chat: "c")])).roomIDs.first)
            #expect(try await !store.assign(roomID: r3, to: offline.id, capacity: 5, actor: "t"), "offline agents get nothing")
            let eligible = try await store.eligibleAgents(channelID: "tg", defaultCapacity: 10)
            #expect(eligible.map(\.userID) == [bo.id], "ann is full; the offline agent is out")
            let loads = try await store.candidateAgents(channelID: "tg", divisionID: nil, defaultCapacity: 10)
            #expect(Set(loads.map(\.userID)) == [ann.id, bo.id])
            #expect(loads.first { $0.userID == ann.id }?.openRooms == 1)
            #expect(loads.first { $0.userID == ann.id }?.capacity == 1)
        }
    }

    @Test("concurrent assignments never exceed capacity")
    func concurrentAssign() async throws {
        try await withStore { store in
            let ann = try await agent(store, "ann@x", capacity: 3)
            var rooms: [Int64] = []
            for i in 0..<20 {
                rooms += try await store.ingest(IngestBatch(channelID: "tg", events: [event("\(i)", chat: "c\(i)")])).roomIDs
            }
            let successes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for room in rooms { group.addTask { try await store.assign(roomID: room, to: ann.id, capacity: 3, actor: "t") } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(successes == 3)
        }
    }

    @Test("agents serving other channels are not eligible")
    func channelEligibility() async throws {
        try await withStore { store in
            let user = try await store.createUser(NewUser(email: "l@x", name: "l", role: .agent, passwordHash: "x", channels: ["line"]))
            _ = try await store.setOnline(userID: user.id, online: true)
            #expect(try await store.eligibleAgents(channelID: "tg", defaultCapacity: 10).isEmpty)
            #expect(try await store.eligibleAgents(channelID: "line", defaultCapacity: 10).count == 1)
        }
    }

    @Test("a resolved room reopens as waiting on a new customer message")
    func reopen() async throws {
        try await withStore { store in
            let ann = try await agent(store, "ann@x")
            let room = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("1")])).roomIDs.first)
            #expect(try await store.assign(roomID: room, to: ann.id, capacity: 10, actor: "t"))
            let resolved = try await store.resolve(roomID: room, by: String(ann.id))
            #expect(resolved.status == .resolved)
            _ = try await store.ingest(IngestBatch(channelID: "tg", events: [event("2")]))
            let reopened = try #require(try await store.room(id: room))
            #expect(reopened.status == .waiting)
            #expect(reopened.assignee == nil)
            #expect(try await store.waitingRooms(limit: 10).map(\.id) == [room])
        }
    }

    @Test func messagePages() async throws {
        try await withStore { store in
            let room = try #require(
                try await store.ingest(IngestBatch(channelID: "tg", events: (1...5).map { event("\($0)", text: "m\($0)") })).roomIDs.first)
            var texts: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.messages(roomID: room, cursor: cursor, limit: 2)
                texts += page.items.compactMap(\.content.text)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(texts == ["m1", "m2", "m3", "m4", "m5"])
            await #expect(throws: StoreError.self) { try await store.messages(roomID: room, cursor: "garbage", limit: 2) }
        }
    }

    @Test func roomPagesAndFilters() async throws {
        try await withStore { store in
            for i in 0..<7 {
                _ = try await store.ingest(IngestBatch(channelID: i % 2 == 0 ? "tg" : "other", events: [event("\(i)", chat: "c\(i)")]))
            }
            var seen: [Int64] = []
            var cursor: String?
            repeat {
                let page = try await store.rooms(RoomFilter(cursor: cursor, limit: 3))
                seen += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.count == 7)
            #expect(Set(seen).count == 7)
            #expect(try await store.rooms(RoomFilter(channelIDs: ["tg"])).items.count == 4)
            #expect(try await store.rooms(RoomFilter(channelIDs: ["tg"], statuses: [.assigned])).items.isEmpty)
        }
    }

    @Test("a network's error or message id with a NUL in it is recorded (PostgreSQL: as U+FFFD), so the reply is not claimed and sent again")
    func nulInDeliveryRecords() async throws {
        try await withStore { store in
            let ann = try await agent(store, "ann@x")
            let room = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("1")])).roomIDs.first)
            _ = try await store.addOutbound(roomID: room, content: .text("one"), senderUserID: ann.id, senderKeyID: nil)
            _ = try await store.addOutbound(roomID: room, content: .text("two"), senderUserID: ann.id, senderKeyID: nil)
            let first = try #require(try await store.dueOutbox(now: Date(), limit: 10, excluding: []).first)
            try await store.scheduleRetry(outboxID: first.id, attempts: 1, at: Date(), error: "bad\u{0}gateway")
            try await store.markDelivered(outboxID: first.id, attempts: 2, networkMessageID: "m\u{0}1")
            let second = try #require(try await store.dueOutbox(now: Date(), limit: 10, excluding: []).first)
            #expect(second.id != first.id, "the first reply was recorded as delivered")
            try await store.markFailed(outboxID: second.id, attempts: 1, error: "refused\u{0}here")
            #expect(try await store.dueOutbox(now: Date(), limit: 10, excluding: []).isEmpty)
            let messages = try await store.messages(roomID: room, cursor: nil, limit: 10).items
            #expect(messages[1].deliveryStatus == .delivered && messages[2].deliveryStatus == .failed)
            if TestEngine.usesPostgres {
                // PostgreSQL text cannot hold U+0000: the replacement character stands in for it.
                #expect(messages[1].networkMessageID == "m\u{FFFD}1")
                #expect(messages[2].deliveryError == "refused\u{FFFD}here")
            }
        }
    }

    @Test("the outbox serves each room in order: one item per room at a time")
    func outboxOrder() async throws {
        try await withStore { store in
            let ann = try await agent(store, "ann@x")
            let room = try #require(try await store.ingest(IngestBatch(channelID: "tg", events: [event("1")])).roomIDs.first)
            let first = try await store.addOutbound(roomID: room, content: .text("one"), senderUserID: ann.id, senderKeyID: nil)
            _ = try await store.addOutbound(roomID: room, content: .text("two"), senderUserID: ann.id, senderKeyID: nil)
            let due = try await store.dueOutbox(now: Date(), limit: 10, excluding: [])
            #expect(due.count == 1)
            guard case .message(let id, let content) = due.first?.payload else { Issue.record("not a message"); return }
            #expect(id == first.id)
            #expect(content.text == "one")
            #expect(try await store.dueOutbox(now: Date(), limit: 10, excluding: [due[0].id]).isEmpty, "two waits for one")
            try await store.markDelivered(outboxID: due[0].id, attempts: 1, networkMessageID: "77")
            let next = try await store.dueOutbox(now: Date(), limit: 10, excluding: [])
            guard case .message(_, let second) = next.first?.payload else { Issue.record("not a message"); return }
            #expect(second.text == "two")
            try await store.scheduleRetry(outboxID: next[0].id, attempts: 1, at: Date().addingTimeInterval(60), error: "later")
            #expect(try await store.dueOutbox(now: Date(), limit: 10, excluding: []).isEmpty)
            let messages = try await store.messages(roomID: room, cursor: nil, limit: 10).items
            #expect(messages[1].deliveryStatus == .delivered)
            #expect(messages[1].networkMessageID == "77")
            #expect(messages[2].deliveryStatus == .pending)
            #expect(messages[2].deliveryError == "later")
        }
    }

    @Test func uniqueEmails() async throws {
        try await withStore { store in
            _ = try await store.createUser(NewUser(email: "a@x", name: "a", role: .agent, passwordHash: "x"))
            await #expect(throws: StoreError(.conflict, "a user with email A@x already exists")) {
                try await store.createUser(NewUser(email: "A@x", name: "b", role: .agent, passwordHash: "x"))
            }
        }
    }

    @Test func sessionsExpire() async throws {
        try await withStore { store in
            let user = try await store.createUser(NewUser(email: "a@x", name: "a", role: .agent, passwordHash: "x"))
            try await store.createSession(tokenHash: "h1", userID: user.id, expiresAt: Date().addingTimeInterval(60))
            #expect(try await store.user(sessionTokenHash: "h1", now: Date())?.id == user.id)
            #expect(try await store.user(sessionTokenHash: "h1", now: Date().addingTimeInterval(120)) == nil)
            #expect(try await store.user(sessionTokenHash: "h2", now: Date()) == nil)
        }
    }
}
