import Foundation

/// Users, passwords and sign-in sessions.
public protocol AccountPort: Sendable {
    func createUser(_ user: NewUser) async throws -> User
    func user(id: Int64) async throws -> User?
    /// The user and their password hash.
    func credentials(email: String) async throws -> (User, String)?
    func countUsers(role: Role) async throws -> Int
    func setOnline(userID: Int64, online: Bool) async throws -> User
    func createSession(tokenHash: String, userID: Int64, expiresAt: Date) async throws
    func user(sessionTokenHash: String, now: Date) async throws -> User?
    func deleteSession(tokenHash: String) async throws
    /// Replaces a live session by a new one (a token refresh), atomically: the
    /// old token stops working. Nil when the old session is gone or expired.
    func rotateSession(oldTokenHash: String, newTokenHash: String, expiresAt: Date, now: Date) async throws -> User?
    /// Ends every session of a user, but `except` (the caller's own).
    func deleteSessions(userID: Int64, except tokenHash: String?) async throws
    /// The user's password hash (nil: no such user).
    func passwordHash(userID: Int64) async throws -> String?
    func setPassword(userID: Int64, passwordHash: String) async throws
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
