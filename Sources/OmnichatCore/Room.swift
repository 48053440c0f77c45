import Foundation

/// A room is one customer's conversation on one channel.
public enum RoomStatus: String, Codable, Sendable, CaseIterable {
    /// A bot is handling it (reserved for the routing issue).
    case bot
    /// Needs an agent; queued oldest first.
    case waiting
    case assigned
    case resolved
}

public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case agent, supervisor, admin

    var rank: Int {
        switch self {
        case .agent: 0
        case .supervisor: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

public struct User: Sendable, Equatable {
    public var id: String
    public var email: String
    public var name: String
    public var role: Role
    public var online: Bool
    /// Channel ids this user serves; `nil` means every channel.
    public var channels: [String]?
    /// Per-user capacity; `nil` uses the daemon's default.
    public var maxOpenRooms: Int?
    public var createdAt: Date

    public init(
        id: String, email: String, name: String, role: Role, online: Bool = false,
        channels: [String]? = nil, maxOpenRooms: Int? = nil, createdAt: Date = Date()
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.online = online
        self.channels = channels
        self.maxOpenRooms = maxOpenRooms
        self.createdAt = createdAt
    }

    public func serves(channel: String) -> Bool {
        channels.map { $0.contains(channel) } ?? true
    }
}

public struct Contact: Sendable, Equatable {
    public var id: String
    public var channelID: String
    public var externalID: String
    public var displayName: String?
    public var username: String?

    public init(id: String, channelID: String, externalID: String, displayName: String?, username: String?) {
        self.id = id
        self.channelID = channelID
        self.externalID = externalID
        self.displayName = displayName
        self.username = username
    }
}

public struct Room: Sendable, Equatable {
    public var id: String
    public var channelID: String
    /// The network's conversation id (where replies go).
    public var conversationID: String
    public var status: RoomStatus
    public var assignee: User?
    public var contact: Contact
    public var lastMessageAt: Date?
    public var waitingSince: Date?
    public var createdAt: Date

    public init(
        id: String, channelID: String, conversationID: String, status: RoomStatus, assignee: User?,
        contact: Contact, lastMessageAt: Date?, waitingSince: Date?, createdAt: Date
    ) {
        self.id = id
        self.channelID = channelID
        self.conversationID = conversationID
        self.status = status
        self.assignee = assignee
        self.contact = contact
        self.lastMessageAt = lastMessageAt
        self.waitingSince = waitingSince
        self.createdAt = createdAt
    }
}

public enum DeliveryStatus: String, Codable, Sendable {
    /// Inbound messages: stored.
    case received
    /// Outbound: waiting in the outbox (first try or a retry).
    case pending
    /// Accepted by the network (and, with receipts, delivered to the person).
    case delivered
    /// The person read it (networks with read receipts).
    case read
    case failed

    /// Statuses only move forward: a late "delivered" never undoes "read".
    public var rank: Int {
        switch self {
        case .received, .pending: 0
        case .delivered: 1
        case .read: 2
        case .failed: 1
        }
    }
}

public struct StoredMessage: Sendable, Equatable {
    public var id: String
    public var roomID: String
    public var direction: MessageDirection
    public var content: MessageContent
    public var senderUserID: String?
    public var networkMessageID: String?
    public var createdAt: Date
    public var deliveryStatus: DeliveryStatus
    public var attempts: Int
    public var deliveryError: String?
    /// Position in the room's history; the pagination cursor.
    public var sequence: Int64

    public init(
        id: String, roomID: String, direction: MessageDirection, content: MessageContent, senderUserID: String?,
        networkMessageID: String?, createdAt: Date, deliveryStatus: DeliveryStatus, attempts: Int,
        deliveryError: String?, sequence: Int64
    ) {
        self.id = id
        self.roomID = roomID
        self.direction = direction
        self.content = content
        self.senderUserID = senderUserID
        self.networkMessageID = networkMessageID
        self.createdAt = createdAt
        self.deliveryStatus = deliveryStatus
        self.attempts = attempts
        self.deliveryError = deliveryError
        self.sequence = sequence
    }
}
