import Foundation

/// Team members: creating them, their roles, capacity, channels, divisions
/// and invitations.
public protocol TeamStore: Sendable {
    /// A user, their divisions and (without a password) their invitation, in one transaction.
    func createMember(_ user: NewUser, divisionIDs: [Int64], invitation: NewInvitation?) async throws -> User
    func users(_ filter: UserFilter) async throws -> [User]
    func setName(userID: Int64, name: String) async throws -> User
    /// Changes a role; refuses (conflict) to leave no active admin.
    func setRole(userID: Int64, role: Role) async throws -> User
    /// Deactivating also sets the user offline and ends their sessions and
    /// invitations; refuses (conflict) to deactivate the last active admin.
    /// Their rooms are returned separately (`returnRooms`).
    func setActive(userID: Int64, active: Bool) async throws -> User
    /// Sets a user's capacity (`nil`: the default).
    func setCapacity(userID: Int64, maxOpenRooms: Int?) async throws -> User
    /// Sets the channels a user serves (`nil`: every channel).
    func setChannels(userID: Int64, channels: [String]?) async throws -> User
    func setUserDivisions(userID: Int64, divisionIDs: [Int64]) async throws -> User
    /// `userIDs` serve the channel (added to their list when they have one);
    /// users with a role in `scope` who are not listed and had the channel in
    /// their list lose it. Returns the users changed.
    func setChannelMembers(channelID: String, userIDs: [Int64], scope: Set<Role>) async throws -> [User]
    /// The user's new invitation; any earlier one stops working.
    func replaceInvitation(userID: Int64, invitation: NewInvitation) async throws
    func invitation(tokenHash: String) async throws -> Invitation?
    /// Sets the password and uses the invitation, if it is still unused and
    /// unexpired at `now` (nil otherwise).
    func acceptInvitation(tokenHash: String, passwordHash: String, now: Date) async throws -> User?
}

/// Which users a listing returns (every filter optional).
public struct UserFilter: Sendable {
    public var roles: [Role]
    /// Members of this division (the default division also has everyone in none).
    public var divisionID: Int64?
    /// Users who serve this channel (it is in their list, or they serve every channel).
    public var channelID: String?
    public var online: Bool?
    public var active: Bool?
    /// Always included whatever `roles` says (a supervisor sees themselves).
    public var alsoUserID: Int64?

    public init(
        roles: [Role] = [], divisionID: Int64? = nil, channelID: String? = nil, online: Bool? = nil, active: Bool? = nil,
        alsoUserID: Int64? = nil
    ) {
        self.roles = roles
        self.divisionID = divisionID
        self.channelID = channelID
        self.online = online
        self.active = active
        self.alsoUserID = alsoUserID
    }
}

public struct NewInvitation: Sendable {
    /// SHA-256 of the one-time token; the token itself is never stored.
    public var tokenHash: String
    public var expiresAt: Date
    /// Who invited (a user id).
    public var createdBy: Int64

    public init(tokenHash: String, expiresAt: Date, createdBy: Int64) {
        self.tokenHash = tokenHash
        self.expiresAt = expiresAt
        self.createdBy = createdBy
    }
}

public struct Invitation: Sendable, Equatable {
    public var userID: Int64
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?

    public init(userID: Int64, createdAt: Date, expiresAt: Date, usedAt: Date?) {
        self.userID = userID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// What the channel listing shows of a channel's health.
public struct ChannelActivity: Sendable, Equatable {
    public var lastWebhookAt: Date?
    public var lastDeliveryError: String?
    public var lastDeliveryErrorAt: Date?
    /// Replies and calls to the network still to deliver.
    public var pendingDeliveries = 0
    /// Deliveries that failed for good in the last 24 hours.
    public var failedDeliveries = 0

    public init(lastWebhookAt: Date? = nil, lastDeliveryError: String? = nil, lastDeliveryErrorAt: Date? = nil) {
        self.lastWebhookAt = lastWebhookAt
        self.lastDeliveryError = lastDeliveryError
        self.lastDeliveryErrorAt = lastDeliveryErrorAt
    }
}
