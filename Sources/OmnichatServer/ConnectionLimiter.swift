import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Guards every HTTP connection at the cheapest point, on its event loop:
/// - a connection beyond `limit` open ones is closed as soon as it is
///   accepted, before any byte is parsed (networks treat that as a failed
///   delivery and retry later), so the connections already open keep being
///   answered inside their deadlines instead of queueing behind a crowd;
/// - a request whose body has not arrived in full within `bodyTimeout` of its
///   head has its connection closed (slow-body senders cannot pin a request).
/// - a connection whose client stops reading (the connection stays
///   unwritable, its output piling up) for `writeTimeout` is closed: a stalled
///   event stream, or a download nobody collects, holds nothing for long.
/// All use the event loop's own timers: no task, no thread hop per request.
final class ConnectionLimiter: Sendable {
    let limit: Int
    let bodyTimeout: TimeAmount
    let writeTimeout: TimeAmount
    private let counts = Mutex((open: 0, refused: 0, slowBodies: 0, stalledWrites: 0))

    init(limit: Int, bodyTimeout: Duration = .seconds(10), writeTimeout: Duration = .seconds(30)) {
        self.limit = limit
        self.bodyTimeout = Self.amount(bodyTimeout)
        self.writeTimeout = Self.amount(writeTimeout)
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        let parts = duration.components
        return .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }

    var current: Int { counts.withLock { $0.open } }
    var refusedCount: Int { counts.withLock { $0.refused } }
    var slowBodyCount: Int { counts.withLock { $0.slowBodies } }
    /// Connections closed because their client stopped reading.
    var stalledWriteCount: Int { counts.withLock { $0.stalledWrites } }

    /// True when the connection may stay.
    func admit() -> Bool {
        counts.withLock { counts in
            guard counts.open < limit else {
                counts.refused += 1
                return false
            }
            counts.open += 1
            return true
        }
    }

    func release() {
        counts.withLock { $0.open -= 1 }
    }

    func slowBody() {
        counts.withLock { $0.slowBodies += 1 }
    }

    func stalledWrite() {
        counts.withLock { $0.stalledWrites += 1 }
    }

    func handler() -> Handler { Handler(limiter: self) }

    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        let limiter: ConnectionLimiter
        private var admitted = false
        private var bodyTimer: Scheduled<Void>?
        private var writeTimer: Scheduled<Void>?

        init(limiter: ConnectionLimiter) {
            self.limiter = limiter
        }

        func handlerAdded(context: ChannelHandlerContext) {
            if context.channel.isActive { check(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            check(context)
            context.fireChannelActive()
        }

        private func check(_ context: ChannelHandlerContext) {
            guard !admitted else { return }
            if limiter.admit() {
                admitted = true
            } else {
                context.close(promise: nil)
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head:
                bodyTimer?.cancel()
                let limiter = self.limiter
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                bodyTimer = context.eventLoop.scheduleTask(in: limiter.bodyTimeout) {
                    limiter.slowBody()
                    loopBound.value.close(promise: nil)
                }
            case .end:
                bodyTimer?.cancel()
                bodyTimer = nil
            case .body:
                break
            }
            context.fireChannelRead(data)
        }

        /// Unwritable: the client is not taking what we send. Writable again
        /// before the deadline, all is well; otherwise the connection is closed.
        func channelWritabilityChanged(context: ChannelHandlerContext) {
            if context.channel.isWritable {
                writeTimer?.cancel()
                writeTimer = nil
            } else if writeTimer == nil {
                let limiter = self.limiter
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                writeTimer = context.eventLoop.scheduleTask(in: limiter.writeTimeout) {
                    guard !loopBound.value.channel.isWritable else { return }
                    limiter.stalledWrite()
                    loopBound.value.close(promise: nil)
                }
            }
            context.fireChannelWritabilityChanged()
        }

        func channelInactive(context: ChannelHandlerContext) {
            bodyTimer?.cancel()
            bodyTimer = nil
            writeTimer?.cancel()
            writeTimer = nil
            if admitted {
                admitted = false
                limiter.release()
            }
            context.fireChannelInactive()
        }
    }
}

/// One ticking task for every pending deadline, instead of a sleeping task
/// per request: `schedule` returns a key, `cancel` forgets it, and whatever
/// is past due when the ticker runs (every `tick`) is fired once.
final class DeadlineWheel: Sendable {
    private struct State {
        var entries: [UInt64: (due: ContinuousClock.Instant, fire: @Sendable () -> Void)] = [:]
        var next: UInt64 = 0
        var ticker: Task<Void, Never>?
    }

    private let state = Mutex(State())
    let tick: Duration

    init(tick: Duration = .milliseconds(50)) {
        self.tick = tick
    }

    func schedule(after delay: Duration, _ fire: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.entries[state.next] = (ContinuousClock.now + delay, fire)
            if state.ticker == nil {
                let tick = self.tick
                state.ticker = Task.detached { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: tick)
                        guard let self, self.fireDue() else { return }
                    }
                }
            }
            return state.next
        }
    }

    func cancel(_ key: UInt64) {
        state.withLock { _ = $0.entries.removeValue(forKey: key) }
    }

    /// Fires what is due; false (and the ticker stops) when nothing is left.
    private func fireDue() -> Bool {
        let now = ContinuousClock.now
        let (due, more): ([@Sendable () -> Void], Bool) = state.withLock { state in
            let keys = state.entries.filter { $0.value.due <= now }.map(\.key)
            let fired = keys.compactMap { state.entries.removeValue(forKey: $0)?.fire }
            if state.entries.isEmpty { state.ticker = nil }
            return (fired, !state.entries.isEmpty)
        }
        for fire in due { fire() }
        return more
    }
}
