import Foundation
import Hummingbird
import HummingbirdBcrypt
import NIOCore
import OmnichatCore
import Synchronization

/// The request context of omnichatd's router: Hummingbird's basic context plus
/// the client's address (for login throttling).
public struct OmnichatRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// The signed-in user's own account: token refresh, password, name, and
/// accepting an invitation.
struct AccountRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }
    var auth: Authenticator { api.auth }

    static let minPasswordLength = 8
    /// bcrypt reads 72 bytes: a longer password would be cut silently.
    static let maxPasswordBytes = 72

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.post("/auth/refresh") { request, _ in try await refresh(request) }
        v1.put("/me/password") { request, context in try await changePassword(request, context) }
        v1.patch("/me") { request, _ in try await patchMe(request) }
        v1.post("/invitations/:token/accept") { request, context in try await acceptInvitation(request, context) }
    }

    /// The caller's IP address as the connection shows it ("unknown" when the
    /// context does not carry one). When the connection comes from one of
    /// `trustedProxies` (a load balancer in front of several daemons), the
    /// address is read from `X-Forwarded-For`: the right-most entry that is not
    /// itself a trusted proxy (entries further left are the client's to forge).
    static func clientAddress(_ request: Request, _ context: some RequestContext, trustedProxies: Set<String>) -> String {
        guard let context = context as? any RemoteAddressRequestContext, let peer = context.remoteAddress?.ipAddress else { return "unknown" }
        guard trustedProxies.contains(peer) else { return peer }
        let forwarded = request.headers.filter { $0.name.canonicalName == "x-forwarded-for" }
            .flatMap { $0.value.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        for hop in forwarded.reversed() where !trustedProxies.contains(hop) { return hop }
        return peer
    }

    /// A new password from the body's `field`: a string of 8 to 1024 characters.
    static func newPassword(_ body: [String: Any], _ field: String) throws -> String {
        guard let password = try body.string(field) else { throw APIError.unprocessable("'\(field)' is required") }
        guard password.count >= minPasswordLength else {
            throw APIError.unprocessable("'\(field)' must be at least \(minPasswordLength) characters")
        }
        guard password.utf8.count <= maxPasswordBytes else {
            throw APIError.unprocessable(
                "'\(field)' must be at most \(maxPasswordBytes) bytes (bcrypt ignores what follows; accented letters and emoji take 2-4 bytes)")
        }
        return password
    }

    /// The login shape: a session for the user.
    func session(_ user: User) async throws -> Response {
        let (token, expires) = try await auth.newSession(userID: user.id)
        var json = APIRoutes.user(user)
        json["language"] = JSONBody.null(try await store.language(userID: user.id))
        return JSONBody.response(["token": token, "expires_at": expires.iso8601, "user": json])
    }

    // MARK: Handlers

    /// A new token for the current one, which stops working.
    func refresh(_ request: Request) async throws -> Response {
        _ = try await auth.user(of: request)
        guard let old = Authenticator.bearer(request) else { throw APIError.unauthorized() }
        let token = Authenticator.newToken()
        let expires = Date().addingTimeInterval(auth.sessionLifetime)
        guard
            let user = try await store.rotateSession(
                oldTokenHash: Authenticator.tokenHash(old), newTokenHash: Authenticator.tokenHash(token), expiresAt: expires, now: Date())
        else { throw APIError.unauthorized("token is invalid or expired") }
        return JSONBody.response(["token": token, "expires_at": expires.iso8601, "user": APIRoutes.user(user)])
    }

    /// `{"current_password", "new_password"}`: every other session of the user ends.
    /// A wrong current password counts as a failed login (same throttle).
    func changePassword(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let user = try await auth.user(of: request)
        let body = try await JSONBody.object(request)
        guard let current = try body.string("current_password") else { throw APIError.unprocessable("'current_password' is required") }
        let new = try Self.newPassword(body, "new_password")
        let keys = LoginThrottle.keys(email: user.email, client: Self.clientAddress(request, context, trustedProxies: api.trustedProxies))
        if let wait = auth.throttle.retryAfter(keys) { throw APIError.throttled(retryAfter: wait) }
        guard let hash = try await store.passwordHash(userID: user.id), !hash.isEmpty, Bcrypt.verify(current, hash: hash) else {
            auth.throttle.recordFailure(keys)
            throw APIError(.forbidden, "invalid_credentials", "'current_password' is wrong")
        }
        try await store.setPassword(userID: user.id, passwordHash: Authenticator.hashPassword(new, cost: auth.bcryptCost))
        try await store.deleteSessions(userID: user.id, except: Authenticator.bearer(request).map(Authenticator.tokenHash))
        await api.audit(user, "account.password_change", "user", user.id)
        return Response(status: .noContent)
    }

    /// The console's languages (`language` of `PATCH /api/v1/me`).
    static let languages = ["en", "id"]

    /// `{"name", "language"}`: the signed-in user's own profile. `language` is
    /// the console's language for this user wherever they sign in (`en`,
    /// `id`; null: the browser's choice).
    func patchMe(_ request: Request) async throws -> Response {
        var user = try await auth.user(of: request)
        let body = try await JSONBody.object(request)
        // Every field is checked before anything is written: a 422 changes nothing.
        let language = body["language"]
        if let language, !(language is NSNull || (language as? String).map(Self.languages.contains) == true) {
            throw APIError.unprocessable("'language' must be one of: \(Self.languages.joined(separator: ", ")), or null")
        }
        let name = body["name"] != nil ? try TeamRoutes.name(body) : nil
        if let language { try await store.setLanguage(userID: user.id, language: language as? String) }
        if let name { user = try await store.setName(userID: user.id, name: name) }
        var json = TeamRoutes.member(user)
        json["language"] = JSONBody.null(try await store.language(userID: user.id))
        return JSONBody.response(["user": json])
    }

    /// `{"password"}`: an invited user chooses their password and is signed in.
    /// The token works once; unknown → 404, used → 410 `used`, expired → 410 `expired`.
    func acceptInvitation(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let token = try context.parameters.require("token")
        let hash = Authenticator.tokenHash(token)
        guard let invitation = try await store.invitation(tokenHash: hash) else {
            throw APIError.notFound("no such invitation (it may have been replaced by a newer one)")
        }
        let now = Date()
        if invitation.usedAt != nil { throw APIError(.gone, "used", "this invitation was already used; sign in instead") }
        if invitation.expiresAt <= now { throw APIError(.gone, "expired", "this invitation expired; ask for a new one") }
        let body = try await JSONBody.object(request)
        let password = try Self.newPassword(body, "password")
        let passwordHash = Authenticator.hashPassword(password, cost: auth.bcryptCost)
        guard let user = try await store.acceptInvitation(tokenHash: hash, passwordHash: passwordHash, now: Date()) else {
            throw APIError(.gone, "expired", "this invitation is no longer valid; ask for a new one")
        }
        await api.audit(user, "invitation.accept", "user", user.id)
        return try await session(user)
    }
}

