import Foundation
import Logging
import OmnichatCore
import ServiceLifecycle

/// Told about every delivery attempt (the server turns these into metrics).
public protocol DeliveryObserver: Sendable {
    func attempted(channelID: String, outcome: String, latency: Duration)
    /// A retry was scheduled this far ahead (backoff, or the network's own hint).
    func retryScheduled(channelID: String, delay: Duration)
    /// A channel's circuit opened (its calls keep failing) or closed again.
    func circuit(channelID: String, open: Bool)
    /// A reply's delivery status changed (delivered, failed, or a retry scheduled).
    func statusChanged(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) async
}

extension DeliveryObserver {
    public func retryScheduled(channelID: String, delay: Duration) {}
    public func circuit(channelID: String, open: Bool) {}

    public func statusChanged(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) async {}
}

public struct DeliverySettings: Sendable {
    /// Attempts without success before a message is marked failed.
    public var maxAttempts: Int
    /// Timeout of one HTTP call to a network.
    public var timeout: Duration
    /// Deliveries in flight at once (rooms are served in parallel, each room in order).
    public var concurrency: Int
    /// Deliveries in flight at once for one channel, so a slow or failing
    /// network cannot take every slot from the others.
    public var perChannelConcurrency: Int
    /// Failed calls in a row that open a channel's circuit, and the first cool-down.
    public var circuitThreshold: Int
    public var circuitCooldown: TimeInterval
    public var backoff: Backoff
    /// How often due retries are looked for when nothing wakes the worker.
    public var pollInterval: Duration

    public init(
        maxAttempts: Int = 8, timeout: Duration = .seconds(15), concurrency: Int = 64,
        backoff: Backoff = Backoff(), pollInterval: Duration = .milliseconds(100), perChannelConcurrency: Int = 16,
        circuitThreshold: Int = 5, circuitCooldown: TimeInterval = 5
    ) {
        self.maxAttempts = maxAttempts
        self.timeout = timeout
        self.concurrency = concurrency
        self.perChannelConcurrency = max(1, min(perChannelConcurrency, concurrency))
        self.circuitThreshold = circuitThreshold
        self.circuitCooldown = circuitCooldown
        self.backoff = backoff
        self.pollInterval = pollInterval
    }
}

