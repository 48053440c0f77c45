import Foundation
import OmnichatCore
import OmnichatStore
import Testing

@Suite("Store: receipts, echoes, reply contexts", .bothEngines)
struct ReceiptStoreTests {
    func withRoom(_ body: (any TestStore, Int64, User) async throws -> Void) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await TestEngine.makeStore(in: directory, file: "r.db")
        defer { Task { await store.close() } }
        let agent = try await store.createUser(NewUser(email: "a@x", name: "Ann", role: .agent, passwordHash: "x"))
        let inbound = InboundEvent(
            eventID: "in1", conversationID: "cust", contact: ContactProfile(externalID: "cust"), content: .text("hi"),
            occurredAt: Date(timeIntervalSince1970: 1_000), raw: "{}", replyContext: ["reply_token": "tok", "reply_token_at": "1000000"])
        let room = try #require(try await store.ingest(IngestBatch(channelID: "net", events: [inbound])).roomIDs.first)
        try await body(store, room, agent)
    }

    func receipt(_ id: String, _ receipt: Receipt) -> InboundEvent {
        InboundEvent(
            eventID: id, conversationID: "cust", contact: ContactProfile(externalID: "cust"), content: MessageContent(type: .unsupported),
            occurredAt: Date(), raw: "{\"receipt\":true}", kind: .receipt(receipt))
    }

    /// Sends a reply and marks it accepted by the network with `networkID`.
    func sent(_ store: any TestStore, _ room: Int64, _ agent: User, _ text: String, _ networkID: String) async throws -> Int64 {
        let message = try await store.addOutbound(roomID: room, content: .text(text), senderUserID: agent.id, senderKeyID: nil)
        let item = try #require(try await store.dueOutbox(now: Date(), limit: 10, excluding: []).first)
        try await store.markDelivered(outboxID: item.id, attempts: 1, networkMessageID: networkID)
        return message.id
    }

    func status(_ store: any TestStore, _ room: Int64, _ id: Int64) async throws -> (DeliveryStatus, String?) {
        let message = try #require(try await store.messages(roomID: room, cursor: nil, limit: 50).items.first { $0.id == id })
        return (message.deliveryStatus, message.deliveryError)
    }

    @Test("statuses move forward only: read without delivered, then a late delivered changes nothing")
    func forwardOnly() async throws {
        try await withRoom { store, room, agent in
            let id = try await sent(store, room, agent, "one", "wamid.1")
            let read = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("s1", Receipt(status: .read, networkMessageIDs: ["wamid.1"]))]))
            #expect(try await status(store, room, id).0 == .read)
            #expect(read.deliveries.map(\.messageID) == [id], "the change is reported for live events")
            #expect(read.deliveries.first?.status == .read)
            let late = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("s2", Receipt(status: .delivered, networkMessageIDs: ["wamid.1"]))]))
            #expect(try await status(store, room, id).0 == .read)
            #expect(late.deliveries.isEmpty, "nothing moved, nothing reported")
            _ = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("s3", Receipt(status: .failed, networkMessageIDs: ["wamid.1"], error: "late"))]))
            #expect(try await status(store, room, id).0 == .read)
        }
    }

    @Test("a failed status carries the network's reason")
    func failed() async throws {
        try await withRoom { store, room, agent in
            let id = try await sent(store, room, agent, "one", "wamid.2")
            _ = try await store.ingest(
                IngestBatch(channelID: "net", events: [receipt("f", Receipt(status: .failed, networkMessageIDs: ["wamid.2"], error: "131047: window closed"))]))
            let (value, error) = try await status(store, room, id)
            #expect(value == .failed)
            #expect(error == "131047: window closed")
        }
    }

    @Test("a watermark marks everything accepted up to it, nothing after, nothing pending")
    func watermark() async throws {
        try await withRoom { store, room, agent in
            let early = try await sent(store, room, agent, "early", "m1")
            let cut = Date()
            try await Task.sleep(for: .milliseconds(20))
            let late = try await sent(store, room, agent, "late", "m2")
            let pending = try await store.addOutbound(roomID: room, content: .text("pending"), senderUserID: agent.id, senderKeyID: nil)
            _ = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("r", Receipt(status: .read, watermark: cut))]))
            #expect(try await status(store, room, early).0 == .read)
            #expect(try await status(store, room, late).0 == .delivered)
            #expect(try await status(store, room, pending.id).0 == .pending)
        }
    }

    @Test("receipts are deduplicated and never become messages or reopen rooms")
    func receiptsAreNotMessages() async throws {
        try await withRoom { store, room, _ in
            _ = try await store.resolve(roomID: room, by: "t")
            let first = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("d1", Receipt(status: .delivered, watermark: Date()))]))
            let again = try await store.ingest(IngestBatch(channelID: "net", events: [receipt("d1", Receipt(status: .delivered, watermark: Date()))]))
            #expect(first.stored == 1)
            #expect(first.roomIDs.isEmpty)
            #expect(again.duplicates == 1)
            #expect(try await store.countMessages() == 1)
            #expect(try await store.room(id: room)?.status == .resolved)
        }
    }

    @Test("an echo of our own reply is not stored twice; an echo from another tool joins the history")
    func echoes() async throws {
        try await withRoom { store, room, agent in
            _ = try await sent(store, room, agent, "ours", "mid.ours")
            func echo(_ id: String, _ mid: String, _ text: String) -> InboundEvent {
                InboundEvent(
                    eventID: id, conversationID: "cust", contact: ContactProfile(externalID: "cust"), content: .text(text),
                    networkMessageID: mid, occurredAt: Date(), raw: "{}", kind: .echo)
            }
            _ = try await store.ingest(IngestBatch(channelID: "net", events: [echo("e1", "mid.ours", "ours"), echo("e2", "mid.other", "from the page inbox")]))
            let messages = try await store.messages(roomID: room, cursor: nil, limit: 10).items
            #expect(messages.map(\.content.text) == ["hi", "ours", "from the page inbox"])
            #expect(messages.last?.direction == .outbound)
            #expect(try await store.room(id: room)?.status == .waiting, "echoes are not routed")
        }
    }

    @Test("a reply context is handed out once; the next message's context replaces it")
    func replyContextOnce() async throws {
        try await withRoom { store, room, _ in
            #expect(try await store.takeReplyContext(roomID: room) == ["reply_token": "tok", "reply_token_at": "1000000"])
            #expect(try await store.takeReplyContext(roomID: room) == nil)
            let next = InboundEvent(
                eventID: "in2", conversationID: "cust", contact: ContactProfile(externalID: "cust"), content: .text("again"),
                occurredAt: Date(timeIntervalSince1970: 2_000), raw: "{}", replyContext: ["reply_token": "tok2"])
            _ = try await store.ingest(IngestBatch(channelID: "net", events: [next]))
            #expect(try await store.takeReplyContext(roomID: room) == ["reply_token": "tok2"])
            let item = try await store.addOutbound(roomID: room, content: .text("x"), senderUserID: nil, senderKeyID: nil)
            let due = try #require(try await store.dueOutbox(now: Date(), limit: 5, excluding: []).first)
            #expect(due.lastInboundAt == Date(timeIntervalSince1970: 2_000), "the window runs from the customer's last message")
            guard case .message(let id, _) = due.payload else { Issue.record("not a message"); return }
            #expect(id == item.id)
        }
    }

    @Test("a message and its room are found by the message id")
    func messageLookup() async throws {
        try await withRoom { store, room, _ in
            let inbound = try #require(try await store.messages(roomID: room, cursor: nil, limit: 1).items.first)
            let (message, found) = try #require(try await store.message(id: inbound.id))
            #expect(message.content.text == "hi")
            #expect(found.id == room)
            #expect(try await store.message(id: 999_999) == nil)
        }
    }
}
