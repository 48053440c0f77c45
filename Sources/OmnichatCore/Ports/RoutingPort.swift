import Foundation

/// What routing reads and changes: the queue, agents' load, assignments,
/// handovers and the merchant's allocation webhook. Every change allocation
/// depends on is a conditional update, so two decisions can never put an
/// agent above capacity.
public protocol RoutingPort: Sendable {
    // The reads routing makes besides the queue (the same requirements as
    // `ConversationPort`'s, `AccountPort`'s and `SettingsPort`'s: an engine
    // implements each once).
    func room(id: Int64) async throws -> Room?
    func user(id: Int64) async throws -> User?
    func divisions() async throws -> [Division]

    /// Waiting rooms, oldest first (every division's queue, interleaved by age),
    /// skipping the `offset` oldest.
    func waitingRooms(limit: Int, offset: Int) async throws -> [Room]
    /// Online agents who serve the channel and belong to the division (`nil`:
    /// the default division) and are below capacity, least loaded first.
    func eligibleAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad]
    /// Whether any agent is online and below capacity (whatever they serve): when
    /// none is, routing has nothing to try and skips reading the queue.
    func hasFreeAgent(defaultCapacity: Int) async throws -> Bool
    /// Online agents who serve the channel and belong to the division, full or not.
    func candidateAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad]
    /// Assigns a waiting room (or, with `replace`, takes an assigned room from
    /// its agent) to an online agent below `capacity` (`force` ignores capacity).
    /// Returns nil when any condition no longer holds.
    func assign(roomID: Int64, to userID: Int64, capacity: Int, actor: String, replace: Bool, force: Bool) async throws -> RoomTransition?
    /// Puts an assigned (or bot) room back in a division's queue.
    func requeue(roomID: Int64, divisionID: Int64?, actor: String) async throws -> RoomTransition
    /// Every room of an agent back to the queue (an agent going offline, deactivated).
    func returnRooms(userID: Int64, actor: String) async throws -> [RoomTransition]
    /// Bot → waiting (a bot's handover), with the bot's note for the agent.
    func handover(roomID: Int64, divisionID: Int64?, note: String?, actor: String) async throws -> RoomTransition
    /// Marks that the allocation webhook was asked about a waiting room (`nil` clears it).
    func markAllocationRequested(roomID: Int64, at: Date?) async throws
    /// Waiting rooms whose allocation request is older than `before` (custom allocation's deadline).
    func allocationOverdue(before: Date, limit: Int) async throws -> [Room]
}

/// Calls to the merchant's webhooks (allocation, new session, resolved, bot),
/// queued in the outbox: durable and retried like replies.
public protocol MerchantWebhookPort: Sendable {
    /// Queues a call to one of the merchant's webhooks for a room (durable, retried).
    func enqueueWebhook(roomID: Int64, target: OutboxTarget, action: AdapterAction) async throws
}

extension RoutingPort {
    public func waitingRooms(limit: Int) async throws -> [Room] {
        try await waitingRooms(limit: limit, offset: 0)
    }

    public func assign(roomID: Int64, to userID: Int64, capacity: Int, actor: String) async throws -> Bool {
        try await assign(roomID: roomID, to: userID, capacity: capacity, actor: actor, replace: false, force: false) != nil
    }

    public func eligibleAgents(channelID: String, defaultCapacity: Int) async throws -> [AgentLoad] {
        try await eligibleAgents(channelID: channelID, divisionID: nil, defaultCapacity: defaultCapacity)
    }
}

/// An agent as allocation sees them.
public struct AgentLoad: Sendable, Equatable {
    public var userID: Int64
    public var openRooms: Int
    public var capacity: Int
    public var lastAssignedAt: Date?

    public init(userID: Int64, openRooms: Int, capacity: Int, lastAssignedAt: Date?) {
        self.userID = userID
        self.openRooms = openRooms
        self.capacity = capacity
        self.lastAssignedAt = lastAssignedAt
    }
}