/// Delivers the durable outbox: each row is one message (or follow-up call),
/// rendered by its channel's adapter and sent through the transport. A row is
/// marked delivered in the store before anything else happens, so a restart
/// never resends it; a long message's parts are recorded one by one.
public final class OutboxWorker: Service, Sendable {
    private let store: any OutboxPort
    private let directory: any ChannelDirectory
    private let transport: any HTTPTransport
    private let settings: DeliverySettings
    private let observer: (any DeliveryObserver)?
    private let logger: Logger
    private let state: InFlight
    private let (wakeups, wakeupContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    public init(
        store: any OutboxPort, directory: any ChannelDirectory, transport: any HTTPTransport, settings: DeliverySettings,
        observer: (any DeliveryObserver)? = nil, logger: Logger
    ) {
        self.store = store
        self.directory = directory
        self.transport = transport
        self.settings = settings
        self.observer = observer
        self.logger = logger
        self.state = InFlight(
            perChannel: settings.perChannelConcurrency,
            breaker: CircuitBreaker(threshold: settings.circuitThreshold, cooldown: settings.circuitCooldown))
    }

    /// Something new is in the outbox: look now rather than at the next poll.
    public func wake() {
        wakeupContinuation.yield()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [self] in
                    // The poll ticker: finds retries that became due.
                    // (Cancelled when the service group fails, say the port is taken: stop, don't spin.)
                    while !Task.isCancelled, !(await state.isStopping) {
                        try? await Task.sleep(for: settings.pollInterval)
                        wake()
                    }
                }
                for await _ in wakeups {
                    if await state.isStopping { break }
                    let free = settings.concurrency - (await state.count)
                    guard free > 0 else { continue }
                    let items: [OutboxItem]
                    do {
                        // Channels at their share of slots, or with an open circuit, wait their turn.
                        items = try await store.dueOutbox(
                            now: Date(), limit: free, excluding: await state.ids, excludingChannels: await state.blockedChannels(now: Date()))
                    } catch {
                        logger.error("outbox read failed", metadata: ["omnichat.error": "\(error)"])
                        continue
                    }
                    var skipped: [Int64] = []
                    for item in items {
                        guard await state.claim(item.id, channel: item.channelID, now: Date()) else {
                            skipped.append(item.id)
                            continue
                        }
                        group.addTask { [self] in
                            await deliver(item)
                            await state.remove(item.id, channel: item.channelID)
                            wake()
                        }
                    }
                    if !skipped.isEmpty { try? await store.releaseOutbox(skipped) }
                }
                // Shutting down: stop taking new rows; the group waits for those in flight.
            }
        } onGracefulShutdown: { [self] in
            Task { await state.stop() }
            wakeupContinuation.finish()
        }
    }

    func deliver(_ item: OutboxItem) async {
        var metadata: Logger.Metadata = [
            "omnichat.channel": .string(item.channelID), "omnichat.room": .stringConvertible(item.roomID),
            "omnichat.outbox": .stringConvertible(item.id),
        ]
        guard let adapter = directory.adapter(for: item.channelID, target: item.target) else {
            let what = item.target == .channel ? "channel \(item.channelID)" : "the \(item.target.rawValue) webhook of channel \(item.channelID)"
            await settle(item, attempts: item.attempts + 1, outcome: .retry(after: .seconds(30), reason: "\(what) is not configured"), metadata: metadata)
            return
        }
        let requests: [HTTPRequestDescription]
        switch item.payload {
        case .message(let id, let content):
            var context: [String: String]?
            if item.target == .channel && adapter.capabilities.consumesReplyContext && item.attempts == 0 && item.partsDone == 0 {
                // A reply token is single-use: only this first attempt may have it.
                context = try? await store.takeReplyContext(roomID: item.roomID)
            }
            let message = OutboundMessage(
                conversationID: item.conversationID, content: content, messageID: id, lastInboundAt: item.lastInboundAt,
                replyContext: context, senderName: item.senderName, now: Date(), roomID: item.roomID, channelID: item.channelID)
            do {
                requests = try adapter.render(message)
            } catch {
                await settle(item, attempts: item.attempts, outcome: .permanent(reason: error.reason), metadata: metadata)
                return
            }
        case .action(let action):
            guard let request = adapter.render(action: action) else {
                await settle(item, attempts: item.attempts, outcome: .permanent(reason: "unknown action \(action.name)"), metadata: metadata)
                return
            }
            requests = [request]
        }
        var attempts = item.attempts
        var index = item.partsDone
        while index < requests.count {
            attempts += 1
            metadata["omnichat.attempt"] = .stringConvertible(attempts)
            let clock = ContinuousClock()
            let started = clock.now
            let outcome: DeliveryOutcome
            do {
                let response = try await transport.send(requests[index], timeout: settings.timeout)
                outcome = adapter.classify(response)
            } catch let error as TransportError where error.kind == .privateAddress {
                outcome = .permanent(reason: error.description)  // the address will not become allowed by trying again
            } catch let error as TransportError {
                outcome = .retry(after: nil, reason: error.description)
            } catch {
                outcome = .retry(after: nil, reason: "\(error)")
            }
            observer?.attempted(channelID: item.channelID, outcome: Self.label(outcome), latency: started.duration(to: clock.now))
            if item.target == .channel {
                // Only the network's own trouble counts against its circuit (not a refused message).
                var failed = false
                if case .retry = outcome { failed = true }
                if let change = await state.record(channel: item.channelID, success: !failed, now: Date()) {
                    observer?.circuit(channelID: item.channelID, open: change)
                    logger.warning(
                        change ? "circuit opened: the channel's calls keep failing" : "circuit closed",
                        metadata: ["omnichat.channel": .string(item.channelID)])
                }
            }
            if case .delivered = outcome, index < requests.count - 1 {
                index += 1
                do {
                    try await store.recordPartDelivered(outboxID: item.id, partsDone: index)
                } catch {
                    logger.error("could not record a delivered part", metadata: metadata.merging(["omnichat.error": "\(error)"]) { $1 })
                    return
                }
                continue
            }
            var failures = attempts - index  // calls that did not succeed, over all parts
            if case .delivered = outcome { failures -= 1 }
            await settle(item, attempts: attempts, failures: failures, outcome: outcome, metadata: metadata)
            return
        }
        // Every part was already delivered (a crash after the last part was recorded).
        await settle(item, attempts: attempts, outcome: .delivered(networkMessageID: nil), metadata: metadata)
    }

    private func settle(
        _ item: OutboxItem, attempts: Int, failures: Int? = nil, outcome: DeliveryOutcome, metadata: Logger.Metadata
    ) async {
        do {
            switch outcome {
            case .delivered(let networkID):
                try await store.markDelivered(outboxID: item.id, attempts: attempts, networkMessageID: networkID)
                logger.debug("delivered", metadata: metadata)
                await notify(item, .delivered, attempts, nil)
            case .retry(let after, let reason):
                if (failures ?? attempts) >= settings.maxAttempts {
                    let message = "\(reason) (gave up after \(attempts) attempts)"
                    try await store.markFailed(outboxID: item.id, attempts: attempts, error: message)
                    logger.warning("delivery failed", metadata: metadata.merging(["omnichat.reason": .string(message)]) { $1 })
                    await notify(item, .failed, attempts, message)
                } else {
                    let delay = after ?? settings.backoff.delay(afterAttempt: failures ?? attempts)
                    let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                    try await store.scheduleRetry(outboxID: item.id, attempts: attempts, at: Date().addingTimeInterval(seconds), error: reason)
                    observer?.retryScheduled(channelID: item.channelID, delay: delay)
                    await notify(item, .pending, attempts, reason)
                    logger.info(
                        "delivery will be retried",
                        metadata: metadata.merging(["omnichat.reason": .string(reason), "omnichat.retry_in": "\(delay)"]) { $1 })
                }
            case .permanent(let reason):
                try await store.markFailed(outboxID: item.id, attempts: attempts, error: reason)
                logger.warning("delivery failed", metadata: metadata.merging(["omnichat.reason": .string(reason)]) { $1 })
                await notify(item, .failed, attempts, reason)
            }
        } catch {
            // The row stays pending and is tried again: at least once beats never.
            logger.error("could not record a delivery outcome", metadata: metadata.merging(["omnichat.error": "\(error)"]) { $1 })
        }
    }

    /// Tells the observer about replies (not follow-ups or integration webhooks).
    private func notify(_ item: OutboxItem, _ status: DeliveryStatus, _ attempts: Int, _ error: String?) async {
        guard item.target == .channel, case .message(let id, _) = item.payload else { return }
        await observer?.statusChanged(roomID: item.roomID, messageID: id, status: status, attempts: attempts, error: error)
    }

    static func label(_ outcome: DeliveryOutcome) -> String {
        switch outcome {
        case .delivered: "delivered"
        case .retry: "retry"
        case .permanent: "failed"
        }
    }
}

