import Foundation

/// One customer as the console's customer panel shows them: the contact, what
/// they came with, the other contacts known to be the same person (on other
/// channels, say), and the conversations of them all.
public struct ContactDetails: Sendable {
    public var contact: Contact
    public var createdAt: Date
    public var properties: [CustomerProperty]
    /// The person's other contacts, oldest first (empty when not merged).
    public var linked: [Contact]
    /// The rooms of this contact and of the linked ones, newest activity first.
    public var rooms: [Room]

    public init(contact: Contact, createdAt: Date, properties: [CustomerProperty], linked: [Contact], rooms: [Room]) {
        self.contact = contact
        self.createdAt = createdAt
        self.properties = properties
        self.linked = linked
        self.rooms = rooms
    }
}

/// Something that happened in a conversation that is not a message: the
/// customer blocked or unblocked the bot, someone joined or left a group.
public struct RoomNotice: Sendable, Equatable {
    public var roomID: Int64
    /// `blocked`, `unblocked`, `joined`, `left`, or a network's own name for the event.
    public var kind: String
    /// Who it concerns, when the network names them.
    public var name: String?
    public var at: Date

    public init(roomID: Int64, kind: String, name: String?, at: Date) {
        self.roomID = roomID
        self.kind = kind
        self.name = name
        self.at = at
    }
}

/// Customers as people: their details, merging contacts that are one person
/// and undoing it, and the notices of their conversations.
public protocol ContactPort: Sendable {
    /// The contact with its properties, linked contacts and rooms (at most `roomLimit`); nil when unknown.
    func contactDetails(id: Int64, roomLimit: Int) async throws -> ContactDetails?
    /// Makes `other` (and whoever it is already merged with) the same person
    /// as `id`. Returns the person's contact ids. `notFound` for an unknown
    /// contact, `invalid` for a contact merged with itself.
    func mergeContacts(_ id: Int64, with other: Int64) async throws -> [Int64]
    /// Takes the contact out of its person; the others stay together.
    /// `conflict` when it is not merged with anyone.
    func unmergeContact(_ id: Int64) async throws
    /// Whether one of the contact's rooms is the user's (assigned to them, or resolved by them): an agent may then read the customer, as they read those rooms.
    func contactHasRoom(_ contactID: Int64, assignedTo userID: Int64) async throws -> Bool
    /// The room's notices, oldest first.
    func roomNotices(roomID: Int64) async throws -> [RoomNotice]
    /// The user's chosen console language (nil: the browser's).
    func language(userID: Int64) async throws -> String?
    func setLanguage(userID: Int64, language: String?) async throws
}

extension RoomNotice {
    /// The notice a network's system event gives, by the adapters' names for
    /// them (Telegram's, LINE's); nil for events that are not shown.
    public static func kind(ofSystemEvent name: String) -> String? {
        switch name {
        case "blocked", "unfollow": "blocked"
        case "unblocked", "follow": "unblocked"
        case "joined", "memberJoined": "joined"
        case "left", "memberLeft": "left"
        default: nil
        }
    }
}
