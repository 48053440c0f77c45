import Foundation
import Hummingbird
import Logging
import OmnichatCore
import OmnichatDelivery

/// What the team routes need beyond the API's wiring.
struct TeamSettings: Sendable {
    /// How long an invitation link works.
    var invitationHours: Int
    /// Invitation links are `<publicBaseURL>/invitations/<token>`.
    var publicBaseURL: String
    /// With a mailer, invitations are mailed; without, the link is returned.
    var mailer: (any MailSending)?

    init(invitationHours: Int = 72, publicBaseURL: String, mailer: (any MailSending)? = nil) {
        self.invitationHours = invitationHours
        self.publicBaseURL = publicBaseURL
        self.mailer = mailer
    }

    init(configuration: DaemonConfiguration) {
        self.init(
            invitationHours: configuration.invitationHours, publicBaseURL: configuration.effectivePublicBaseURL,
            mailer: configuration.smtp.map { Mailer(settings: $0) })
    }
}

/// Team management: agents and invitations, API keys, divisions, who serves
/// which channel, and the audit log. Registers the account routes too.
struct TeamRoutes: Sendable {
    let api: APIRoutes
    var settings = TeamSettings(publicBaseURL: "http://127.0.0.1:8080")

    var store: any Store { api.store }
    var auth: Authenticator { api.auth }

    static let logger = Logger(label: "omnichat.team")

    func register(on router: Router<some RequestContext>) {
        AccountRoutes(api: api).register(on: router)
        let v1 = router.group("/api/v1")
        v1.post("/api-keys") { request, _ in try await createAPIKey(request) }
        v1.get("/api-keys") { request, _ in try await listAPIKeys(request) }
        v1.delete("/api-keys/:key_id") { request, context in try await revokeAPIKey(request, context) }
        v1.post("/agents") { request, _ in try await createAgent(request) }
        v1.get("/agents") { request, _ in try await listAgents(request) }
        v1.get("/agents/:user_id") { request, context in try await getAgent(request, context) }
        v1.post("/agents/:user_id/deactivate") { request, context in try await deactivate(request, context) }
        v1.post("/agents/:user_id/reactivate") { request, context in try await reactivate(request, context) }
        v1.post("/agents/:user_id/invitation") { request, context in try await resendInvitation(request, context) }
        v1.patch("/divisions/:division_id") { request, context in try await renameDivision(request, context) }
        v1.delete("/divisions/:division_id") { request, context in try await deleteDivision(request, context) }
        v1.post("/divisions/:division_id/default") { request, context in try await setDefaultDivision(request, context) }
        v1.put("/channels/:channel_id/agents") { request, context in try await setChannelAgents(request, context) }
        v1.get("/audit") { request, _ in try await auditLog(request) }
    }

    // MARK: Shapes and checks

    /// A user as the team routes show them: the API's user plus `active` and `invitation_pending`.
    static func member(_ u: User) -> [String: Any] {
        var out = APIRoutes.user(u)
        out["active"] = u.active
        out["invitation_pending"] = u.invitationPending
        return out
    }

    static func apiKey(_ k: APIKey) -> [String: Any] {
        ["id": k.id, "name": k.name, "scope": k.scope.rawValue, "created_at": k.createdAt.iso8601, "revoked_at": JSONBody.null(k.revokedAt?.iso8601)]
    }

    /// `name`: a string of 1 to 100 characters (trimmed).
    static func name(_ body: [String: Any], _ field: String = "name") throws -> String {
        guard let name = try body.string(field)?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty, name.count <= 100 else {
            throw APIError.unprocessable("'\(field)' must be 1-100 characters")
        }
        return name
    }

    func staff(_ request: Request, _ minimum: Role = .supervisor) async throws -> User {
        try await api.staff(request, minimum)
    }

    /// Admins manage everyone; supervisors manage agents only.
    static func requireManageable(_ target: User, by actor: User) throws {
        guard actor.role == .admin || target.role == .agent else {
            throw APIError.forbidden("supervisors manage agents only")
        }
    }

    /// The user named in the path, if the actor may see them (supervisors: agents and themselves).
    func target(_ context: some RequestContext, for actor: User) async throws -> User {
        let id = try await store.pathID(context, "user_id", .user)
        guard let user = try await store.user(id: id) else { throw APIError.notFound("no agent '\(id)'") }
        if actor.role == .supervisor && user.id != actor.id { try Self.requireManageable(user, by: actor) }
        return user
    }

