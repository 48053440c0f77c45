import Foundation

/// Chooses an agent for a room among those eligible. The routing core keeps
/// the policy behind this protocol so custom allocation can replace it.
public protocol AllocationPolicy: Sendable {
    func choose(among candidates: [AgentLoad]) -> AgentLoad?
}

/// The least busy agent below capacity; ties go to the one whose last
/// assignment is oldest (never assigned counts as oldest), then by id so the
/// choice is deterministic.
public struct LeastBusyPolicy: AllocationPolicy {
    public init() {}

    public func choose(among candidates: [AgentLoad]) -> AgentLoad? {
        candidates
            .filter { $0.openRooms < $0.capacity }
            .min { a, b in
                if a.openRooms != b.openRooms { return a.openRooms < b.openRooms }
                let la = a.lastAssignedAt ?? .distantPast
                let lb = b.lastAssignedAt ?? .distantPast
                if la != lb { return la < lb }
                return a.userID < b.userID
            }
    }
}

/// Jittered, capped exponential backoff for retries.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(300)) {
        self.base = base
        self.cap = cap
    }

    /// Delay before attempt `attempt + 1`, given `attempt` attempts so far (≥ 1).
    /// "Equal jitter": half the exponential delay fixed, half random.
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let raw = base * (1 << exponent)
        let capped = raw > cap ? cap : raw
        return capped / 2 + (capped / 2) * random
    }
}
