import Foundation

/// The durable outbox as the delivery worker and the dead-letter routes use it.
public protocol OutboxPort: Sendable {
    /// Items due now, at most one per room (the oldest), excluding `excluding`.
    func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem]
    /// When the next not-yet-due item becomes due.
    func nextOutboxDue() async throws -> Date?
    /// Returns the room's reply context and clears it: a context is used once.
    func takeReplyContext(roomID: Int64) async throws -> [String: String]?
    func recordPartDelivered(outboxID: Int64, partsDone: Int) async throws
    func markDelivered(outboxID: Int64, attempts: Int, networkMessageID: String?) async throws
    func scheduleRetry(outboxID: Int64, attempts: Int, at: Date, error: String) async throws
    func markFailed(outboxID: Int64, attempts: Int, error: String) async throws
    /// Gives back rows `dueOutbox` returned that this daemon will not deliver
    /// now (its per-channel share is full, a circuit is open), so another
    /// daemon need not wait for a lease to run out. SQLite: nothing to do.
    func releaseOutbox(_ ids: [Int64]) async throws
    /// Dead letters: outbox rows that gave up, newest first.
    func failedDeliveries(channelIDs: [String], cursor: Int64?, limit: Int) async throws -> Page<FailedDelivery>
    /// Puts a failed reply back in the outbox with a fresh set of attempts.
    /// Returns false when the message has no failed delivery.
    func retryDelivery(messageID: Int64) async throws -> Bool
}

extension OutboxPort {
    public func releaseOutbox(_ ids: [Int64]) async throws {}

    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>) async throws -> [OutboxItem] {
        try await dueOutbox(now: now, limit: limit, excluding: excluding, excludingChannels: [])
    }
}

/// Where an outbox row goes: the channel's network, or one of the merchant's
/// integration webhooks.
public enum OutboxTarget: String, Sendable, Equatable, CaseIterable {
    /// The network's send API (replies, follow-ups).
    case channel
    /// The channel's bot webhook (customer messages while a bot has the room).
    case bot
    /// The custom agent allocation webhook.
    case allocation
    /// The mark-as-resolved webhook.
    case resolved
    /// The new-session webhook.
    case newSession = "new_session"
}

/// An outbox row ready for delivery.
public struct OutboxItem: Sendable, Equatable {
    public enum Payload: Sendable, Equatable {
        case message(id: Int64, content: MessageContent)
        case action(AdapterAction)
    }

    public var id: Int64
    public var channelID: String
    public var roomID: Int64
    public var conversationID: String
    public var payload: Payload
    /// Calls of this item already accepted by the network (a long text is several calls).
    public var partsDone: Int
    public var attempts: Int
    /// When the customer last wrote in the room.
    public var lastInboundAt: Date?
    public var senderName: String?
    public var target: OutboxTarget

    public init(
        id: Int64, channelID: String, roomID: Int64, conversationID: String, payload: Payload, partsDone: Int, attempts: Int,
        lastInboundAt: Date? = nil, senderName: String? = nil, target: OutboxTarget = .channel
    ) {
        self.id = id
        self.channelID = channelID
        self.roomID = roomID
        self.conversationID = conversationID
        self.payload = payload
        self.partsDone = partsDone
        self.attempts = attempts
        self.lastInboundAt = lastInboundAt
        self.senderName = senderName
        self.target = target
    }
}

/// An outbox row that gave up: what, where, and why.
public struct FailedDelivery: Sendable, Equatable {
    public var id: Int64
    public var roomID: Int64
    public var channelID: String
    public var messageID: Int64?
    public var target: OutboxTarget
    public var attempts: Int
    public var error: String?
    public var createdAt: Date

    public init(
        id: Int64, roomID: Int64, channelID: String, messageID: Int64?, target: OutboxTarget, attempts: Int, error: String?, createdAt: Date
    ) {
        self.id = id
        self.roomID = roomID
        self.channelID = channelID
        self.messageID = messageID
        self.target = target
        self.attempts = attempts
        self.error = error
        self.createdAt = createdAt
    }
}
