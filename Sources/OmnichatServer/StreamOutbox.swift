import Foundation
import Synchronization

/// One live event stream's pending output, bounded in bytes. The stream's
/// producers (its events, its keep-alives) add lines without waiting; the
/// response writer takes everything pending at once. A reader so far behind
/// that the pending lines would pass `budget` bytes loses them: what is
/// pending is replaced by a `stream.reset` event and the stream ends, so a
/// client that stopped reading holds at most `budget` bytes of the daemon's
/// memory (plus the socket's buffers), however many events follow.
final class StreamOutbox: Sendable {
    static let resetLine = "event: stream.reset\ndata: {\"reason\":\"the client fell too far behind; refetch and reconnect\"}\n\n"

    private struct State {
        var lines: [String] = []
        var bytes = 0
        var finished = false
        var overflowed = false
        var waiter: CheckedContinuation<[String]?, Never>?
    }

    let budget: Int
    private let state = Mutex(State())

    init(budget: Int) {
        self.budget = budget
    }

    /// Whether the reader fell behind and the stream was reset.
    var overflowed: Bool { state.withLock { $0.overflowed } }

    /// Adds a line; false once the stream has ended (finished, or reset now
    /// because this line would pass the budget).
    @discardableResult
    func push(_ line: String) -> Bool {
        let (waiter, lines, accepted): (CheckedContinuation<[String]?, Never>?, [String], Bool) = state.withLock { state in
            guard !state.finished else { return (nil, [], false) }
            let size = line.utf8.count
            if state.bytes + size > budget {
                state.lines = [Self.resetLine]
                state.bytes = Self.resetLine.utf8.count
                state.finished = true
                state.overflowed = true
            } else {
                state.lines.append(line)
                state.bytes += size
            }
            guard let waiter = state.waiter else { return (nil, [], !state.overflowed) }
            state.waiter = nil
            defer {
                state.lines = []
                state.bytes = 0
            }
            return (waiter, state.lines, !state.overflowed)
        }
        waiter?.resume(returning: lines)
        return accepted
    }

    /// Ends the stream after what is pending (and `last`, when given).
    func finish(with last: String? = nil) {
        let waiter: (CheckedContinuation<[String]?, Never>, [String]?)? = state.withLock { state in
            guard !state.finished else { return nil }
            if let last {
                state.lines.append(last)
                state.bytes += last.utf8.count
            }
            state.finished = true
            guard let waiter = state.waiter else { return nil }
            state.waiter = nil
            let lines = state.lines
            state.lines = []
            state.bytes = 0
            return (waiter, lines.isEmpty ? nil : lines)
        }
        if let (continuation, lines) = waiter { continuation.resume(returning: lines) }
    }

    /// Everything pending, waiting for some when there is none; nil once the
    /// stream has ended and all was taken.
    func next() async -> [String]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[String]?, Never>) in
            let ready: [String]?? = state.withLock { state in
                if !state.lines.isEmpty {
                    let lines = state.lines
                    state.lines = []
                    state.bytes = 0
                    return .some(lines)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
