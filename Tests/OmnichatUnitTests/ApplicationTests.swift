import Foundation
import Logging
import OmnichatAdapters
import OmnichatCore
@testable import OmnichatServer
import Synchronization
import Testing

/// The ingest service on fakes of its ports: what it publishes, when, and
/// what it refuses. (The webhook suites run it behind the real route.)
@Suite("application services on in-memory ports")
struct ApplicationTests {
    actor ScriptedIngest: IngestPort {
        var answer: Result<IngestResult, StoreError>
        private(set) var batches: [IngestBatch] = []
        init(_ answer: Result<IngestResult, StoreError>) { self.answer = answer }
        func ping() async throws {}
        func ingest(_ batch: IngestBatch) async throws -> IngestResult {
            batches.append(batch)
            return try answer.get()
        }
    }

    struct NoDivisions: SettingsPort {
        func settings() async throws -> [String: String] { [:] }
        func setSettings(_ values: [String: String]) async throws {}
        func divisions() async throws -> [Division] { [] }
        func createDivision(name: String) async throws -> Division { throw StoreError(.invalid, "not here") }
        func setDefaultDivision(id: Int64) async throws {}
        func renameDivision(id: Int64, name: String) async throws -> Division { throw StoreError(.invalid, "not here") }
        func deleteDivision(id: Int64) async throws {}
    }

    final class Recorder: Sendable {
        let log = Mutex<[String]>([])
        func note(_ line: String) { log.withLock { $0.append(line) } }
        var lines: [String] { log.withLock { $0 } }
    }

    static let channel = ConfiguredChannel(
        id: "tg", kind: "telegram", enabled: true, file: "tg.toml",
        adapter: TelegramAdapter(channelID: "tg", configuration: TelegramConfiguration(token: "1:a", secretToken: "s")))

    static func event(_ id: String, followUp: AdapterAction? = nil) -> InboundEvent {
        InboundEvent(
            eventID: id, conversationID: "c1", contact: ContactProfile(externalID: "u1", displayName: "Ann"), content: .text("hi"),
            occurredAt: Date(), raw: "{}", followUp: followUp)
    }

    func service(_ store: ScriptedIngest, _ recorder: Recorder) -> IngestService {
        let domain = DomainEvents()
        domain.subscribe { event in
            if case .ingested(let channel, let result, let wakes) = event {
                recorder.note("ingested \(channel) rooms=\(result.roomIDs) wakes=\(wakes)")
            }
        }
        return IngestService(
            store: store, channels: ChannelRegistry([Self.channel]), divisions: DivisionNames(store: NoDivisions()), domain: domain,
            metrics: ServerMetrics())
    }

    @Test("a committed webhook is published once, after the commit callback, with the rooms routing must look at")
    func publishedAfterCommit() async throws {
        let store = ScriptedIngest(.success(IngestResult(stored: 1, duplicates: 0, roomIDs: [7])))
        let recorder = Recorder()
        let result = try await service(store, recorder).ingest(
            [Self.event("e1")], channel: Self.channel, logger: Logger(label: "test")) { _ in recorder.note("committed") }
        #expect(result.stored == 1)
        #expect(recorder.lines == ["committed", "ingested tg rooms=[7] wakes=false"])
        #expect(await store.batches.map(\.channelID) == ["tg"])
    }

    @Test("an event with a follow-up call wakes the outbox")
    func followUpWakes() async throws {
        let store = ScriptedIngest(.success(IngestResult(stored: 1, duplicates: 0, roomIDs: [])))
        let recorder = Recorder()
        _ = try await service(store, recorder).ingest(
            [Self.event("e1", followUp: AdapterAction(name: "read", parameters: [:]))], channel: Self.channel, logger: Logger(label: "test"))
        #expect(recorder.lines == ["ingested tg rooms=[] wakes=true"])
    }

    @Test("a busy store refuses the webhook as busy and nothing is published")
    func busy() async throws {
        let store = ScriptedIngest(.failure(StoreError(.busy, "4096 webhooks are waiting")))
        let recorder = Recorder()
        await #expect(throws: IngestService.Failure.self) {
            _ = try await service(store, recorder).ingest([Self.event("e1")], channel: Self.channel, logger: Logger(label: "test"))
        }
        do {
            _ = try await service(store, recorder).ingest([Self.event("e1")], channel: Self.channel, logger: Logger(label: "test"))
        } catch IngestService.Failure.busy(let message) {
            #expect(message == "4096 webhooks are waiting")
        }
        #expect(recorder.lines.isEmpty)
    }

    @Test("handlers run in the order they subscribed, in the publisher's task")
    func handlerOrder() async {
        let domain = DomainEvents()
        let recorder = Recorder()
        domain.subscribe { _ in recorder.note("first") }
        domain.subscribe { _ in recorder.note("second") }
        await domain.publish(.capacityChanged)
        #expect(recorder.lines == ["first", "second"])
    }
}
