import Foundation

/// Webhooks in: what the webhook routes commit before they answer.
public protocol IngestPort: Sendable {
    /// Reachable and answering (for `/readyz`).
    func ping() async throws
    /// Commits one request's events atomically before the webhook is answered:
    /// dedupe by (channel, event id), upsert contact, find or open the room,
    /// insert messages and follow-up actions.
    func ingest(_ batch: IngestBatch) async throws -> IngestResult
}

/// One webhook request's events, committed all or none.
public struct IngestBatch: Sendable {
    public var channelID: String
    public var events: [InboundEvent]
    /// The channel has a bot: new sessions start in `bot` and messages go to the bot.
    public var botEnabled: Bool
    /// The division new rooms of this channel wait in (`nil`: the default).
    public var divisionID: Int64?

    public init(channelID: String, events: [InboundEvent], botEnabled: Bool = false, divisionID: Int64? = nil) {
        self.channelID = channelID
        self.events = events
        self.botEnabled = botEnabled
        self.divisionID = divisionID
    }
}

public struct IngestResult: Sendable, Equatable {
    /// Events stored by this call.
    public var stored: Int
    /// Events already seen (redeliveries), acknowledged and dropped.
    public var duplicates: Int
    /// Rooms that received a message and are waiting for an agent (new,
    /// reopened, or still queued): the ones routing must look at.
    public var roomIDs: [Int64]
    /// Rooms opened or reopened by these events (for the event bus).
    public var transitions: [RoomTransition]
    /// The customer messages stored (for live events).
    public var messages: [StoredMessage]
    /// Outbound messages whose delivery status receipts moved (for live events).
    public var deliveries: [DeliveryUpdate]
    /// What the network told about known rooms that is not a message (for live events).
    public var notices: [RoomNotice]

    public init(
        stored: Int, duplicates: Int, roomIDs: [Int64], transitions: [RoomTransition] = [], messages: [StoredMessage] = [],
        deliveries: [DeliveryUpdate] = [], notices: [RoomNotice] = []
    ) {
        self.stored = stored
        self.duplicates = duplicates
        self.roomIDs = roomIDs
        self.transitions = transitions
        self.messages = messages
        self.deliveries = deliveries
        self.notices = notices
    }
}

/// A reply's delivery status as a receipt left it.
public struct DeliveryUpdate: Sendable, Equatable {
    public var roomID: Int64
    public var messageID: Int64
    public var status: DeliveryStatus
    public var attempts: Int
    public var error: String?

    public init(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) {
        self.roomID = roomID
        self.messageID = messageID
        self.status = status
        self.attempts = attempts
        self.error = error
    }
}
