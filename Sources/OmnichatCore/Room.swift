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
    public var id: Int64
    public var email: String
    public var name: String
    public var role: Role
    public var online: Bool
    /// Channel ids this user serves; `nil` means every channel.
    public var channels: [String]?
    /// Per-user capacity; `nil` uses the daemon's default.
    public var maxOpenRooms: Int?
    public var createdAt: Date
    /// Division ids; empty means the default division.
    public var divisions: [Int64]
    /// Rooms assigned to this user and not resolved.
    public var openRooms: Int
    /// A deactivated user cannot sign in and gets no rooms (`POST /api/v1/agents/{id}/deactivate`).
    public var active: Bool
    /// Created by invitation and has not chosen a password yet.
    public var invitationPending: Bool

    public init(
        id: Int64, email: String, name: String, role: Role, online: Bool = false,
        channels: [String]? = nil, maxOpenRooms: Int? = nil, createdAt: Date = Date(), divisions: [Int64] = [], openRooms: Int = 0,
        active: Bool = true, invitationPending: Bool = false
    ) {
        self.id = id
        self.email = email
        self.name = name
        self.role = role
        self.online = online
        self.channels = channels
        self.maxOpenRooms = maxOpenRooms
        self.createdAt = createdAt
        self.divisions = divisions
        self.openRooms = openRooms
        self.active = active
        self.invitationPending = invitationPending
    }

    public func serves(channel: String) -> Bool {
        channels.map { $0.contains(channel) } ?? true
    }
}

public struct Contact: Sendable, Equatable {
    public var id: Int64
    public var channelID: String
    public var externalID: String
    public var displayName: String?
    public var username: String?
    public var avatarURL: String?
    public var email: String?
    /// What the customer came with: a JSON object's text (`{}` when nothing).
    public var extras: String?

    public init(
        id: Int64, channelID: String, externalID: String, displayName: String?, username: String?, avatarURL: String? = nil,
        email: String? = nil, extras: String? = nil
    ) {
        self.id = id
        self.channelID = channelID
        self.externalID = externalID
        self.displayName = displayName
        self.username = username
        self.avatarURL = avatarURL
        self.email = email
        self.extras = extras
    }
}

public struct Room: Sendable, Equatable {
    public var id: Int64
    public var channelID: String
    /// The network's conversation id (where replies go).
    public var conversationID: String
    public var status: RoomStatus
    public var assignee: User?
    public var contact: Contact
    public var lastMessageAt: Date?
    public var waitingSince: Date?
    public var createdAt: Date
    /// The division whose queue the room waits in; `nil` is the default division.
    public var divisionID: Int64?
    /// Who had the room before it was resolved (preferred when it reopens).
    public var lastAgentID: Int64?
    /// Conversation sessions: a resolved room that reopens starts the next one.
    public var session: Int
    /// When the custom allocation webhook was asked about this waiting room
    /// (`distantPast`: its deadline passed and the fallback was applied).
    public var allocationRequestedAt: Date?
    /// A group conversation's name (the network's group title); nil for one-to-one chats.
    public var title: String?

    public init(
        id: Int64, channelID: String, conversationID: String, status: RoomStatus, assignee: User?,
        contact: Contact, lastMessageAt: Date?, waitingSince: Date?, createdAt: Date, divisionID: Int64? = nil,
        lastAgentID: Int64? = nil, session: Int = 1
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
        self.divisionID = divisionID
        self.lastAgentID = lastAgentID
        self.session = session
        self.allocationRequestedAt = nil
    }
}

public struct Division: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var isDefault: Bool
    public var createdAt: Date

    public init(id: Int64, name: String, isDefault: Bool, createdAt: Date) {
        self.id = id
        self.name = name
        self.isDefault = isDefault
        self.createdAt = createdAt
    }
}

/// A room's state change, as recorded and published on the event bus.
public struct RoomTransition: Sendable, Equatable {
    public var roomID: Int64
    public var channelID: String
    public var from: RoomStatus?
    public var to: RoomStatus
    public var assigneeID: Int64?
    public var divisionID: Int64?
    /// Who did it: a user id, "routing", "customer", "bot", an API key id.
    public var actor: String
    public var at: Date

    public init(
        roomID: Int64, channelID: String, from: RoomStatus?, to: RoomStatus, assigneeID: Int64?, divisionID: Int64? = nil,
        actor: String, at: Date
    ) {
        self.roomID = roomID
        self.channelID = channelID
        self.from = from
        self.to = to
        self.assigneeID = assigneeID
        self.divisionID = divisionID
        self.actor = actor
        self.at = at
    }
}

