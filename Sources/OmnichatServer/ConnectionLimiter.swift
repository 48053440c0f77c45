import Foundation
import NIOCore

/// Sheds load at the cheapest point: a connection beyond `limit` open ones is
/// closed as soon as it is accepted, before any byte is parsed. Networks treat
/// that as a failed delivery and retry later; the connections already open
/// keep being answered inside their deadlines instead of queueing behind a
/// crowd the two cores cannot serve.
final class ConnectionLimiter: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var open = 0
    private(set) var refused = 0

    init(limit: Int) {
        self.limit = limit
    }

    var current: Int { lock.withLock { open } }
    var refusedCount: Int { lock.withLock { refused } }

    /// True when the connection may stay.
    func admit() -> Bool {
        lock.withLock {
            guard open < limit else {
                refused += 1
                return false
            }
            open += 1
            return true
        }
    }

    func release() {
        lock.withLock { open -= 1 }
    }

    func handler() -> Handler { Handler(limiter: self) }

    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let limiter: ConnectionLimiter
        private var admitted = false

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

        func channelInactive(context: ChannelHandlerContext) {
            if admitted {
                admitted = false
                limiter.release()
            }
            context.fireChannelInactive()
        }
    }
}
