import Foundation
@testable import OmnichatServer
import Testing

/// The bounded output of one live event stream.
@Suite("live stream output")
struct StreamOutboxTests {
    @Test("lines wait for the reader in order and are taken all at once")
    func order() async {
        let outbox = StreamOutbox(budget: 1024)
        #expect(outbox.push("a\n\n"))
        #expect(outbox.push("b\n\n"))
        #expect(await outbox.next() == ["a\n\n", "b\n\n"])
        outbox.finish(with: "last\n\n")
        #expect(await outbox.next() == ["last\n\n"])
        #expect(await outbox.next() == nil)
        #expect(!outbox.push("late\n\n"), "nothing is added after the end")
    }

    @Test("a reader that falls behind the budget gets stream.reset instead of the backlog, and the stream ends")
    func overflow() async {
        let outbox = StreamOutbox(budget: 4096)
        let event = "event: message.created\ndata: " + String(repeating: "x", count: 1000) + "\n\n"
        var accepted = 0
        for _ in 0..<100 where outbox.push(event) { accepted += 1 }
        #expect(accepted == 4096 / event.utf8.count, "as many whole events as fit in 4 KB (\(accepted) of \(event.utf8.count) bytes)")
        #expect(outbox.overflowed)
        #expect(await outbox.next() == [StreamOutbox.resetLine])
        #expect(await outbox.next() == nil)
    }

    @Test("a waiting reader wakes for the next line, and for the end")
    func waiting() async {
        let outbox = StreamOutbox(budget: 1024)
        async let first = outbox.next()
        try? await Task.sleep(for: .milliseconds(20))
        outbox.push(": keep-alive\n\n")
        #expect(await first == [": keep-alive\n\n"])
        async let end = outbox.next()
        try? await Task.sleep(for: .milliseconds(20))
        outbox.finish()
        #expect(await end == nil)
    }
}
