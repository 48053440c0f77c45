import Crypto
import Foundation
import Hummingbird
import HummingbirdBcrypt
import OmnichatCore

/// Passwords (bcrypt) and bearer tokens (random, stored as SHA-256).
public struct Authenticator: Sendable {
    let store: any AccountPort & APIKeyPort
    let sessionLifetime: TimeInterval
    let bcryptCost: Int
    let appID: String
    /// Failed logins per account and per client address (in memory).
    let throttle: LoginThrottle
    /// Checked for unknown emails, at the configured cost: an unknown email
    /// takes as long as a wrong password (a fixed cost of 10 let a cost-12
    /// daemon tell them apart by time).
    let dummyHash: String

    public init(store: any AccountPort & APIKeyPort, sessionHours: Int, bcryptCost: Int, appID: String = "omnichat") {
        self.store = store
        self.sessionLifetime = TimeInterval(sessionHours) * 3600
        self.bcryptCost = bcryptCost
        self.appID = appID
        self.throttle = LoginThrottle()
        self.dummyHash = Bcrypt.hash("omnichat-dummy-password", cost: UInt8(clamping: bcryptCost))
    }

    /// Who is calling: a signed-in user or an integration's API key.
    enum Principal: Sendable {
        case user(User)
        case key(APIKey)

        var actor: String {
            switch self {
            case .user(let u): String(u.id)
            case .key(let k): "key:\(k.id)"
            }
        }
    }

    /// API keys start with this prefix; session tokens with `oc_`.
    static let keyPrefix = "ock_"

    public static func newAPIKey() -> String {
        keyPrefix + String(newToken().dropFirst(3))
    }

    /// A user's session or an API key: `Authorization: Bearer`, or the pair
    /// `Qiscus-App-Id` / `Qiscus-Secret-Key` that existing allocation services send.
    func principal(of request: Request) async throws -> Principal {
        var secret = Self.bearer(request)
        func header(_ name: String) -> String? { request.headers.first { $0.name.canonicalName == name }?.value }
        if secret == nil, let app = header("qiscus-app-id"), let key = header("qiscus-secret-key") {
            guard app == appID else { throw APIError.unauthorized("Qiscus-App-Id does not match this installation") }
            secret = key
        }
        guard let secret else { throw APIError.unauthorized() }
        if secret.hasPrefix(Self.keyPrefix) {
            guard let key = try await store.apiKey(keyHash: Self.tokenHash(secret)) else {
                throw APIError.unauthorized("API key is invalid or revoked")
            }
            return .key(key)
        }
        return .user(try await user(sessionToken: secret))
    }

    /// The active user a session token belongs to, or 401.
    func user(sessionToken token: String) async throws -> User {
        guard let user = try await store.user(sessionTokenHash: Self.tokenHash(token), now: Date()) else {
            throw APIError.unauthorized("token is invalid or expired")
        }
        // Deactivation ends sessions; this also covers one racing with it.
        guard user.active else { throw APIError.deactivated }
        return user
    }

    public static func hashPassword(_ password: String, cost: Int) -> String {
        Bcrypt.hash(password, cost: UInt8(cost))
    }

    public static func tokenHash(_ token: String) -> String {
        Hex.encode(SHA256.hash(data: Data(token.utf8)))
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "oc_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The user and a new session token, or nil when the email or password is
    /// wrong. Throws 429 `throttled` after too many failures for the account or
    /// from the client address (the password is not even checked then), and
    /// 401 `deactivated` for a deactivated account with the right password.
    func login(email: String, password: String, client: String = "unknown") async throws -> (User, String, Date)? {
        let keys = LoginThrottle.keys(email: email, client: client)
        if let wait = throttle.retryAfter(keys) { throw APIError.throttled(retryAfter: wait) }
        // An invited user without a password yet has an empty hash: nothing verifies.
        guard let (user, hash) = try await store.credentials(email: email), !hash.isEmpty else {
            // Spend the same time as a real check, so unknown emails cannot be told apart.
            _ = Bcrypt.verify(password, hash: dummyHash)
            throttle.recordFailure(keys)
            return nil
        }
        guard Bcrypt.verify(password, hash: hash) else {
            throttle.recordFailure(keys)
            return nil
        }
        guard user.active else { throw APIError.deactivated }
        throttle.reset(keys.account)
        let (token, expires) = try await newSession(userID: user.id)
        return (user, token, expires)
    }

    /// A new session for a user: the token (shown once) and when it expires.
    func newSession(userID: Int64) async throws -> (String, Date) {
        let token = Self.newToken()
        let expires = Date().addingTimeInterval(sessionLifetime)
        try await store.createSession(tokenHash: Self.tokenHash(token), userID: userID, expiresAt: expires)
        return (token, expires)
    }

    /// The signed-in user of a request, or 401.
    func user(of request: Request) async throws -> User {
        switch try await principal(of: request) {
        case .user(let user): return user
        case .key: throw APIError.forbidden("this route is for signed-in users, not API keys")
        }
    }

    /// `Authorization: Bearer <token>`, or the token alone (`Authorization: <token>`),
    /// as services written for the hosted product send it.
    static func bearer(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.trimmingHTTPWhitespace().split(separator: " ", maxSplits: 1)
        let token: String
        switch parts.count {
        case 2 where parts[0].lowercased() == "bearer": token = parts[1].trimmingHTTPWhitespace()
        case 1: token = String(parts[0])
        default: return nil
        }
        return token.isEmpty ? nil : token
    }
}
