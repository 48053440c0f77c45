import Foundation
import OmnichatCore
@testable import OmnichatPostgres
import Testing

/// Webhook ingest on PostgreSQL as several daemons run it: groups of requests,
/// one statement each (`omnichat_ingest_group`), on stores sharing a schema.
@Suite("PostgreSQL ingest groups", .enabled(if: TestEngine.postgresURL != nil, "needs OMNICHAT_TEST_POSTGRES"))
struct PostgresIngestTests {
    func event(_ id: String, chat: String) -> InboundEvent {
        InboundEvent(
            eventID: id, conversationID: chat, contact: ContactProfile(externalID: chat, displayName: "Customer \(chat)"),
            content: .text("hello \(id)"), networkMessageID: id, occurredAt: Date(), raw: "{\"id\":\"\(id)\"}")
    }

    func store(_ url: String, node: String) async throws -> PostgresStore {
        var options = PostgresStore.Options()
        options.nodeName = node
        options.poolSize = 4
        return try await PostgresStore(url: url, options: options, logger: quietLogger())
    }

    @Test("two daemons storing the same conversations in opposite orders never deadlock; each event is stored once")
    func oppositeOrders() async throws {
        let url = TestEngine.freshPostgresURL()
        let a = try await store(url, node: "a")
        let b = try await store(url, node: "b")
        let conversations = (0..<8).map { "c\($0)" }
        // Every request writes two conversations; daemon b goes through them backwards,
        // and each request is sent to both daemons (a network redelivering to another).
        let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
            for i in 0..<300 {
                let first = conversations[i % 8]
                let second = conversations[(i + 3) % 8]
                // Three channels: each group writes several channels' activity rows.
                let batch = IngestBatch(channelID: ["tg", "wa", "line"][i % 3], events: [event("x\(i)", chat: first), event("y\(i)", chat: second)])
                var reversed = batch
                reversed.events.reverse()
                group.addTask { try await a.ingest(batch) }
                group.addTask { try await b.ingest(reversed) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.map(\.stored).reduce(0, +) == 600)
        #expect(results.map(\.duplicates).reduce(0, +) == 600)
        #expect(results.flatMap(\.messages).count == 600)
        #expect(Set(results.flatMap(\.messages).map(\.id)).count == 600)
        #expect(try await a.countMessages() == 600)
        // One room per conversation and channel, opened once whichever daemon came first.
        let opened = results.flatMap(\.transitions).filter { $0.from == nil }
        #expect(opened.count == 24 && Set(opened.map(\.roomID)).count == 24)
        // Locked in one order, the groups never deadlocked (a deadlock would have been run again, and counted).
        #expect(a.conflictRetries == 0 && b.conflictRetries == 0)
        await a.close()
        await b.close()
    }

    @Test("the group's answer carries each request's own result: messages, waiting rooms, receipts and notices")
    func answersPerRequest() async throws {
        let store = try await store(TestEngine.freshPostgresURL(), node: "a")
        let results = try await withThrowingTaskGroup(of: (Int, IngestResult).self) { group in
            for i in 0..<50 {
                group.addTask { (i, try await store.ingest(IngestBatch(channelID: "tg", events: [self.event("m\(i)", chat: "r\(i)")]))) }
            }
            return try await group.reduce(into: [Int: IngestResult]()) { $0[$1.0] = $1.1 }
        }
        for (i, result) in results {
            #expect(result.stored == 1 && result.messages.count == 1 && result.roomIDs.count == 1)
            #expect(result.messages.first?.content.text == "hello m\(i)")
            #expect(result.messages.first?.roomID == result.roomIDs.first)
            #expect(result.transitions.first?.to == .waiting && result.transitions.first?.actor == "customer")
        }
        #expect(Set(results.values.flatMap(\.roomIDs)).count == 50)
        // A notice for a known room, and none for an unknown conversation.
        var left = event("n1", chat: "r1")
        left.kind = .system("left")
        var stranger = event("n2", chat: "nobody")
        stranger.kind = .system("left")
        let notices = try await store.ingest(IngestBatch(channelID: "tg", events: [left, stranger]))
        #expect(notices.stored == 2 && notices.notices.map(\.kind) == ["left"] && notices.notices.first?.roomID == results[1]?.roomIDs.first)
        await store.close()
    }
}