    static func boolQuery(_ query: APIRoutes.Query, _ key: String) throws -> Bool? {
        guard let raw = query[key] else { return nil }
        switch raw.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.unprocessable("'\(key)' must be true or false")
        }
    }

    // MARK: API keys (admins)

    /// `{"name", "scope"}` → 201 with the key, shown this once.
    func createAPIKey(_ request: Request) async throws -> Response {
        let actor = try await staff(request, .admin)
        let body = try await JSONBody.object(request)
        let name = try Self.name(body)
        guard let scopeName = try body.string("scope") else { throw APIError.unprocessable("'scope' is required") }
        guard let scope = APIKey.Scope(rawValue: scopeName) else {
            throw APIError.unprocessable("'scope' must be one of: \(APIKey.Scope.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let secret = Authenticator.newAPIKey()
        let key = try await store.createAPIKey(name: name, scope: scope, keyHash: Authenticator.tokenHash(secret))
        await api.audit(actor, "api_key.create", "api_key", key.id, ["name": name, "scope": scope.rawValue])
        return JSONBody.response(["api_key": Self.apiKey(key), "key": secret], status: .created)
    }

    func listAPIKeys(_ request: Request) async throws -> Response {
        _ = try await staff(request, .admin)
        return JSONBody.response(["api_keys": try await store.apiKeys().map(Self.apiKey)])
    }

    func revokeAPIKey(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request, .admin)
        let id = try await store.pathID(context, "key_id", .key)
        guard let key = try await store.revokeAPIKey(id: id, at: Date()) else { throw APIError.notFound("no API key '\(id)'") }
        await api.audit(actor, "api_key.revoke", "api_key", key.id, ["name": key.name, "scope": key.scope.rawValue])
        return Response(status: .noContent)
    }

    // MARK: Agents

    /// `{"name", "email", "role", "divisions", "channels", "max_open_rooms", "password"}`.
    /// Without a password the agent is invited: mailed a one-time link when
    /// SMTP is configured, else the link is in the response.
    func createAgent(_ request: Request) async throws -> Response {
        let actor = try await staff(request)
        let body = try await JSONBody.object(request)
        let name = try Self.name(body)
        guard let email = try body.string("email")?.trimmingCharacters(in: .whitespaces), (try? Mailer.address(email)) == email, email.count <= 254
        else { throw APIError.unprocessable("'email' must be an email address") }
        let role: Role
        switch try body.string("role", required: false) ?? "agent" {
        case "agent": role = .agent
        case "supervisor": role = .supervisor
        default: throw APIError.unprocessable("'role' must be \"agent\" or \"supervisor\"")
        }
        if role == .supervisor && actor.role != .admin { throw APIError.forbidden("only admins create supervisors") }
        let divisions = try await store.bodyIDs(body, "divisions", .division) ?? []
        var channels: [String]?
        switch body["channels"] {
        case nil, is NSNull: break
        case let list as [String]:
            for id in list where api.channels.channel(id) == nil { throw APIError.unprocessable("'channels' names an unknown channel '\(id)'") }
            channels = list
        default: throw APIError.unprocessable("'channels' must be an array of channel ids, or null for every channel")
        }
        var capacity: Int?
        switch body["max_open_rooms"] {
        case nil, is NSNull: break
        case let n where JSONBody.int(n).map({ (1...10_000).contains($0) }) ?? false: capacity = JSONBody.int(n)
        default: throw APIError.unprocessable("'max_open_rooms' must be an integer from 1 to 10000, or null")
        }
        var password: String?
        if body["password"] != nil && !(body["password"] is NSNull) { password = try AccountRoutes.newPassword(body, "password") }

        let new = NewUser(
            email: email, name: name, role: role, passwordHash: password.map { Authenticator.hashPassword($0, cost: auth.bcryptCost) } ?? "",
            channels: channels, maxOpenRooms: capacity)
        var details: [String: Any] = [
            "email": email, "name": name, "role": role.rawValue, "divisions": divisions, "channels": JSONBody.null(channels),
            "max_open_rooms": JSONBody.null(capacity), "invited": password == nil,
        ]
        guard password == nil else {
            let user = try await store.createMember(new, divisionIDs: divisions, invitation: nil)
            await api.audit(actor, "agent.create", "user", user.id, details)
            return JSONBody.response(["agent": Self.member(user)], status: .created)
        }
        let (token, invitation) = newInvitation(by: actor)
        let user = try await store.createMember(new, divisionIDs: divisions, invitation: invitation)
        let sent = await deliverInvitation(token: token, expiresAt: invitation.expiresAt, to: user, by: actor)
        details["invitation_sent"] = sent["sent"] ?? false
        await api.audit(actor, "agent.create", "user", user.id, details)
        return JSONBody.response(["agent": Self.member(user), "invitation": sent], status: .created)
    }

    func newInvitation(by actor: User) -> (String, NewInvitation) {
        let token = "oci_" + Authenticator.newToken().dropFirst(3)
        let expires = Date().addingTimeInterval(TimeInterval(settings.invitationHours) * 3600)
        return (token, NewInvitation(tokenHash: Authenticator.tokenHash(token), expiresAt: expires, createdBy: actor.id))
    }

    /// Mails the link when SMTP is configured (`{"expires_at", "sent": true}`);
    /// otherwise, or when sending fails, returns it (`{"url", "expires_at"}`,
    /// with `"sent": false` and `"error"` after a failure).
    ///
    /// The link itself goes back only to an admin: a supervisor holding an
    /// agent's link could sign in as them (and, had the agent been promoted
    /// meanwhile, as more). A supervisor is told to have an admin re-send it.
    func deliverInvitation(token: String, expiresAt: Date, to user: User, by actor: User) async -> [String: Any] {
        var base = settings.publicBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        let url = "\(base)/invitations/\(token)"
        func unsent(_ extra: [String: Any]) -> [String: Any] {
            var out: [String: Any] = ["expires_at": expiresAt.iso8601]
            if actor.role == .admin {
                out["url"] = url
            } else {
                out["url_withheld"] = true
                out["hint"] = "the link is shown to admins only: an admin can re-send the invitation (POST /api/v1/agents/\(user.id)/invitation) to get it"
            }
            return out.merging(extra) { $1 }
        }
        guard let mailer = settings.mailer else { return unsent([:]) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "d MMMM yyyy 'at' HH:mm 'UTC'"
        let text = """
            Hello \(user.name),

            \(actor.name) invited you to join the Omnichat team as \(user.role == .agent ? "an agent" : "a \(user.role.rawValue)").
            Open this link to choose your password:

            \(url)

            The link works once and expires on \(formatter.string(from: expiresAt)).
            If you did not expect this invitation, ignore this message.
            """
        do {
            try await mailer.send(MailMessage(to: user.email, subject: "You are invited to Omnichat", body: text))
            return ["expires_at": expiresAt.iso8601, "sent": true]
        } catch {
            Self.logger.error("invitation not sent", metadata: ["omnichat.user": .stringConvertible(user.id), "omnichat.error": "\(error)"])
            return unsent(["sent": false, "error": "\(error)"])
        }
    }

    /// `?division=&channel=&role=&online=&active=`: admins see everyone, supervisors agents and themselves.
    func listAgents(_ request: Request) async throws -> Response {
        let actor = try await staff(request)
        let query = APIRoutes.Query(request)
        var filter = UserFilter()
        if let raw = query["role"] {
            guard let role = Role(rawValue: raw) else { throw APIError.unprocessable("'role' must be one of: agent, supervisor, admin") }
            filter.roles = [role]
        }
        if let raw = query["division"], !raw.isEmpty {
            guard let division = try await store.resolveID(raw, .division) else {
                throw APIError.unprocessable("'division' names no division ('\(raw)')")
            }
            filter.divisionID = division
        }
        filter.channelID = query["channel"].flatMap { $0.isEmpty ? nil : $0 }
        filter.online = try Self.boolQuery(query, "online")
        filter.active = try Self.boolQuery(query, "active")
        var users = try await store.users(filter)
        if actor.role == .supervisor { users = users.filter { $0.role == .agent || $0.id == actor.id } }
        return JSONBody.response(["agents": users.map(Self.member)])
    }

    func getAgent(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        return JSONBody.response(["agent": Self.member(try await target(context, for: actor))])
    }

    /// Signs the agent out everywhere, sets them offline, returns their rooms
    /// to the queue (served again at once) and refuses their sign-ins.
    func deactivate(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let user = try await target(context, for: actor)
        guard user.id != actor.id else { throw APIError(.conflict, "conflict", "you cannot deactivate yourself") }
        try Self.requireManageable(user, by: actor)
        let updated = try await store.setActive(userID: user.id, active: false)
        let returned = try await store.returnRooms(userID: user.id, actor: String(actor.id))
        await api.rooms.changed(returned, freedCapacity: true)
        if user.online { await api.rooms.domain.publish(.agentStatusChanged(updated)) }
        if user.active {
            await api.audit(actor, "agent.deactivate", "user", user.id, ["rooms_returned": returned.map { $0.roomID }])
        }
        return JSONBody.response(["agent": Self.member(try await store.user(id: user.id) ?? updated)])
    }

    func reactivate(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let user = try await target(context, for: actor)
        try Self.requireManageable(user, by: actor)
        let updated = try await store.setActive(userID: user.id, active: true)
        if !user.active { await api.audit(actor, "agent.reactivate", "user", user.id) }
        return JSONBody.response(["agent": Self.member(updated)])
    }

    /// A new invitation for an agent who has not chosen a password; the previous link stops working.
    func resendInvitation(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let user = try await target(context, for: actor)
        try Self.requireManageable(user, by: actor)
        guard user.active else { throw APIError(.conflict, "conflict", "agent '\(user.id)' is deactivated; reactivate them first") }
        guard user.invitationPending else {
            throw APIError(.conflict, "conflict", "agent '\(user.id)' has already chosen a password")
        }
        let (token, invitation) = newInvitation(by: actor)
        try await store.replaceInvitation(userID: user.id, invitation: invitation)
        let sent = await deliverInvitation(token: token, expiresAt: invitation.expiresAt, to: user, by: actor)
        await api.audit(actor, "agent.invitation", "user", user.id, ["invitation_sent": sent["sent"] ?? false])
        return JSONBody.response(["agent": Self.member(user), "invitation": sent])
    }

    // MARK: Divisions

    func division(_ context: some RequestContext) async throws -> Division {
        let id = try await store.pathID(context, "division_id", .division)
        guard let division = try await store.divisions().first(where: { $0.id == id }) else { throw APIError.notFound("no division '\(id)'") }
        return division
    }

    /// Channel drop-ins whose `division` names this one (by name, as routing reads them).
    func channels(naming division: Division) -> [ConfiguredChannel] {
        api.channels.all.filter { $0.division?.lowercased() == division.name.lowercased() }
    }

    /// `{"name"}`; 409 when another division has it. Drop-ins that named the
    /// old name are listed in `warnings` (their rooms now go to the default division).
    func renameDivision(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let division = try await division(context)
        let body = try await JSONBody.object(request)
        let name = try Self.name(body)
        let renamed = try await store.renameDivision(id: division.id, name: name)
        var warnings: [String] = []
        if division.name.lowercased() != name.lowercased() {
            for channel in channels(naming: division) {
                warnings.append(
                    "channel '\(channel.id)' names division '\(division.name)' in \(channel.file); its rooms go to the default division until it says '\(name)'")
            }
        }
        await api.audit(actor, "division.rename", "division", division.id, ["name": name, "previous_name": division.name])
        return JSONBody.response(["division": RoutingRoutes.division(renamed), "warnings": warnings])
    }

    /// 409 while it is the default, has members or unresolved rooms, or a channel drop-in names it.
    func deleteDivision(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let division = try await division(context)
        let naming = channels(naming: division)
        if !naming.isEmpty {
            throw APIError(
                .conflict, "conflict",
                "division '\(division.name)' is named by channel(s) \(naming.map { "'\($0.id)'" }.joined(separator: ", ")); change their drop-ins first")
        }
        try await store.deleteDivision(id: division.id)
        await api.audit(actor, "division.delete", "division", division.id, ["name": division.name])
        return Response(status: .noContent)
    }

    /// Rooms without a division, and agents in none, belong to the default division.
    func setDefaultDivision(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request, .admin)
        let division = try await division(context)
        try await store.setDefaultDivision(id: division.id)
        await api.rooms.capacityChanged()
        await api.audit(actor, "division.default", "division", division.id, ["name": division.name])
        let updated = try await store.divisions().first { $0.id == division.id } ?? division
        return JSONBody.response(["division": RoutingRoutes.division(updated)])
    }
}