/// Outbox rows being delivered right now, and each channel's share and circuit.
actor InFlight {
    private(set) var ids: Set<Int64> = []
    private(set) var isStopping = false
    private var perChannelCount: [String: Int] = [:]
    private var breakers: [String: CircuitBreaker] = [:]
    let perChannel: Int
    let template: CircuitBreaker

    init(perChannel: Int, breaker: CircuitBreaker) {
        self.perChannel = perChannel
        self.template = breaker
    }

    var count: Int { ids.count }

    /// Channels that may not start a call now.
    func blockedChannels(now: Date) -> Set<String> {
        var blocked = Set(perChannelCount.filter { $0.value >= perChannel }.keys)
        for (channel, breaker) in breakers where breaker.isOpen {
            var probe = breaker
            if !probe.allows(now: now, inFlight: perChannelCount[channel] ?? 0) { blocked.insert(channel) }
        }
        return blocked
    }

    func claim(_ id: Int64, channel: String, now: Date) -> Bool {
        let inFlight = perChannelCount[channel] ?? 0
        guard inFlight < perChannel else { return false }
        var breaker = breakers[channel] ?? template
        guard breaker.allows(now: now, inFlight: inFlight) else { return false }
        breakers[channel] = breaker
        ids.insert(id)
        perChannelCount[channel] = inFlight + 1
        return true
    }

    func remove(_ id: Int64, channel: String) {
        ids.remove(id)
        perChannelCount[channel] = max(0, (perChannelCount[channel] ?? 1) - 1)
    }

    /// Returns true when the circuit opened, false when it closed, nil when unchanged.
    func record(channel: String, success: Bool, now: Date) -> Bool? {
        var breaker = breakers[channel] ?? template
        let wasOpen = breaker.isOpen
        let changed = breaker.record(success: success, now: now)
        breakers[channel] = breaker
        guard changed || wasOpen != breaker.isOpen else { return nil }
        return breaker.isOpen
    }

    func stop() { isStopping = true }
}