/// An integration's credential (a bot, an allocation service, a reporting tool).
public struct APIKey: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        case bot, allocation, read
    }

    public var id: Int64
    public var name: String
    public var scope: Scope
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: Int64, name: String, scope: Scope, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.scope = scope
        self.createdAt = createdAt
        self.revokedAt = revokedAt
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
    public var id: Int64
    public var roomID: Int64
    public var direction: MessageDirection
    public var content: MessageContent
    public var senderUserID: Int64?
    public var networkMessageID: String?
    public var createdAt: Date
    public var deliveryStatus: DeliveryStatus
    public var attempts: Int
    public var deliveryError: String?
    /// Position in the room's history; the pagination cursor.
    public var sequence: Int64
    /// The API key a bot posted this message with (`senderUserID` is nil then).
    public var senderKeyID: Int64?

    public init(
        id: Int64, roomID: Int64, direction: MessageDirection, content: MessageContent, senderUserID: Int64?,
        networkMessageID: String?, createdAt: Date, deliveryStatus: DeliveryStatus, attempts: Int,
        deliveryError: String?, sequence: Int64, senderKeyID: Int64? = nil
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
        self.senderKeyID = senderKeyID
    }
}

/// How rooms find agents, as an admin set it (`GET`/`PATCH /api/v1/settings`).
public struct RoutingSettings: Sendable, Equatable, Codable {
    public struct CustomAllocation: Sendable, Equatable, Codable {
        public enum Fallback: String, Sendable, Codable { case automatic, wait }
        public var enabled = false
        public var webhookURL: String?
        public var fallback: Fallback = .automatic
        public var deadlineSeconds = 30
        /// Signs the webhook calls; never shown by the API.
        public var secret: String?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case enabled, fallback, secret
            case webhookURL = "webhook_url"
            case deadlineSeconds = "deadline_seconds"
        }
    }

    public var customAllocation = CustomAllocation()
    /// A reopened room goes back to its previous agent when eligible and under capacity.
    public var preferPreviousAgent = true
    /// An agent who goes offline hands their rooms back to the queue.
    public var offlineReturnsRooms = false
    public var markAsResolvedWebhookURL: String?
    /// Told about every new conversation session (a new room, or a resolved one reopening).
    public var newSessionWebhookURL: String?
    /// Overrides the daemon's `default_max_open_rooms` while set.
    public var defaultMaxOpenRooms: Int?
    /// The bot for channels whose drop-in names none (`[bot]` in a drop-in wins).
    public var defaultBot = DefaultBot()

    public struct DefaultBot: Sendable, Equatable, Codable {
        public var enabled = false
        public var webhookURL: String?
        /// Signs the bot calls; never shown by the API.
        public var secret: String?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case enabled, secret
            case webhookURL = "webhook_url"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? false
            webhookURL = try c.decodeIfPresent(String.self, forKey: .webhookURL)
            secret = try c.decodeIfPresent(String.self, forKey: .secret)
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case defaultMaxOpenRooms = "default_max_open_rooms"
        case defaultBot = "default_bot"
        case customAllocation = "custom_allocation"
        case preferPreviousAgent = "prefer_previous_agent"
        case offlineReturnsRooms = "offline_returns_rooms"
        case markAsResolvedWebhookURL = "mark_as_resolved_webhook_url"
        case newSessionWebhookURL = "new_session_webhook_url"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        customAllocation = try c.decodeIfPresent(CustomAllocation.self, forKey: .customAllocation) ?? CustomAllocation()
        preferPreviousAgent = try c.decodeIfPresent(Bool.self, forKey: .preferPreviousAgent) ?? true
        offlineReturnsRooms = try c.decodeIfPresent(Bool.self, forKey: .offlineReturnsRooms) ?? false
        markAsResolvedWebhookURL = try c.decodeIfPresent(String.self, forKey: .markAsResolvedWebhookURL)
        newSessionWebhookURL = try c.decodeIfPresent(String.self, forKey: .newSessionWebhookURL)
        defaultMaxOpenRooms = try c.decodeIfPresent(Int.self, forKey: .defaultMaxOpenRooms)
        defaultBot = try c.decodeIfPresent(DefaultBot.self, forKey: .defaultBot) ?? DefaultBot()
    }
}

extension RoutingSettings.CustomAllocation {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? false
        webhookURL = try c.decodeIfPresent(String.self, forKey: .webhookURL)
        fallback = try c.decodeIfPresent(Fallback.self, forKey: .fallback) ?? .automatic
        deadlineSeconds = try c.decodeIfPresent(Int.self, forKey: .deadlineSeconds) ?? 30
        secret = try c.decodeIfPresent(String.self, forKey: .secret)
    }
}
