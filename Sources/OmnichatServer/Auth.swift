import Crypto
import Foundation
import Hummingbird
import HummingbirdBcrypt
import OmnichatCore

/// Passwords (bcrypt) and bearer tokens (random, stored as SHA-256).
public struct Authenticator: Sendable {
    let store: any Store
    let sessionLifetime: TimeInterval
    let bcryptCost: Int

    public init(store: any Store, sessionHours: Int, bcryptCost: Int) {
        self.store = store
        self.sessionLifetime = TimeInterval(sessionHours) * 3600
        self.bcryptCost = bcryptCost
    }

    public static func hashPassword(_ password: String, cost: Int) -> String {
        Bcrypt.hash(password, cost: UInt8(cost))
    }

    public static func tokenHash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "oc_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The user and a new session token, or nil when the email or password is wrong.
    func login(email: String, password: String) async throws -> (User, String, Date)? {
        guard let (user, hash) = try await store.credentials(email: email) else {
            // Spend the same time as a real check, so unknown emails cannot be told apart.
            _ = Bcrypt.verify(password, hash: Self.dummyHash)
            return nil
        }
        guard Bcrypt.verify(password, hash: hash) else { return nil }
        let token = Self.newToken()
        let expires = Date().addingTimeInterval(sessionLifetime)
        try await store.createSession(tokenHash: Self.tokenHash(token), userID: user.id, expiresAt: expires)
        return (user, token, expires)
    }

    static let dummyHash = Bcrypt.hash("omnichat-dummy-password", cost: 10)

    /// The signed-in user of a request, or 401.
    func user(of request: Request) async throws -> User {
        guard let token = Self.bearer(request) else { throw APIError.unauthorized() }
        guard let user = try await store.user(sessionTokenHash: Self.tokenHash(token), now: Date()) else {
            throw APIError.unauthorized("token is invalid or expired")
        }
        return user
    }

    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
