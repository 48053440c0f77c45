import Foundation
import OmnichatCore
import Synchronization

/// What a committed change means for the rest of the daemon. The application
/// services (`IngestService`, `ReplyService`, `RoomLifecycle`) publish one
/// of these after each commit; the subscribers wired in `Consequences`
/// (live events, metrics, routing's queue, the outbox worker, the room bus)
/// decide what follows. A handler never learns which route caused it.
public enum DomainEvent: Sendable {
    /// A webhook's events were committed. `wakesOutbox`: rows were queued for
    /// the outbox with them (a bot's copy, a network's follow-up call).
    case ingested(channelID: String, result: IngestResult, wakesOutbox: Bool)
    /// Rooms changed state. `freedCapacity`: an agent may now take a waiting room.
    case roomsChanged([RoomTransition], freedCapacity: Bool)
    /// A room waits for an agent now (handed over, sent to a division's queue).
    case roomWaiting(Int64)
    /// An agent's reply (or a bot's) was stored with its outbox row.
    case replyQueued(StoredMessage, channelID: String)
    /// A failed reply went back to the outbox.
    case deliveryRetried(roomID: Int64, messageID: Int64)
    /// A call to one of the merchant's webhooks was queued in the outbox.
    case webhookQueued
    /// Something that decides who can take rooms changed: an agent's
    /// presence, capacity, channels or divisions, the routing settings.
    case capacityChanged
    /// An agent went online or offline.
    case agentStatusChanged(User)
}

/// The one stream of domain events. Handlers are registered once, when the
/// daemon is built, and run in order in the publisher's task, so a
/// consequence has happened by the time the service returns (a reply's live
/// event is out before the API answers).
public final class DomainEvents: Sendable {
    public typealias Handler = @Sendable (DomainEvent) async -> Void
    private let handlers = Mutex<[Handler]>([])

    public init() {}

    public func subscribe(_ handler: @escaping Handler) {
        handlers.withLock { $0.append(handler) }
    }

    public func publish(_ event: DomainEvent) async {
        for handler in handlers.withLock({ $0 }) { await handler(event) }
    }
}
