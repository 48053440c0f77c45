import Foundation
import Logging
import OmnichatAdapters
import OmnichatCore
@testable import OmnichatDelivery
import OmnichatTesting
import Testing

/// The delivery worker's decisions on the in-memory outbox and a scripted
/// transport: what is marked delivered, retried, failed, and in which order.
/// (`DeliveryFaultTests` and the end-to-end suites run the same worker over
/// libcurl, real stores and local fakes of the networks.)
@Suite("delivery logic on in-memory ports")
struct DeliveryLogicTests {
    struct Directory: ChannelDirectory {
        let adapter = TelegramAdapter(channelID: "tg", configuration: TelegramConfiguration(token: "123:abc", apiBase: "http://127.0.0.1:9"))
        func adapter(for channelID: String) -> (any ChannelAdapter)? { channelID == "tg" ? adapter : nil }
    }

    static let sent = ScriptedTransport.Answer.status(200, body: #"{"ok":true,"result":{"message_id":77}}"#)

    func worker(_ outbox: InMemoryOutbox, _ transport: ScriptedTransport, maxAttempts: Int = 3) -> OutboxWorker {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return OutboxWorker(
            store: outbox, directory: Directory(), transport: transport,
            settings: DeliverySettings(maxAttempts: maxAttempts, backoff: Backoff()), logger: logger)
    }

    func reply(_ outbox: InMemoryOutbox, room: Int64 = 1, text: String = "hello", channel: String = "tg") async -> OutboxItem {
        let id = await outbox.add(channelID: channel, roomID: room, payload: .message(id: room * 100, content: .text(text)))
        return await outbox.row(id)!.item
    }

    @Test("an accepted reply is marked delivered with the network's message id, after one call")
    func delivered() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([Self.sent])
        let item = await reply(outbox)
        await worker(outbox, transport).deliver(item)
        let row = try #require(await outbox.row(item.id))
        #expect(row.status == .delivered)
        #expect(row.networkMessageID == "77")
        #expect(row.item.attempts == 1)
        #expect(transport.requests.count == 1)
        #expect(transport.requests.first?.url.hasSuffix("/sendMessage") == true)
    }

    @Test("a server error is retried later; after the last attempt the row fails with the reason")
    func retriedThenFailed() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([.status(502, body: #"{"ok":false,"description":"Bad Gateway"}"#)])
        let item = await reply(outbox)
        let worker = worker(outbox, transport, maxAttempts: 2)
        let before = Date()
        await worker.deliver(item)
        var row = try #require(await outbox.row(item.id))
        #expect(row.status == .pending)
        #expect(row.item.attempts == 1)
        #expect(row.nextAttemptAt > before)
        #expect(row.lastError?.contains("Bad Gateway") == true)
        await worker.deliver(row.item)
        row = try #require(await outbox.row(item.id))
        #expect(row.status == .failed)
        #expect(row.lastError?.contains("gave up after 2 attempts") == true)
    }

    @Test("a rate limit's retry_after sets the next attempt")
    func rateLimit() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([.status(429, body: #"{"ok":false,"description":"Too Many Requests","parameters":{"retry_after":40}}"#)])
        let item = await reply(outbox)
        let before = Date()
        await worker(outbox, transport).deliver(item)
        let row = try #require(await outbox.row(item.id))
        #expect(row.status == .pending)
        let delay = row.nextAttemptAt.timeIntervalSince(before)
        #expect(delay >= 39 && delay < 45, "retry_after 40 s gave a delay of \(delay) s")
    }

    @Test("a refused message fails at once, without retries")
    func permanent() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([.status(400, body: #"{"ok":false,"description":"Bad Request: chat not found"}"#)])
        let item = await reply(outbox)
        await worker(outbox, transport).deliver(item)
        let row = try #require(await outbox.row(item.id))
        #expect(row.status == .failed)
        #expect(row.lastError == "Bad Request: chat not found")
        #expect(transport.requests.count == 1)
    }

    @Test("a long reply goes in parts; a failed part is retried without resending the parts already accepted")
    func parts() async throws {
        let outbox = InMemoryOutbox()
        let text = String(repeating: "a", count: 4096) + String(repeating: "b", count: 100)
        let transport = ScriptedTransport([Self.sent, .status(500), Self.sent])
        let item = await reply(outbox, text: text)
        let worker = worker(outbox, transport)
        await worker.deliver(item)
        var row = try #require(await outbox.row(item.id))
        #expect(row.status == .pending)
        #expect(row.item.partsDone == 1)
        #expect(transport.requests.count == 2)
        await worker.deliver(row.item)
        row = try #require(await outbox.row(item.id))
        #expect(row.status == .delivered)
        #expect(transport.requests.count == 3)
        let bodies = transport.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(bodies[1] == bodies[2], "the retry sends the part that failed, not the first one again")
        #expect(bodies[2].contains("bbbb"))
    }

    @Test("a channel without an adapter is retried later, not lost")
    func unknownChannel() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([Self.sent])
        let item = await reply(outbox, channel: "gone")
        await worker(outbox, transport).deliver(item)
        let row = try #require(await outbox.row(item.id))
        #expect(row.status == .pending)
        #expect(row.lastError?.contains("not configured") == true)
        #expect(transport.requests.isEmpty)
    }

    @Test("the running worker delivers a room's replies in order, each once")
    func runsInOrder() async throws {
        let outbox = InMemoryOutbox()
        let transport = ScriptedTransport([Self.sent])
        for n in 0..<5 {
            await outbox.add(channelID: "tg", roomID: 1, payload: .message(id: Int64(n), content: .text("reply \(n)")))
            await outbox.add(channelID: "tg", roomID: 2, payload: .message(id: Int64(10 + n), content: .text("other \(n)")))
        }
        let worker = worker(outbox, transport)
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        let deadline = Date().addingTimeInterval(20)
        while await outbox.rows.contains(where: { $0.status != .delivered }), Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await outbox.rows.allSatisfy { $0.status == .delivered })
        let texts = transport.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(texts.count == 10)
        let room1 = texts.compactMap { text in (0..<5).first { text.contains("reply \($0)") } }
        #expect(room1 == [0, 1, 2, 3, 4])
    }
}
