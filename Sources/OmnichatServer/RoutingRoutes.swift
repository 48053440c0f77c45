import Foundation
import Hummingbird
import OmnichatCore
import OmnichatDelivery

/// Transfers, reassignment, bot handover, divisions and routing settings, and
/// the helpers the hosted product's allocation routes share
/// (`Compatibility/QiscusRoutes.swift`).
struct RoutingRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }
    var auth: Authenticator { api.auth }

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.post("/rooms/:room_id/transfer") { request, context in try await transfer(request, context) }
        v1.post("/rooms/:room_id/assign") { request, context in try await assign(request, context) }
        v1.post("/rooms/:room_id/handover") { request, context in try await handover(request, context) }
        v1.get("/settings") { request, _ in try await getSettings(request) }
        v1.patch("/settings") { request, _ in try await patchSettings(request) }
        v1.get("/divisions") { request, _ in try await listDivisions(request) }
        v1.post("/divisions") { request, _ in try await createDivision(request) }
        v1.patch("/agents/:user_id") { request, context in try await patchAgent(request, context) }
    }

    // MARK: Who may call

    func staff(_ request: Request, _ minimum: Role = .supervisor) async throws -> User {
        try await api.staff(request, minimum)
    }

    /// An allocation-scoped API key, or a supervisor/admin.
    func allocationService(_ request: Request) async throws -> Authenticator.Principal {
        let principal = try await auth.principal(of: request)
        switch principal {
        case .key(let key) where key.scope == .allocation: return principal
        case .key(let key): throw APIError.forbidden("API key scope '\(key.scope.rawValue)' cannot allocate agents")
        case .user(let user) where user.role >= .supervisor: return principal
        case .user: throw APIError.forbidden("this needs the supervisor role or an allocation API key")
        }
    }

    /// An agent id in a body or form: nil when absent; 404 when it names nobody.
    func agentID(_ value: Any?, _ key: String = "agent_id") async throws -> Int64? {
        guard let value, !(value is NSNull) else { return nil }
        if let text = value as? String, text.isEmpty { return nil }
        if let id = try await store.resolveID(value, .user) { return id }
        if value is String { throw APIError.notFound("no agent '\(value)'") }
        throw APIError.unprocessable("'\(key)' must be an agent id (a positive integer)")
    }

    /// A room id from a form or query value: 404 when it names no room.
    func roomID(_ value: String) async throws -> Int64 {
        guard let id = try await store.resolveID(value, .room) else { throw APIError.notFound("no room '\(value)'") }
        return id
    }

    func room(_ context: some RequestContext) async throws -> Room {
        let id = try await store.pathID(context, "room_id", .room)
        guard let room = try await store.room(id: id) else { throw APIError.notFound("no room '\(id)'") }
        return room
    }

    func after(_ transition: RoomTransition?, rescan: Bool) async {
        await api.rooms.changed(transition, freedCapacity: rescan)
    }

    // MARK: Transfer, reassignment, handover

    /// `{"agent_id"}` hands the room to that agent (under capacity);
    /// `{"division_id"}` puts it back in that division's queue.
    func transfer(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let user = try await auth.user(of: request)
        let room = try await room(context)
        if user.role == .agent && room.assignee?.id != user.id { throw APIError.forbidden("room '\(room.id)' is not assigned to you") }
        guard room.status == .assigned || room.status == .waiting else {
            throw APIError(.conflict, "conflict", "room '\(room.id)' is \(room.status.rawValue) and cannot be transferred")
        }
        let body = try await JSONBody.object(request)
        if let agentID = try await agentID(body["agent_id"]) {
            let target = try await agent(agentID, serving: room)
            let capacity = target.maxOpenRooms ?? api.defaultCapacity
            guard let transition = try await store.assign(roomID: room.id, to: agentID, capacity: capacity, actor: String(user.id), replace: true, force: false)
            else {
                throw APIError(.conflict, "agent_unavailable", "agent '\(agentID)' is offline or at capacity (\(target.openRooms)/\(capacity))")
            }
            await after(transition, rescan: room.status == .assigned)
            if user.role >= .supervisor {
                await api.audit(user, "room.transfer", "room", room.id, ["agent_id": agentID, "previous_agent_id": JSONBody.null(room.assignee?.id)])
            }
            return JSONBody.response(["room": APIRoutes.room(try await store.room(id: room.id) ?? room)])
        }
        if body["division_id"] != nil && !(body["division_id"] is NSNull) {
            guard let divisionID = try await store.bodyID(body, "division_id", .division),
                try await store.divisions().contains(where: { $0.id == divisionID })
            else { throw APIError.unprocessable("'division_id' names no division ('\(body["division_id"]!)')") }
            let transition = try await store.requeue(roomID: room.id, divisionID: divisionID, actor: String(user.id))
            await after(transition, rescan: true)
            await api.rooms.needsAgent(room.id)
            if user.role >= .supervisor {
                await api.audit(
                    user, "room.transfer", "room", room.id, ["division_id": divisionID, "previous_agent_id": JSONBody.null(room.assignee?.id)])
            }
            return JSONBody.response(["room": APIRoutes.room(try await store.room(id: room.id) ?? room)])
        }
        throw APIError.unprocessable("give 'agent_id' or 'division_id'")
    }

    /// Supervisors and admins give any room to any agent; `force` allows going past capacity.
    func assign(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let user = try await staff(request)
        let room = try await room(context)
        let body = try await JSONBody.object(request)
        guard let agentID = try await agentID(body["agent_id"]) else { throw APIError.unprocessable("'agent_id' is required") }
        let force = JSONBody.isBool(body["force"]) && (body["force"] as? NSNumber)?.boolValue == true
        let added = try await place(room, agentID: agentID, actor: String(user.id), force: force)
        await api.audit(
            user, "room.assign", "room", room.id, ["agent_id": agentID, "force": force, "previous_agent_id": JSONBody.null(room.assignee?.id)])
        return JSONBody.response(["room": APIRoutes.room(try await store.room(id: room.id) ?? room), "agent": APIRoutes.user(added)])
    }

    func agent(_ id: Int64, serving room: Room) async throws -> User {
        guard let agent = try await store.user(id: id) else { throw APIError.notFound("no agent '\(id)'") }
        guard agent.active else { throw APIError(.conflict, "agent_unavailable", "agent '\(id)' is deactivated") }
        guard agent.serves(channel: room.channelID) else {
            throw APIError(.conflict, "agent_unavailable", "agent '\(id)' does not serve channel '\(room.channelID)'")
        }
        return agent
    }

    func place(_ room: Room, agentID: Int64, actor: String, force: Bool) async throws -> User {
        guard room.status != .resolved else { throw APIError(.conflict, "conflict", "room '\(room.id)' is resolved") }
        let target = try await agent(agentID, serving: room)
        let capacity = target.maxOpenRooms ?? api.defaultCapacity
        if room.assignee?.id == agentID && room.status == .assigned { return target }
        guard let transition = try await store.assign(roomID: room.id, to: agentID, capacity: capacity, actor: actor, replace: true, force: force)
        else {
            throw APIError(
                .conflict, "agent_unavailable",
                "agent '\(agentID)' is offline or at capacity (\(target.openRooms)/\(capacity)); send force=true to assign anyway")
        }
        await after(transition, rescan: room.status == .assigned)
        return try await store.user(id: agentID) ?? target
    }

    /// A bot (or a supervisor) hands the room to humans: `{"division", "note"}`.
    func handover(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let principal = try await auth.principal(of: request)
        switch principal {
        case .key(let key) where key.scope == .bot: break
        case .user(let user) where user.role >= .supervisor: break
        default: throw APIError.forbidden("handover needs a bot API key or the supervisor role")
        }
        let room = try await room(context)
        let body = (try? await JSONBody.object(request)) ?? [:]
        var divisionID: Int64?
        if let name = try body.string("division", required: false) {
            let all = try await store.divisions()
            guard let division = all.first(where: { String($0.id) == name || $0.name.lowercased() == name.lowercased() }) else {
                throw APIError.unprocessable("unknown division '\(name)'")
            }
            divisionID = division.id
        }
        let note = try body.string("note", required: false)
        let transition = try await store.handover(roomID: room.id, divisionID: divisionID, note: note, actor: principal.actor)
        await after(transition, rescan: false)
        await api.rooms.needsAgent(room.id)
        return JSONBody.response(["room": APIRoutes.room(try await store.room(id: room.id) ?? room)])
    }

    // MARK: Settings

    static func settingsJSON(_ s: RoutingSettings) -> [String: Any] {
        [
            "custom_allocation": [
                "enabled": s.customAllocation.enabled,
                "webhook_url": JSONBody.null(s.customAllocation.webhookURL),
                "fallback": s.customAllocation.fallback.rawValue,
                "deadline_seconds": s.customAllocation.deadlineSeconds,
                "secret_set": s.customAllocation.secret != nil,
            ] as [String: Any],
            "prefer_previous_agent": s.preferPreviousAgent,
            "offline_returns_rooms": s.offlineReturnsRooms,
            "mark_as_resolved_webhook_url": JSONBody.null(s.markAsResolvedWebhookURL),
            "new_session_webhook_url": JSONBody.null(s.newSessionWebhookURL),
            "default_max_open_rooms": JSONBody.null(s.defaultMaxOpenRooms),
            "default_bot": [
                "enabled": s.defaultBot.enabled, "webhook_url": JSONBody.null(s.defaultBot.webhookURL), "secret_set": s.defaultBot.secret != nil,
            ] as [String: Any],
        ]
    }

    func getSettings(_ request: Request) async throws -> Response {
        _ = try await staff(request, .admin)
        return JSONBody.response(Self.settingsJSON(api.channels.webhooks.current))
    }

    func patchSettings(_ request: Request) async throws -> Response {
        let actor = try await staff(request, .admin)
        let settings = try await applySettings(try await JSONBody.object(request), by: actor)
        return JSONBody.response(Self.settingsJSON(settings))
    }

    /// Webhook URLs set through the API must reach the public internet (unless
    /// `[outbound] allow_private_networks`): 422 naming the field and the
    /// address. Only URLs this change sets are checked.
    func refusePrivate(_ urls: [(field: String, url: String?)], changedFrom old: RoutingSettings) async throws {
        guard !api.allowPrivateNetworks else { return }
        let before: Set<String> = Set([old.customAllocation.webhookURL, old.markAsResolvedWebhookURL, old.newSessionWebhookURL, old.defaultBot.webhookURL].compactMap { $0 })
        for (field, url) in urls {
            guard let url, !before.contains(url) else { continue }
            if let address = await PublicAddress.privateAddress(in: url) {
                throw APIError.unprocessable(
                    "'\(field)' points to \(address), a private, loopback, link-local or metadata address; "
                        + "webhooks set through the API must reach the public internet ([outbound] allow_private_networks allows it)")
            }
        }
    }

    /// Applies a settings change (`PATCH /api/v1/settings`'s body), stores it and
    /// acts on it; the hosted product's webhook configuration routes come here too.
    func applySettings(_ body: [String: Any], by actor: User) async throws -> RoutingSettings {
        var settings = api.channels.webhooks.current
        func url(_ value: Any?, _ field: String) throws -> String? {
            switch value {
            case nil, is NSNull: return nil
            case let text as String where text.isEmpty: return nil
            case let text as String:
                guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
                    throw APIError.unprocessable("'\(field)' must be an http:// or https:// URL")
                }
                return text
            default: throw APIError.unprocessable("'\(field)' must be a URL string")
            }
        }
        if let custom = body["custom_allocation"] {
            guard let custom = custom as? [String: Any] else { throw APIError.unprocessable("'custom_allocation' must be an object") }
            if custom["enabled"] != nil { settings.customAllocation.enabled = try custom.bool("enabled") }
            if custom.keys.contains("webhook_url") { settings.customAllocation.webhookURL = try url(custom["webhook_url"], "custom_allocation.webhook_url") }
            if let fallback = custom["fallback"] {
                guard let text = fallback as? String, let value = RoutingSettings.CustomAllocation.Fallback(rawValue: text) else {
                    throw APIError.unprocessable("'custom_allocation.fallback' must be \"automatic\" or \"wait\"")
                }
                settings.customAllocation.fallback = value
            }
            if let deadline = custom["deadline_seconds"] {
                guard let value = JSONBody.int(deadline), (1...86_400).contains(value) else {
                    throw APIError.unprocessable("'custom_allocation.deadline_seconds' must be an integer from 1 to 86400")
                }
                settings.customAllocation.deadlineSeconds = value
            }
            if custom.keys.contains("secret") {
                let secret = try custom.string("secret", required: false)
                settings.customAllocation.secret = (secret?.isEmpty ?? true) ? nil : secret
            }
            if settings.customAllocation.enabled && settings.customAllocation.webhookURL == nil {
                throw APIError.unprocessable("custom allocation needs 'custom_allocation.webhook_url'")
            }
        }
        if body["prefer_previous_agent"] != nil { settings.preferPreviousAgent = try body.bool("prefer_previous_agent") }
        if body["offline_returns_rooms"] != nil { settings.offlineReturnsRooms = try body.bool("offline_returns_rooms") }
        if body.keys.contains("mark_as_resolved_webhook_url") {
            settings.markAsResolvedWebhookURL = try url(body["mark_as_resolved_webhook_url"], "mark_as_resolved_webhook_url")
        }
        if body.keys.contains("new_session_webhook_url") {
            settings.newSessionWebhookURL = try url(body["new_session_webhook_url"], "new_session_webhook_url")
        }
        if body.keys.contains("default_max_open_rooms") {
            switch body["default_max_open_rooms"] {
            case is NSNull: settings.defaultMaxOpenRooms = nil
            case let value where JSONBody.int(value).map({ (1...10_000).contains($0) }) ?? false: settings.defaultMaxOpenRooms = JSONBody.int(value)
            default: throw APIError.unprocessable("'default_max_open_rooms' must be an integer from 1 to 10000, or null for the configured default")
            }
        }
        if let bot = body["default_bot"] {
            guard let bot = bot as? [String: Any] else { throw APIError.unprocessable("'default_bot' must be an object") }
            if bot["enabled"] != nil { settings.defaultBot.enabled = try bot.bool("enabled") }
            if bot.keys.contains("webhook_url") { settings.defaultBot.webhookURL = try url(bot["webhook_url"], "default_bot.webhook_url") }
            if bot.keys.contains("secret") {
                let secret = try bot.string("secret", required: false)
                settings.defaultBot.secret = (secret?.isEmpty ?? true) ? nil : secret
            }
            if settings.defaultBot.enabled && (settings.defaultBot.webhookURL == nil || settings.defaultBot.secret == nil) {
                throw APIError.unprocessable("the default bot needs 'default_bot.webhook_url' and 'default_bot.secret'")
            }
        }
        try await refusePrivate([
            ("custom_allocation.webhook_url", settings.customAllocation.webhookURL),
            ("mark_as_resolved_webhook_url", settings.markAsResolvedWebhookURL),
            ("new_session_webhook_url", settings.newSessionWebhookURL),
            ("default_bot.webhook_url", settings.defaultBot.webhookURL),
        ], changedFrom: api.channels.webhooks.current)
        // Unknown fields are ignored, as everywhere in the API.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await store.setSettings(["routing": String(decoding: try encoder.encode(settings), as: UTF8.self)])
        let wasCustom = api.channels.webhooks.current.customAllocation.enabled
        api.channels.webhooks.update(settings)
        // Back to automatic, a raised limit, or custom allocation to ask about the rooms waiting now: serve the queue.
        if wasCustom != settings.customAllocation.enabled || settings.defaultMaxOpenRooms != nil { await api.rooms.capacityChanged() }
        // The settings as shown (the allocation secret only as `secret_set`).
        await api.audit(actor, "settings.update", "settings", nil, ["changed": body.keys.sorted(), "settings": Self.settingsJSON(settings)])
        return settings
    }

    // MARK: Divisions and agents

    static func division(_ d: Division) -> [String: Any] {
        ["id": d.id, "name": d.name, "is_default": d.isDefault, "created_at": d.createdAt.iso8601]
    }

    func listDivisions(_ request: Request) async throws -> Response {
        _ = try await auth.user(of: request)
        return JSONBody.response(["divisions": try await store.divisions().map(Self.division)])
    }

    func createDivision(_ request: Request) async throws -> Response {
        let actor = try await staff(request)
        let body = try await JSONBody.object(request)
        guard let name = try body.string("name")?.trimmingCharacters(in: .whitespaces), !name.isEmpty, name.count <= 100 else {
            throw APIError.unprocessable("'name' must be 1-100 characters")
        }
        let division = try await store.createDivision(name: name)
        await api.audit(actor, "division.create", "division", division.id, ["name": name])
        return JSONBody.response(["division": Self.division(division)], status: .created)
    }

    /// `{"max_open_rooms", "channels", "divisions", "name", "role"}`: capacity and
    /// eligibility (raising them serves waiting rooms), the name, and (admins) the role.
    func patchAgent(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let id = try await store.pathID(context, "user_id", .user)
        guard var agent = try await store.user(id: id) else { throw APIError.notFound("no agent '\(id)'") }
        if actor.role == .supervisor && agent.role != .agent && agent.id != actor.id {
            throw APIError.forbidden("supervisors manage agents only")
        }
        let body = try await JSONBody.object(request)
        var role: Role?
        if body["role"] != nil {
            guard actor.role == .admin else { throw APIError.forbidden("only admins change roles") }
            guard let raw = body["role"] as? String, let value = Role(rawValue: raw) else {
                throw APIError.unprocessable("'role' must be one of: agent, supervisor, admin")
            }
            role = value
        }
        let name = body["name"] != nil ? try TeamRoutes.name(body) : nil
        if body.keys.contains("max_open_rooms") {
            switch body["max_open_rooms"] {
            case is NSNull: agent = try await store.setCapacity(userID: id, maxOpenRooms: nil)
            case let n where JSONBody.int(n).map({ (1...10_000).contains($0) }) ?? false:
                agent = try await store.setCapacity(userID: id, maxOpenRooms: JSONBody.int(n))
            default: throw APIError.unprocessable("'max_open_rooms' must be an integer from 1 to 10000, or null")
            }
        }
        if body.keys.contains("channels") {
            switch body["channels"] {
            case is NSNull: agent = try await store.setChannels(userID: id, channels: nil)
            case let list as [String]: agent = try await store.setChannels(userID: id, channels: list)
            default: throw APIError.unprocessable("'channels' must be an array of channel ids, or null for every channel")
            }
        }
        if body.keys.contains("divisions") {
            guard let list = try await store.bodyIDs(body, "divisions", .division) else {
                throw APIError.unprocessable("'divisions' must be an array of division ids")
            }
            agent = try await store.setUserDivisions(userID: id, divisionIDs: list)
        }
        if let name { agent = try await store.setName(userID: id, name: name) }
        if let role { agent = try await store.setRole(userID: id, role: role) }
        await api.rooms.capacityChanged()
        var changes: [String: Any] = [:]
        for key in ["max_open_rooms", "channels", "divisions", "name", "role"] where body.keys.contains(key) { changes[key] = body[key] }
        if !changes.isEmpty { await api.audit(actor, "agent.update", "user", id, changes) }
        return JSONBody.response(["agent": TeamRoutes.member(agent)])
    }
}
