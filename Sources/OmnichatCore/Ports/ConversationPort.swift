import Foundation

/// Rooms and their messages as agents and integrations read and write them.
public protocol ConversationPort: Sendable {
    func rooms(_ filter: RoomFilter) async throws -> Page<Room>
    func room(id: Int64) async throws -> Room?
    func messages(roomID: Int64, cursor: String?, limit: Int) async throws -> Page<StoredMessage>
    /// Stores an agent's reply and its outbox row in one transaction.
    /// Sent by a user (`senderUserID`) or by a bot with its API key (`senderKeyID`).
    func addOutbound(roomID: Int64, content: MessageContent, senderUserID: Int64?, senderKeyID: Int64?) async throws -> StoredMessage
    /// A message and its room (for the media route).
    func message(id: Int64) async throws -> (StoredMessage, Room)?
    /// Marks a room resolved (idempotent); its assignee's capacity frees up.
    func resolve(roomID: Int64, by actor: String) async throws -> Room
    /// Transitions recorded for a room, oldest first (the audit trail).
    func transitions(roomID: Int64) async throws -> [RoomTransition]
    func countRooms(status: RoomStatus) async throws -> Int
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
