import Foundation

/// Accounts and team management: the store side of the agent API's team
/// routes (agents, invitations, sessions, API keys, divisions, channels' agents,
/// audit log). `Store` includes it.
public protocol TeamStore: Sendable {
    // MARK: Sessions and passwords

    /// Replaces a live session by a new one (a token refresh), atomically: the
    /// old token stops working. Nil when the old session is gone or expired.
    func rotateSession(oldTokenHash: String, newTokenHash: String, expiresAt: Date, now: Date) async throws -> User?
    /// Ends every session of a user, but `except` (the caller's own).
    func deleteSessions(userID: Int64, except tokenHash: String?) async throws
    /// The user's password hash (nil: no such user).
    func passwordHash(userID: Int64) async throws -> String?
    func setPassword(userID: Int64, passwordHash: String) async throws

    // MARK: Team members

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

    // MARK: Invitations

    /// The user's new invitation; any earlier one stops working.
    func replaceInvitation(userID: Int64, invitation: NewInvitation) async throws
    func invitation(tokenHash: String) async throws -> Invitation?
    /// Sets the password and uses the invitation, if it is still unused and
    /// unexpired at `now` (nil otherwise).
    func acceptInvitation(tokenHash: String, passwordHash: String, now: Date) async throws -> User?

    // MARK: API keys

    /// Every key, revoked ones included, newest first (never the secret).
    func apiKeys() async throws -> [APIKey]
    /// Revokes a key (idempotent); nil when there is no such key.
    func revokeAPIKey(id: Int64, at: Date) async throws -> APIKey?

    // MARK: Divisions

    func renameDivision(id: Int64, name: String) async throws -> Division
    /// Deletes a division that nothing depends on: refuses (conflict) the
    /// default, one with members, or one with rooms that are not resolved.
    /// Resolved rooms forget it.
    func deleteDivision(id: Int64) async throws

    // MARK: Channels

    /// `userIDs` serve the channel (added to their list when they have one);
    /// users with a role in `scope` who are not listed and had the channel in
    /// their list lose it. Returns the users changed.
    func setChannelMembers(channelID: String, userIDs: [Int64], scope: Set<Role>) async throws -> [User]
    /// The last webhook and the last delivery error, per channel id.
    func channelActivity() async throws -> [String: ChannelActivity]

    // MARK: Audit log

    func recordAudit(_ entry: NewAuditEntry) async throws
    /// Newest first; the cursor is the `next_cursor` of the previous page.
    func auditLog(cursor: String?, limit: Int) async throws -> Page<AuditEntry>
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

    public init(lastWebhookAt: Date? = nil, lastDeliveryError: String? = nil, lastDeliveryErrorAt: Date? = nil) {
        self.lastWebhookAt = lastWebhookAt
        self.lastDeliveryError = lastDeliveryError
        self.lastDeliveryErrorAt = lastDeliveryErrorAt
    }
}

/// One administrative action, as recorded (never with secrets in `details`).
public struct NewAuditEntry: Sendable {
    /// A user id or an API key id.
    public var actor: String
    /// The actor's role, or `key:<scope>` for an API key.
    public var actorRole: String
    /// What was done, e.g. `agent.create`, `api_key.revoke`, `settings.update`.
    public var action: String
    /// What it was done to, e.g. `user`, `division`, `room`, `api_key`, `settings`.
    public var targetType: String
    public var targetID: String?
    /// A JSON object.
    public var details: String
    public var at: Date

    public init(actor: String, actorRole: String, action: String, targetType: String, targetID: String?, details: String = "{}", at: Date = Date()) {
        self.actor = actor
        self.actorRole = actorRole
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.details = details
        self.at = at
    }
}

public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var actor: String
    public var actorRole: String
    public var action: String
    public var targetType: String
    public var targetID: String?
    /// A JSON object.
    public var details: String
    public var at: Date

    public init(id: Int64, actor: String, actorRole: String, action: String, targetType: String, targetID: String?, details: String, at: Date) {
        self.id = id
        self.actor = actor
        self.actorRole = actorRole
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.details = details
        self.at = at
    }
}