extension APIError {
    static func throttled(retryAfter seconds: Int) -> APIError {
        APIError(
            .tooManyRequests, "throttled", "too many failed sign-ins; try again in \(seconds) seconds",
            headers: [.retryAfter: String(seconds)])
    }

    static var deactivated: APIError {
        APIError(.unauthorized, "deactivated", "this account is deactivated", headers: [.wwwAuthenticate: "Bearer"])
    }
}

/// Failed sign-ins, counted per account (email) and per client address, in
/// memory: after `maxFailures` within `window`, sign-ins for that account or
/// from that address are refused (429) until the oldest of those failures
/// leaves the window, whatever the password. A successful sign-in clears the
/// account's count (not the address's). Counts are lost on restart and are
/// per process; entries expire with the window and are swept as the table grows.
final class LoginThrottle: Sendable {
    struct Keys: Sendable {
        var account: String
        var client: String
        var all: [String] { [account, client] }
    }

    static func keys(email: String, client: String) -> Keys {
        Keys(account: "account:" + email.trimmingCharacters(in: .whitespaces).lowercased(), client: "client:" + client)
    }

    let maxFailures: Int
    let window: TimeInterval
    /// The longest an account waits between attempts, however many failures.
    let maxAccountDelay: TimeInterval
    /// Failures kept per key (enough to grow the delay to its cap).
    static let kept = 32
    /// The latest failures of each key within the window, oldest first, and
    /// the table size at which expired keys are swept.
    private let state = Mutex((failures: [String: [Date]](), sweepAt: 10_000))

    init(maxFailures: Int = 5, window: TimeInterval = 15 * 60, maxAccountDelay: TimeInterval = 60) {
        self.maxFailures = maxFailures
        self.window = window
        self.maxAccountDelay = maxAccountDelay
    }

    /// Seconds to wait, else nil. An address with `maxFailures` failures in
    /// the window waits out the window (guessing from one place stops there).
    /// An account slows down instead of locking: from its `maxFailures`th
    /// failure on, each attempt waits 1, 2, 4… seconds (at most
    /// `maxAccountDelay`) after the last one, so nobody can lock an account,
    /// an admin's included, by failing on purpose from elsewhere.
    func retryAfter(_ keys: Keys, now: Date = Date()) -> Int? {
        state.withLock { state in
            var waits: [TimeInterval] = []
            if let list = state.failures[keys.client]?.filter({ now.timeIntervalSince($0) < window }), list.count >= maxFailures {
                waits.append(list[list.count - maxFailures].addingTimeInterval(window).timeIntervalSince(now))
            }
            if let list = state.failures[keys.account]?.filter({ now.timeIntervalSince($0) < window }), list.count >= maxFailures, let last = list.last {
                let delay = min(maxAccountDelay, pow(2, Double(list.count - maxFailures)))
                waits.append(last.addingTimeInterval(delay).timeIntervalSince(now))
            }
            guard let wait = waits.max(), wait > 0 else { return nil }
            return max(1, Int(wait.rounded(.up)))
        }
    }

    func recordFailure(_ keys: Keys, now: Date = Date()) {
        state.withLock { state in
            for key in keys.all {
                var list = (state.failures[key] ?? []).filter { now.timeIntervalSince($0) < window }
                list.append(now)
                if list.count > Self.kept { list.removeFirst(list.count - Self.kept) }
                state.failures[key] = list
            }
            if state.failures.count >= state.sweepAt {
                state.failures = state.failures.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false }
                state.sweepAt = max(10_000, state.failures.count * 2)
            }
        }
    }

    func reset(_ key: String) {
        _ = state.withLock { $0.failures.removeValue(forKey: key) }
    }

    var count: Int { state.withLock { $0.failures.count } }
}
