import Foundation

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

    public init(
        stored: Int, duplicates: Int, roomIDs: [Int64], transitions: [RoomTransition] = [], messages: [StoredMessage] = [],
        deliveries: [DeliveryUpdate] = []
    ) {
        self.stored = stored
        self.duplicates = duplicates
        self.roomIDs = roomIDs
        self.transitions = transitions
        self.messages = messages
        self.deliveries = deliveries
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

public struct RoomFilter: Sendable {
    /// Only rooms assigned to this user (agents see their own).
    public var assigneeID: Int64?
    public var channelIDs: [String]
    public var statuses: [RoomStatus]
    /// Rooms whose sort key is below this cursor.
    public var cursor: String?
    public var limit: Int
    /// Only rooms with no assignee.
    public var unassigned: Bool = false
    /// Only rooms queued in this division (rooms with none are in the default division).
    public var divisionID: Int64?
    /// Whose read marks `unread` looks at.
    public var readerID: Int64?
    /// `true`: rooms with inbound messages after the reader's read mark; `false`: rooms without.
    public var unread: Bool?
    /// Case-insensitive substring of a message's text or the customer's name or username.
    public var text: String?
    /// Rooms with any of these tags.
    public var tags: [String] = []
    /// Rooms whose sort key is above this cursor: the page before the one
    /// that began there (still newest first). The page's `nextCursor` then
    /// points further back, to newer rooms; `nil` when there are none.
    public var cursorBefore: String?

    /// The cursor of a room's place in the listing (newest message first).
    public static func cursor(of room: Room) -> String {
        let time = room.lastMessageAt?.timeIntervalSince1970 ?? 0
        return Data("\(time)|\(room.id)".utf8).base64EncodedString()
    }

    public init(
        assigneeID: Int64? = nil, channelIDs: [String] = [], statuses: [RoomStatus] = [], cursor: String? = nil, limit: Int = 50,
        unassigned: Bool = false, divisionID: Int64? = nil, readerID: Int64? = nil, unread: Bool? = nil, text: String? = nil,
        tags: [String] = []
    ) {
        self.assigneeID = assigneeID
        self.channelIDs = channelIDs
        self.statuses = statuses
        self.cursor = cursor
        self.limit = limit
        self.unassigned = unassigned
        self.divisionID = divisionID
        self.readerID = readerID
        self.unread = unread
        self.text = text
        self.tags = tags
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
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

public struct NewUser: Sendable {
    public var email: String
    public var name: String
    public var role: Role
    public var passwordHash: String
    public var channels: [String]?
    public var maxOpenRooms: Int?

    public init(email: String, name: String, role: Role, passwordHash: String, channels: [String]? = nil, maxOpenRooms: Int? = nil) {
        self.email = email
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.channels = channels
        self.maxOpenRooms = maxOpenRooms
    }
}

/// Store errors that the API maps to statuses.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `busy`: the store is behind and refused the work without doing any of it
    /// (back-pressure); the caller answers 503 and the sender retries.
    public enum Kind: String, Sendable { case notFound, conflict, invalid, busy }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The one source of truth. SQLite implements it first; PostgreSQL later.
/// Every state change that allocation depends on is a conditional update, so
/// two decisions can never put an agent above capacity.
public protocol Store: TeamStore, InboxStore, CustomerStore, CompatibilityStore, Sendable {
    /// Reachable and answering (for `/readyz`).
    func ping() async throws
    /// The integer id an entity had as a string id (`rm_…`, `usr_…`) before
    /// ids became integers; nil when unknown. Deprecated input, for one release.
    func legacyID(kind: EntityKind, oldID: String) async throws -> Int64?

    // MARK: Ingest
    /// Commits one request's events atomically before the webhook is answered:
    /// dedupe by (channel, event id), upsert contact, find or open the room,
    /// insert messages and follow-up actions.
    func ingest(_ batch: IngestBatch) async throws -> IngestResult

    // MARK: Users and sessions
    func createUser(_ user: NewUser) async throws -> User
    func user(id: Int64) async throws -> User?
    /// The user and their password hash.
    func credentials(email: String) async throws -> (User, String)?
    func countUsers(role: Role) async throws -> Int
    func createSession(tokenHash: String, userID: Int64, expiresAt: Date) async throws
    func user(sessionTokenHash: String, now: Date) async throws -> User?
    func deleteSession(tokenHash: String) async throws
    func setOnline(userID: Int64, online: Bool) async throws -> User

    // MARK: Rooms and messages
    func rooms(_ filter: RoomFilter) async throws -> Page<Room>
    func room(id: Int64) async throws -> Room?
    func messages(roomID: Int64, cursor: String?, limit: Int) async throws -> Page<StoredMessage>
    /// Stores an agent's reply and its outbox row in one transaction.
    /// Sent by a user (`senderUserID`) or by a bot with its API key (`senderKeyID`).
    func addOutbound(roomID: Int64, content: MessageContent, senderUserID: Int64?, senderKeyID: Int64?) async throws -> StoredMessage
    /// A message and its room (for the media route).
    func message(id: Int64) async throws -> (StoredMessage, Room)?
    /// Returns the room's reply context and clears it: a context is used once.
    func takeReplyContext(roomID: Int64) async throws -> [String: String]?
    /// Marks a room resolved (idempotent); its assignee's capacity frees up.
    func resolve(roomID: Int64, by actor: String) async throws -> Room
    /// Transitions recorded for a room, oldest first (the audit trail).
    func transitions(roomID: Int64) async throws -> [RoomTransition]

    // MARK: Routing
    /// Waiting rooms, oldest first (every division's queue, interleaved by age),
    /// skipping the `offset` oldest.
    func waitingRooms(limit: Int, offset: Int) async throws -> [Room]
    /// Online agents who serve the channel and belong to the division (`nil`:
    /// the default division) and are below capacity, least loaded first.
    func eligibleAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad]
    /// Whether any agent is online and below capacity (whatever they serve): when
    /// none is, routing has nothing to try and skips reading the queue.
    func hasFreeAgent(defaultCapacity: Int) async throws -> Bool
    /// Assigns a waiting room (or, with `replace`, takes an assigned room from
    /// its agent) to an online agent below `capacity` (`force` ignores capacity).
    /// Returns nil when any condition no longer holds.
    func assign(roomID: Int64, to userID: Int64, capacity: Int, actor: String, replace: Bool, force: Bool) async throws -> RoomTransition?
    /// Puts an assigned (or bot) room back in a division's queue.
    func requeue(roomID: Int64, divisionID: Int64?, actor: String) async throws -> RoomTransition
    /// Every room of an agent back to the queue (an agent going offline, deactivated).
    func returnRooms(userID: Int64, actor: String) async throws -> [RoomTransition]
    /// Sets a user's capacity (`nil`: the default).
    func setCapacity(userID: Int64, maxOpenRooms: Int?) async throws -> User
    /// Sets the channels a user serves (`nil`: every channel).
    func setChannels(userID: Int64, channels: [String]?) async throws -> User

    /// Queues a call to one of the merchant's webhooks for a room (durable, retried).
    func enqueueWebhook(roomID: Int64, target: OutboxTarget, action: AdapterAction) async throws
    /// Marks that the allocation webhook was asked about a waiting room (`nil` clears it).
    func markAllocationRequested(roomID: Int64, at: Date?) async throws
    /// Waiting rooms whose allocation request is older than `before` (custom allocation's deadline).
    func allocationOverdue(before: Date, limit: Int) async throws -> [Room]
    /// Bot → waiting (a bot's handover), with the bot's note for the agent.
    func handover(roomID: Int64, divisionID: Int64?, note: String?, actor: String) async throws -> RoomTransition
    /// Online agents who serve the channel and belong to the division, full or not.
    func candidateAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad]
    func countRooms(status: RoomStatus) async throws -> Int

    // MARK: Divisions
    func divisions() async throws -> [Division]
    func createDivision(name: String) async throws -> Division
    func setDefaultDivision(id: Int64) async throws
    func setUserDivisions(userID: Int64, divisionIDs: [Int64]) async throws -> User

    // MARK: Settings and API keys
    func settings() async throws -> [String: String]
    func setSettings(_ values: [String: String]) async throws
    func createAPIKey(name: String, scope: APIKey.Scope, keyHash: String) async throws -> APIKey
    func apiKey(keyHash: String) async throws -> APIKey?

    // MARK: Outbox
    /// Items due now, at most one per room (the oldest), excluding `excluding`.
    func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>, excludingChannels: Set<String>) async throws -> [OutboxItem]
    /// When the next not-yet-due item becomes due.
    func nextOutboxDue() async throws -> Date?
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

extension Store {
    public func releaseOutbox(_ ids: [Int64]) async throws {}

    public func dueOutbox(now: Date, limit: Int, excluding: Set<Int64>) async throws -> [OutboxItem] {
        try await dueOutbox(now: now, limit: limit, excluding: excluding, excludingChannels: [])
    }

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

/// What the daemon needs of a store beyond `Store`; both engines provide it.
public protocol DaemonStore: Store {
    /// This daemon's name (outbox leases, `delivered_by`).
    var nodeName: String { get }
    /// Webhook requests waiting for a commit, and how many were refused as busy.
    func ingestBacklog() async -> (waiting: Int, refused: Int)
    /// Stored messages, all or one direction (tests, reports).
    func countMessages(direction: MessageDirection?) async throws -> Int
    /// The cluster-wide live event log; `nil` when this daemon is the only one
    /// (SQLite): its events stay in memory.
    var eventLog: (any LiveEventLog)? { get }
    /// Releases connections (the daemon is stopping).
    func close() async
    /// Transactions run again after a serialization failure or a deadlock
    /// (several daemons on PostgreSQL; always 0 on SQLite).
    var conflictRetries: Int { get }
}

/// Live events shared by every daemon on one database, in one order.
public protocol LiveEventLog: Sendable {
    /// Appends events (JSON texts) in order; returns their ids.
    func append(_ bodies: [String]) async throws -> [Int64]
    /// Events after `id`, oldest first.
    func events(after id: Int64, limit: Int) async throws -> [LoggedEvent]
    /// These events, those that exist (ids skipped by a reader, committed late).
    func events(ids: [Int64]) async throws -> [LoggedEvent]
    /// The id of the newest event older than `seconds` ago (where a fresh
    /// daemon starts reading), or 0.
    func horizon(olderThan seconds: Double) async throws -> Int64
    /// Wakes when another daemon (or this one) appended events.
    func notifications() -> AsyncStream<Void>
    /// Drops events older than `seconds`.
    func prune(olderThan seconds: Double) async throws
}

public struct LoggedEvent: Sendable, Equatable {
    public var id: Int64
    public var body: String
    public var at: Date

    public init(id: Int64, body: String, at: Date) {
        self.id = id
        self.body = body
        self.at = at
    }
}

extension DaemonStore {
    /// Every stored message.
    public func countMessages() async throws -> Int { try await countMessages(direction: nil) }
}
