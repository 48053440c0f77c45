import Foundation
import Hummingbird
import OmnichatCore

/// The hosted product's (Qiscus Multichannel's) routes that merchants' services
/// call, mapped onto our own (`docs/qiscus-compatibility.md`). Successes are
/// 200 with `{"data": …, "status": 200}` (and `meta` for lists); errors keep
/// our `error` object and add the hosted product's `errors` and `status`.
struct QiscusRoutes: Sendable {
    let routing: RoutingRoutes
    var api: APIRoutes { routing.api }
    var store: any Store { api.store }
    var auth: Authenticator { api.auth }

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.post("/auth") { request, context in try await compat { try await signIn(request, context) } }
        v1.get("/admin/agents") { request, _ in try await compat { try await agentsV1(request) } }
        v1.get("/admin/agents/get_by_ids") { request, _ in try await compat { try await agentsByIDs(request) } }
        v1.post("/admin/service/assign_agent") { request, _ in try await compat { try await assignAgent(request) } }
        v1.post("/admin/service/mark_as_resolved") { request, _ in try await compat { try await resolve(request, asAgent: false) } }
        v1.post("/agent/service/mark_as_resolved") { request, _ in try await compat { try await resolve(request, asAgent: true) } }
        v1.post("/admin/service/allocate_agent") { request, _ in try await compat { try await allocate(request, assign: false) } }
        v1.post("/admin/service/allocate_assign_agent") { request, _ in try await compat { try await allocate(request, assign: true) } }
        v1.post("/admin/service/remove_agent") { request, _ in try await compat { try await removeAgent(request) } }
        v1.post("/room_tag/create") { request, _ in try await compat { try await addTag(request) } }
        v1.post("/qiscus/room/:room_id/user_info") { request, context in try await compat { try await userInfo(request, context) } }
        v1.post("/app/webhook/agent_allocation") { request, _ in try await compat { try await configureWebhook(request, allocation: true) } }
        v1.post("/app/webhook/mark_as_resolved") { request, _ in try await compat { try await configureWebhook(request, allocation: false) } }
        let v2 = router.group("/api/v2")
        v2.get("/admin/agents") { request, _ in try await compat { try await agentsV2(request) } }
        v2.get("/admin/agents/by_division") { request, _ in try await compat { try await agentsByDivision(request) } }
        v2.get("/divisions") { request, _ in try await compat { try await divisions(request) } }
        v2.get("/admin/service/available_agents") { request, _ in try await compat { try await available(request, others: false) } }
        v2.post("/admin/service/available_agents") { request, _ in try await compat { try await available(request, others: false) } }
        v2.get("/admin/service/other_agents") { request, _ in try await compat { try await available(request, others: true) } }
        v2.get("/admin/service/total_unserved") { request, _ in try await compat { try await unserved(request) } }
        v2.get("/customer_rooms") { request, _ in try await compat { try await customerRooms(request) } }
        v2.post("/customer_rooms") { request, _ in try await compat { try await customerRooms(request) } }
        v2.get("/customer_rooms/:room_id") { request, context in try await compat { try await customerRoom(request, context) } }
    }

    // MARK: Envelope and errors

    /// The hosted product's error shape beside ours: `{"error": {...}, "errors": {"message"}, "status"}`.
    func compat(_ work: () async throws -> Response) async throws -> Response {
        do {
            return try await work()
        } catch let error as APIError {
            return Self.error(error)
        } catch let error as StoreError {
            return Self.error(APIError.from(error))
        }
    }

    static func error(_ error: APIError) -> Response {
        var response = JSONBody.response(
            [
                "error": ["code": error.code, "message": error.message],
                "errors": ["message": error.message, "code": error.code] as [String: Any], "status": Int(error.status.code),
            ], status: error.status)
        response.headers.append(contentsOf: error.headers)
        return response
    }

    static func envelope(_ data: Any, meta: [String: Any]? = nil) -> Response {
        var body: [String: Any] = ["data": data, "status": 200]
        if let meta { body["meta"] = meta }
        return JSONBody.response(body)
    }

    // MARK: Sign-in

    /// `email` and `password` as JSON, form or multipart → the user with their token.
    func signIn(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let input = try await QiscusInput(request)
        guard let email = input.string("email"), let password = input.string("password") else {
            throw APIError.unprocessable("'email' and 'password' are required")
        }
        let client = AccountRoutes.clientAddress(request, context, trustedProxies: api.trustedProxies)
        let (user, token, expires) = try await api.signIn(email: email, password: password, client: client)
        var row = try await agentRows([user]).first ?? [:]
        row["authentication_token"] = token
        row["app_id"] = Int(auth.appID) ?? auth.appID
        row["expires_at"] = expires.iso8601
        return Self.envelope([
            "user": row,
            "details": ["sdk_user": ["token": token, "email": user.email, "username": user.name] as [String: Any], "is_integrated": true] as [String: Any],
        ])
    }

    // MARK: Agents

    /// Agent rows with each one's channels (by the channels' numbers).
    func agentRows(_ users: [User]) async throws -> [[String: Any]] {
        let all = api.channels.all.map(\.id)
        let numbers = try await store.channelNumbers(all)
        return users.map { Qiscus.agent($0, channels: numbers, allChannels: all) }
    }

    /// Who may list agents: supervisors, admins and allocation keys.
    func lister(_ request: Request) async throws {
        _ = try await routing.allocationService(request)
    }

    /// `page` (from 1) and `limit` of a list.
    func page(_ input: QiscusInput, defaultLimit: Int = 20) throws -> (page: Int, limit: Int) {
        (try input.int("page", otherwise: 1, range: 1...100_000), try input.int("limit", otherwise: defaultLimit, range: 1...500))
    }

    func everyone(search: String?) async throws -> [User] {
        var users = try await store.users(UserFilter()).sorted { $0.id < $1.id }
        if let search = search?.lowercased(), !search.isEmpty {
            users = users.filter { $0.name.lowercased().contains(search) || $0.email.lowercased().contains(search) }
        }
        return users
    }

    func agentsV2(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let (page, limit) = try page(input)
        var users = try await everyone(search: input.string("search"))
        if let scope = input.string("scope"), let role = Role(rawValue: scope) { users = users.filter { $0.role == role } }
        let slice = Array(users.dropFirst((page - 1) * limit).prefix(limit))
        return Self.envelope(
            ["agents": try await agentRows(slice)],
            meta: ["per_page": limit, "total_count": users.count, "page": page, "total_page": (users.count + limit - 1) / limit])
    }

    func agentsV1(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let (page, limit) = try page(input)
        let users = try await everyone(search: input.string("search"))
        let slice = Array(users.dropFirst((page - 1) * limit).prefix(limit))
        let report = try await store.agentReport(ReportFilter(from: .distantPast, to: Date()))
        let resolved = Dictionary(report.map { ($0.agent.id, $0.roomsResolved) }, uniquingKeysWith: { a, _ in a })
        var rows = try await agentRows(slice)
        for index in rows.indices {
            rows[index]["app_id"] = Int(auth.appID) ?? auth.appID
            rows[index]["total_customers"] = String(slice[index].openRooms)
            rows[index]["total_resolved"] = String(resolved[slice[index].id] ?? 0)
        }
        let lastPage = max(1, (users.count + limit - 1) / limit)
        return Self.envelope([
            "agents": [
                "current_page": page, "data": rows, "per_page": limit, "total": users.count, "last_page": lastPage,
                "next_page_url": page < lastPage ? "/api/v1/admin/agents?page=\(page + 1)&limit=\(limit)" : NSNull(),
                "prev_page_url": page > 1 ? "/api/v1/admin/agents?page=\(page - 1)&limit=\(limit)" : NSNull(),
            ] as [String: Any]
        ])
    }

    func agentsByIDs(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        var users: [User] = []
        for raw in input.list("ids") {
            guard let id = try await store.resolveID(raw, .user) else { throw APIError.unprocessable("'ids' has '\(raw)', which is not an agent id") }
            if let user = try await store.user(id: id) { users.append(user) }
        }
        return Self.envelope(try await agentRows(users))
    }

    func agentsByDivision(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let (page, limit) = try page(input)
        var users: [User] = []
        for raw in input.list("division_ids") {
            guard let id = try await store.resolveID(raw, .division) else {
                throw APIError.unprocessable("'division_ids' has '\(raw)', which is not a division id")
            }
            for user in try await store.users(UserFilter(divisionID: id)) where !users.contains(where: { $0.id == user.id }) {
                users.append(user)
            }
        }
        if input.list("division_ids").isEmpty { throw APIError.unprocessable("'division_ids[]' is required") }
        users.sort { $0.id < $1.id }
        let slice = Array(users.dropFirst((page - 1) * limit).prefix(limit))
        return Self.envelope(["agents": try await agentRows(slice)], meta: ["per_page": limit, "total_count": users.count, "page": page])
    }

    func divisions(_ request: Request) async throws -> Response {
        _ = try await auth.principal(of: request)
        let input = try await QiscusInput(request)
        let (page, limit) = try page(input, defaultLimit: 100)
        let all = try await store.divisions()
        let slice = all.dropFirst((page - 1) * limit).prefix(limit).map { ["id": $0.id, "name": $0.name, "is_default": $0.isDefault] as [String: Any] }
        return Self.envelope(["divisions": Array(slice)], meta: ["per_page": limit, "total_count": all.count, "page": page])
    }

    // MARK: Service (a room's current conversation)

    func room(_ raw: String?) async throws -> Room {
        guard let raw, !raw.isEmpty else { throw APIError.unprocessable("'room_id' is required") }
        guard let room = try await store.room(id: try await routing.roomID(raw)) else { throw APIError.notFound("no room '\(raw)'") }
        return room
    }

    /// Agents who could take the room (`available_agents`), or every agent but
    /// its own (`other_agents`); `limit`, `cursor_after`/`cursor_before` by
    /// agent id, `is_available_in_room` keeps those under capacity.
    func available(_ request: Request, others: Bool) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        let limit = try input.int("limit", otherwise: 100, range: 1...500)
        var rows: [[String: Any]] = []
        if others {
            let users = try await store.users(UserFilter(roles: [.agent], active: true)).filter { $0.id != room.assignee?.id }
            rows = try await agentRows(users.sorted { $0.id < $1.id })
        } else {
            let loads = try await store.candidateAgents(channelID: room.channelID, divisionID: room.divisionID, defaultCapacity: api.defaultCapacity)
            var users: [User] = []
            for load in loads { if let user = try await store.user(id: load.userID) { users.append(user) } }
            rows = try await agentRows(users)
            for (index, load) in loads.enumerated() where index < rows.count {
                rows[index]["current_customer_count"] = load.openRooms
                rows[index]["is_available"] = load.openRooms < load.capacity
                rows[index]["max_open_rooms"] = load.capacity
            }
            if input.flag("is_available_in_room") { rows = rows.filter { $0["is_available"] as? Bool == true } }
            rows.sort { ($0["id"] as? Int64 ?? 0) < ($1["id"] as? Int64 ?? 0) }
        }
        if let after = input.string("cursor_after").flatMap({ Int64(id: $0) }) { rows = rows.filter { ($0["id"] as? Int64 ?? 0) > after } }
        if let before = input.string("cursor_before").flatMap({ Int64(id: $0) }) { rows = rows.filter { ($0["id"] as? Int64 ?? 0) < before } }
        let page = Array(rows.prefix(limit))
        let next = rows.count > limit ? page.last?["id"] : nil
        return Self.envelope(
            ["agents": page],
            meta: ["cursor_after": next.map { "\($0)" } ?? NSNull(), "cursor_before": page.first.map { "\($0["id"] ?? "")" } ?? NSNull(),
                   "total": rows.count])
    }

    /// `allocate_agent`: the agent automatic allocation would choose (nothing
    /// changes); `allocate_assign_agent`: and assigns them.
    func allocate(_ request: Request, assign: Bool) async throws -> Response {
        let principal = try await routing.allocationService(request)
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        let candidates = try await store.eligibleAgents(channelID: room.channelID, divisionID: room.divisionID, defaultCapacity: api.defaultCapacity)
        guard let choice = LeastBusyPolicy().choose(among: candidates), let user = try await store.user(id: choice.userID) else {
            throw APIError(.conflict, "agent_unavailable", "no agent is online with room for room '\(room.id)'")
        }
        var agent = user
        if assign {
            do {
                agent = try await routing.place(room, agentID: user.id, actor: principal.actor, force: false)
            } catch {
                // The routing core may have given the room to this very agent a
                // moment ago (a requeued room is served at once): that is the answer asked for.
                guard try await store.room(id: room.id)?.assignee?.id == user.id else { throw error }
            }
        }
        return Self.envelope(["agent": try await agentRows([agent]).first ?? [:]])
    }

    /// `room_id`, `agent_id` (JSON, form or query; a number or a numeric string),
    /// `replace_latest_agent`, `force` (or `ignore_availability`), `max_agent`
    /// (one agent per room here: 1 or more is accepted).
    func assignAgent(_ request: Request) async throws -> Response {
        let principal = try await routing.allocationService(request)
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        guard let agentID = try await routing.agentID(input["agent_id"]) else { throw APIError.unprocessable("'agent_id' is required") }
        _ = try input.int("max_agent", otherwise: 1, range: 1...100)
        if room.status == .assigned && room.assignee?.id != agentID && !input.flag("replace_latest_agent") {
            throw APIError(.conflict, "conflict", "room '\(room.id)' already has an agent; send replace_latest_agent=true to replace them")
        }
        let force = input.flag("force") || input.flag("ignore_availability")
        let added = try await routing.place(room, agentID: agentID, actor: principal.actor, force: force)
        let fresh = try await store.room(id: room.id) ?? room
        let now = Date().iso8601
        return Self.envelope([
            "added_agent": try await agentRows([added]).first ?? [:],
            "service": [
                "room_id": String(fresh.id), "user_id": added.id, "is_resolved": fresh.status == .resolved, "status": fresh.status.rawValue,
                "channel_id": fresh.channelID, "retrieved_at": now, "created_at": fresh.createdAt.iso8601, "updated_at": now,
            ] as [String: Any],
        ])
    }

    func unserved(_ request: Request) async throws -> Response {
        try await lister(request)
        return Self.envelope(["total_unserved": try await store.countRooms(status: .waiting)])
    }

    /// The agent leaves the room; it goes back to its division's queue.
    func removeAgent(_ request: Request) async throws -> Response {
        let principal = try await routing.allocationService(request)
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        guard let agentID = try await routing.agentID(input["agent_id"]) else { throw APIError.unprocessable("'agent_id' is required") }
        guard let agent = try await store.user(id: agentID) else { throw APIError.notFound("no agent '\(agentID)'") }
        guard room.status == .assigned, room.assignee?.id == agentID else {
            throw APIError(.conflict, "conflict", "agent '\(agentID)' does not have room '\(room.id)'")
        }
        let transition = try await store.requeue(roomID: room.id, divisionID: room.divisionID, actor: principal.actor)
        await routing.after(transition, rescan: true)
        await api.rooms.needsAgent(room.id)
        return Self.envelope(["agent": try await agentRows([try await store.user(id: agent.id) ?? agent]).first ?? [:]])
    }

    /// Resolves the room (`notes`, `last_comment_id`, `is_send_email` and
    /// `extras` are taken; `notes` go to the resolve webhook and, from a
    /// user, become an internal note). `asAgent`: an agent resolving their own room.
    func resolve(_ request: Request, asAgent: Bool) async throws -> Response {
        let actor: String
        var author: User?
        if asAgent {
            let user = try await auth.user(of: request)
            (actor, author) = (String(user.id), user)
        } else {
            let principal = try await routing.allocationService(request)
            actor = principal.actor
            if case .user(let user) = principal { author = user }
        }
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        if asAgent, let author, author.role == .agent, room.assignee?.id != author.id {
            throw APIError.forbidden("room '\(room.id)' is not assigned to you")
        }
        let notes = input.string("notes")
        if let notes, let author, room.status != .resolved {
            _ = try await store.addNote(roomID: room.id, authorID: author.id, text: String(notes.prefix(InboxRoutes.maxNoteLength)))
        }
        let resolved = try await api.rooms.resolve(room, actor: actor, notes: notes)
        let sessions = try await store.sessions(roomID: room.id)
        let session = sessions.last ?? RoomSession(number: resolved.session, startedAt: resolved.createdAt)
        let range = try await QiscusWebhooks.comments(store, room: room.id, sessions: sessions)
        var service = Qiscus.service(room: resolved, session: session, notes: notes, firstComment: range.first, lastComment: range.last)
        service["is_resolved"] = true
        service["app_id"] = Int(auth.appID) ?? auth.appID
        service["room_log_id"] = Qiscus.serviceID(room: room.id, session: session.number)
        if let last = input.string("last_comment_id") { service["last_comment_id"] = last }
        let source = QiscusWebhooks(store: store, channels: api.channels, appID: auth.appID).source(of: resolved)
        return Self.envelope([
            "service": service,
            "room_info": [
                "room": [
                    "room_id": String(resolved.id), "room_name": resolved.contact.displayName ?? resolved.contact.externalID,
                    "room_avatar_url": resolved.contact.avatarURL ?? "", "room_channel_id": resolved.channelID,
                    "room_options": (try? QiscusWebhooks.json(["source": source, "channel": resolved.channelID])) ?? "{}",
                    "room_type": "group",
                ] as [String: Any]
            ] as [String: Any],
            "room": APIRoutes.room(resolved),
        ])
    }
}
