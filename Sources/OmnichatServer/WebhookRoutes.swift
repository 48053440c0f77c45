import Foundation
import Hummingbird
import Logging
import OmnichatAdapters
import OmnichatCore
import Synchronization

/// `/webhooks/{channel_id}`: verify, parse, commit, answer; route afterwards.
struct WebhookRoutes: Sendable {
    let channels: ChannelRegistry
    let ingest: IngestService
    let metrics: ServerMetrics
    let maxBodyBytes: Int
    /// How long a webhook may wait for its commit before it is answered 503.
    var deadline: Duration = .milliseconds(1500)

    func register(on router: Router<some RequestContext>) {
        router.post("/webhooks/:channel_id") { request, context in try await receive(request, context: context) }
        router.get("/webhooks/:channel_id") { request, context in try await handshake(request, context: context) }
    }

    private func channel(_ context: some RequestContext) throws -> ConfiguredChannel {
        let id = try context.parameters.require("channel_id")
        guard let channel = channels.channel(id) else { throw APIError.notFound("unknown channel '\(id)'") }
        guard channel.enabled else { throw APIError.notFound("channel '\(id)' is disabled") }
        return channel
    }

    private static func headers(_ request: Request) -> [(name: String, value: String)] {
        request.headers.map { ($0.name.rawName, $0.value) }
    }

    func handshake(_ request: Request, context: some RequestContext) async throws -> Response {
        let channel = try channel(context)
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value).removingPercentEncoding ?? String(value) }
        let webhook = WebhookRequest(method: "GET", headers: Self.headers(request), query: query, body: Data())
        guard let answer = channel.adapter.handshake(webhook) else {
            throw APIError(.methodNotAllowed, "method_not_allowed", "channel '\(channel.id)' has no GET handshake; networks POST here")
        }
        return Response(
            status: .init(code: answer.status), headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
    }

    func receive(_ request: Request, context: some RequestContext) async throws -> Response {
        let channel = try channel(context)
        let buffer: ByteBuffer
        let limit = channel.maxBodyBytes ?? maxBodyBytes
        // (A body that trickles in is cut off by the connection guard's body timer.)
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            metrics.webhook(channel: channel.id, outcome: "too_large")
            throw APIError(.contentTooLarge, "too_large", "webhook body is larger than \(limit) bytes")
        }
        let webhook = WebhookRequest(method: "POST", headers: Self.headers(request), body: Data(buffer: buffer))
        let events: [InboundEvent]
        do {
            try channel.adapter.verify(webhook)
            events = try channel.adapter.parse(webhook)
            try WebhookLimits.checkEvents(events)
        } catch {
            switch error.kind {
            case .unauthorized:
                metrics.webhook(channel: channel.id, outcome: "unauthorized")
                context.logger.notice("webhook refused", metadata: ["omnichat.channel": .string(channel.id), "omnichat.reason": .string(error.message)])
                throw APIError(.unauthorized, "bad_signature", error.message)
            case .malformed:
                metrics.webhook(channel: channel.id, outcome: "malformed")
                throw APIError.badRequest(error.message)
            }
        }
        // The commit and what follows it run in their own task: when the store
        // is slower than the networks' deadline, the answer is a 503 on time
        // while the work still finishes (a redelivery is then a duplicate).
        let logger = context.logger
        let result = try await Self.within(deadline, channel: channel.id, metrics: metrics) { committed in
            do {
                return try await ingest.ingest(events, channel: channel, logger: logger, committed: committed)
            } catch IngestService.Failure.busy(let message) {
                // Back-pressure: nothing stored; the network redelivers after a pause.
                throw APIError(.serviceUnavailable, "busy", "\(message); retry later", headers: [.retryAfter: "1"])
            } catch IngestService.Failure.unavailable {
                // Not stored: the network must redeliver.
                throw APIError(.serviceUnavailable, "unavailable", "could not store the events; retry later", headers: [.retryAfter: "1"])
            }
        }
        // Written directly: the answer on the hottest path costs no JSONSerialization (3.5% of the profile).
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"ok":true,"stored":\#(result.stored),"duplicates":\#(result.duplicates)}"#)))
    }
}

extension WebhookRoutes {
    /// The commit's result, or a 503 when it does not come within `deadline`.
    /// The work runs in its own task and is never cancelled half-way: when it
    /// commits after the 503, it still publishes and routes (and the network's
    /// redelivery is a duplicate).
    static let deadlines = DeadlineWheel()

    static func within(
        _ deadline: Duration, channel: String, metrics: ServerMetrics,
        _ work: @escaping @Sendable (_ committed: @escaping @Sendable (IngestResult) -> Void) async throws -> IngestResult
    ) async throws -> IngestResult {
        let race = FirstOf<Result<IngestResult, any Error>>()
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<IngestResult, any Error>?, Never>) in
            race.arm(continuation)
            let timer = deadlines.schedule(after: deadline) { race.finish(nil) }
            Task {
                do {
                    _ = try await work { result in
                        deadlines.cancel(timer)
                        race.finish(.success(result))
                    }
                } catch {
                    deadlines.cancel(timer)
                    race.finish(.failure(error))
                }
            }
        }
        guard let outcome else {
            metrics.webhook(channel: channel, outcome: "late")
            throw APIError(
                .serviceUnavailable, "busy", "the store did not commit within \(deadline); retry later (a redelivery is deduplicated)",
                headers: [.retryAfter: "1"])
        }
        return try outcome.get()
    }
}

/// Resumes a continuation with the first value offered; later ones are dropped.
final class FirstOf<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value?, Never>?>(nil)

    func arm(_ continuation: CheckedContinuation<Value?, Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    func finish(_ value: Value?) {
        let waiting = continuation.withLock { slot in
            defer { slot = nil }
            return slot
        }
        waiting?.resume(returning: value)
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

/// Division names (as drop-ins write them) to ids, cached; unknown names fall
/// back to the default division.
final class DivisionNames: Sendable {
    let store: any SettingsPort
    private let cache = Mutex((names: [String: Int64](), loadedAt: Date.distantPast))

    init(store: any SettingsPort) {
        self.store = store
    }

    func id(named name: String) async throws -> Int64? {
        let key = name.lowercased()
        let (hit, fresh) = cache.withLock { ($0.names[key], Date().timeIntervalSince($0.loadedAt) < 10) }
        if let hit, fresh { return hit }
        let all = try await store.divisions()
        let map = Dictionary(all.map { ($0.name.lowercased(), $0.id) }, uniquingKeysWith: { a, _ in a })
        cache.withLock { $0 = (map, Date()) }
        return map[key]
    }
}
