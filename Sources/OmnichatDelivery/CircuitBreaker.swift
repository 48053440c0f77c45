import Foundation

/// One channel's circuit: after `threshold` failed calls in a row it opens, and
/// the channel's deliveries wait (without spending attempts) for `cooldown`;
/// then a single probe goes out (half-open): success closes the circuit, a
/// failure opens it again for twice as long, up to `maxCooldown`.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: Date)
        case halfOpen
    }

    public var threshold: Int
    public var cooldown: TimeInterval
    public var maxCooldown: TimeInterval
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    private var currentCooldown: TimeInterval

    public init(threshold: Int = 5, cooldown: TimeInterval = 5, maxCooldown: TimeInterval = 300) {
        self.threshold = threshold
        self.cooldown = cooldown
        self.maxCooldown = maxCooldown
        self.currentCooldown = cooldown
    }

    /// Whether a call may start now, given how many of this channel's calls are in flight.
    public mutating func allows(now: Date, inFlight: Int) -> Bool {
        switch state {
        case .closed: return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            return inFlight == 0
        case .halfOpen: return inFlight == 0
        }
    }

    /// Records a call's result; returns true when the circuit changed between open and closed.
    @discardableResult
    public mutating func record(success: Bool, now: Date) -> Bool {
        if success {
            let wasOpen = state != .closed
            state = .closed
            consecutiveFailures = 0
            currentCooldown = cooldown
            return wasOpen
        }
        consecutiveFailures += 1
        switch state {
        case .halfOpen:
            currentCooldown = min(currentCooldown * 2, maxCooldown)
            state = .open(until: now.addingTimeInterval(currentCooldown))
            return false
        case .closed where consecutiveFailures >= threshold:
            state = .open(until: now.addingTimeInterval(currentCooldown))
            return true
        default:
            return false
        }
    }

    public var isOpen: Bool { state != .closed }
}
