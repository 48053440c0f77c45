import Foundation

/// Retention and data-subject requests: what is kept, for how long, and a
/// customer's data erased or exported on request.
public protocol PrivacyPort: Sendable {
    /// One bounded batch of each retention rule that applies, from `cursor`
    /// on; returns what it changed and where the next batch starts.
    func applyRetention(_ policy: RetentionPolicy, now: Date, batchSize: Int, cursor: RetentionCursor) async throws -> RetentionPass
    /// Erases a customer (a contact): their messages' content and media, their
    /// properties, profile and network identifiers, the notes about them.
    /// Rows that reports count stay, without personal data. Refused (conflict)
    /// while one of their rooms is open.
    func eraseContact(id: Int64, now: Date) async throws -> ContactErasure
    /// Everything stored about a customer, for a data-subject request; nil when unknown.
    func exportContact(id: Int64) async throws -> ContactExport?
}

/// `[retention]`: how many days each kind of data is kept; nil keeps it.
public struct RetentionPolicy: Sendable, Equatable {
    /// Messages' text, media references and raw payloads (and internal notes).
    public var messagesDays: Int?
    /// Media references only (attachment URLs and network media ids); the text stays.
    public var mediaDays: Int?
    /// The live event log (PostgreSQL; never kept longer than an hour anyway).
    public var liveEventsDays: Int?
    /// Finished deliveries (the outbox's delivered and failed rows, with their reasons).
    public var deliveryLogsDays: Int?
    /// Audit log entries.
    public var auditLogDays: Int?

    public init(messagesDays: Int? = nil, mediaDays: Int? = nil, liveEventsDays: Int? = nil, deliveryLogsDays: Int? = nil, auditLogDays: Int? = nil) {
        self.messagesDays = messagesDays
        self.mediaDays = mediaDays
        self.liveEventsDays = liveEventsDays
        self.deliveryLogsDays = deliveryLogsDays
        self.auditLogDays = auditLogDays
    }

    public var keepsEverything: Bool {
        messagesDays == nil && mediaDays == nil && liveEventsDays == nil && deliveryLogsDays == nil && auditLogDays == nil
    }
}

/// Where a retention sweep has got to (message ids already looked at).
public struct RetentionCursor: Sendable, Equatable {
    public var messages: Int64 = 0
    public var media: Int64 = 0

    public init(messages: Int64 = 0, media: Int64 = 0) {
        self.messages = messages
        self.media = media
    }
}

/// What one batch changed; `done` when no rule has more to do.
public struct RetentionPass: Sendable, Equatable {
    public var messages = 0
    public var media = 0
    public var deliveries = 0
    public var auditEntries = 0
    public var cursor = RetentionCursor()
    public var done = true

    public init() {}
}

public struct ContactErasure: Sendable, Equatable {
    public var contactID: Int64
    public var rooms: Int
    public var messages: Int
    public var notes: Int
    public var properties: Int

    public init(contactID: Int64, rooms: Int, messages: Int, notes: Int, properties: Int) {
        self.contactID = contactID
        self.rooms = rooms
        self.messages = messages
        self.notes = notes
        self.properties = properties
    }
}

public struct ContactExport: Sendable {
    public var contact: Contact
    public var createdAt: Date
    public var properties: [CustomerProperty]
    public var rooms: [Room]
    /// Every message of those rooms, in stored order.
    public var messages: [StoredMessage]
    public var notes: [ExportedNote]

    public init(contact: Contact, createdAt: Date, properties: [CustomerProperty], rooms: [Room], messages: [StoredMessage], notes: [ExportedNote]) {
        self.contact = contact
        self.createdAt = createdAt
        self.properties = properties
        self.rooms = rooms
        self.messages = messages
        self.notes = notes
    }
}

public struct ExportedNote: Sendable, Equatable {
    public var id: Int64
    public var roomID: Int64
    public var authorID: Int64?
    public var text: String
    public var createdAt: Date

    public init(id: Int64, roomID: Int64, authorID: Int64?, text: String, createdAt: Date) {
        self.id = id
        self.roomID = roomID
        self.authorID = authorID
        self.text = text
        self.createdAt = createdAt
    }
}
