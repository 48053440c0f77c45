import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OmnichatCore

/// The minimal agent API: login, status, rooms, messages, replies, resolve.
struct APIRoutes: Sendable {
    let store: any Store
    let auth: Authenticator
    let channels: ChannelRegistry
    let transport: any HTTPTransport
    let maxMediaBytes: Int
    /// The daemon's configured default capacity; settings may override it.
    let configuredCapacity: Int
    var defaultCapacity: Int { channels.webhooks.current.defaultMaxOpenRooms ?? configuredCapacity }
    let live: LiveEvents
    /// The application services the routes call after their checks.
    let replies: ReplyService
    let rooms: RoomLifecycle
    /// Load balancers whose `X-Forwarded-For` names the client (`trusted_proxies`).
    var trustedProxies: Set<String> = []
    /// `[outbound] allow_private_networks`: webhook URLs set through the API may name private addresses.
    var allowPrivateNetworks = false
    /// The daemon's metrics, for the delivery circuits' state on the channels page.
    var metrics: ServerMetrics?

    static let outboundTypes: [MessageType] = [.text, .image, .file, .audio, .video, .location, .contact, .sticker]
    static let maxTextLength = 65_536

    func register(on router: Router<some RequestContext>) {
        let api = router.group("/api/v1")
        api.post("/auth/login") { request, context in try await login(request, context) }
        api.post("/auth/logout") { request, _ in try await logout(request) }
        api.get("/me") { request, _ in
            let user = try await auth.user(of: request)
            var json = Self.user(user)
            json["language"] = JSONBody.null(try await store.language(userID: user.id))
            return JSONBody.response(["user": json])
        }
        api.put("/me/status") { request, _ in try await setStatus(request) }
        api.get("/channels") { request, _ in try await listChannels(request) }
        api.get("/rooms") { request, _ in try await listRooms(request) }
        api.get("/rooms/:room_id") { request, context in
            let (user, room) = try await accessibleRoom(request, context)
            return JSONBody.response(["room": try await InboxRoutes(api: self).detail(room, reader: user)])
        }
        api.get("/rooms/:room_id/messages") { request, context in try await listMessages(request, context) }
        api.post("/rooms/:room_id/messages") { request, context in try await postMessage(request, context) }
        api.post("/rooms/:room_id/resolve") { request, context in try await resolve(request, context) }
        api.get("/messages/:message_id/media") { request, context in try await media(request, context) }
        api.post("/messages/:message_id/retry") { request, context in try await retry(request, context) }
        api.get("/deliveries") { request, _ in try await failedDeliveries(request) }
    }

    /// Sends a failed reply again, with a fresh set of attempts (the console's retry button).
    func retry(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (message, room) = try await accessibleMessage(request, context)
        let id = message.id
        guard message.direction == .outbound, message.deliveryStatus == .failed, try await replies.retry(messageID: id, roomID: room.id) else {
            throw APIError(.conflict, "conflict", "message '\(id)' has no failed delivery to retry (it is \(message.deliveryStatus.rawValue))")
        }
        let fresh = try await store.message(id: id)?.0 ?? message
        return JSONBody.response(["message": Self.message(fresh)])
    }

    /// Dead letters (supervisors and admins): `?channel=&limit=&cursor=`, newest first.
    func failedDeliveries(_ request: Request) async throws -> Response {
        let user = try await auth.user(of: request)
        guard user.role >= .supervisor else { throw APIError.forbidden("dead letters need the supervisor role") }
        let query = Query(request)
        var cursor: Int64?
        if let raw = query["cursor"] {
            guard let value = Int64(raw) else { throw APIError.unprocessable("'cursor' is not one this server gave") }
            cursor = value
        }
        let page = try await store.failedDeliveries(channelIDs: Self.list(query, "channel"), cursor: cursor, limit: try Self.limit(query))
        return JSONBody.response([
            "deliveries": page.items.map { d -> [String: Any] in
                [
                    "id": String(d.id), "room_id": d.roomID, "channel": d.channelID, "message_id": JSONBody.null(d.messageID),
                    "target": d.target.rawValue, "attempts": d.attempts, "error": JSONBody.null(d.error), "created_at": d.createdAt.iso8601,
                ]
            },
            "next_cursor": JSONBody.null(page.nextCursor),
        ])
    }

    /// Streams an inbound attachment, fetched with the channel's credentials.
    func media(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (message, room) = try await accessibleMessage(request, context)
        let id = message.id
        guard let adapter = channels.adapter(for: room.channelID) else {
            throw APIError(.serviceUnavailable, "channel_unavailable", "channel '\(room.channelID)' is not configured")
        }
        guard message.direction == .inbound, let step = adapter.media(for: message.content, networkMessageID: message.networkMessageID)
        else { throw APIError.notFound("message '\(id)' has no attachment to fetch") }
        let response = try await fetch(step, what: "the attachment")
        let type = response.header("Content-Type") ?? message.content.mimeType ?? "application/octet-stream"
        return Response(
            status: .ok, headers: Self.mediaHeaders(type: type, fileName: message.content.fileName),
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }

    /// Images a browser may show in place; anything else is a download.
    static let inlineTypes: Set<String> = ["image/jpeg", "image/png", "image/gif", "image/webp"]

    /// Headers for bytes that came from a network or a customer: shown in
    /// place only when they are an image on the list, downloaded otherwise (an
    /// upstream `text/html` must not run as our origin's page), never sniffed
    /// into another type, and sandboxed should a browser render them anyway.
    static func mediaHeaders(type: String, fileName: String?) -> HTTPFields {
        let essence = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let disposition = inlineTypes.contains(essence) ? "inline" : "attachment"
        let name = fileName.map { "; filename=\"\($0.filter { $0 != "\"" && $0 != "\r" && $0 != "\n" && $0 != "\\" })\"" } ?? ""
        var headers: HTTPFields = [.contentType: type, .cacheControl: "private, max-age=300", .contentDisposition: disposition + name]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Content-Security-Policy")!] = "sandbox; default-src 'none'"
        return headers
    }

    /// Runs a fetch with the channel's credentials to its last call (Telegram:
    /// `getFile`, then the file); 502 naming `what` when the network fails.
    func fetch(_ first: MediaFetch, what: String) async throws -> HTTPResponseDescription {
        var step = first
        if let refusal = first.refusal {
            throw APIError(.forbidden, "address_refused", "\(what) is not fetched: \(refusal)")
        }
        do {
            while true {
                var call = step.request
                call.maxResponseBytes = maxMediaBytes
                let response = try await transport.send(call, timeout: .seconds(60))
                guard (200..<300).contains(response.status) else {
                    throw APIError(.badGateway, "media_unavailable", "the network answered \(response.status) for \(what)")
                }
                guard let next = step.next else { return response }
                guard let following = next(response) else {
                    throw APIError(.badGateway, "media_unavailable", "the network did not say where \(what) is")
                }
                step = MediaFetch(request: following)
            }
        } catch let error as TransportError {
            if error.kind == .privateAddress {
                throw APIError(.forbidden, "address_refused", "\(what) is not fetched: \(error.message)")
            }
            if error.kind == .tooLarge {
                throw APIError(.contentTooLarge, "too_large", "\(what) is larger than \(maxMediaBytes) bytes")
            }
            throw APIError(.badGateway, "media_unavailable", "could not fetch \(what): \(error.kind.rawValue)")
        }
    }

    // MARK: Handlers

    /// Throttled per account and per client address (`LoginThrottle`): 429 `throttled` with `Retry-After`.
    func login(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let body = try await JSONBody.object(request)
        guard let email = try body.string("email"), let password = try body.string("password") else {
            throw APIError.unprocessable("'email' and 'password' are required")
        }
        let client = AccountRoutes.clientAddress(request, context, trustedProxies: trustedProxies)
        let (user, token, expires) = try await signIn(email: email, password: password, client: client)
        return JSONBody.response(["token": token, "expires_at": expires.iso8601, "user": Self.user(user)])
    }

    /// Signs in and records the attempt in the audit log with the client's
    /// address: `auth.sign_in`, or `auth.sign_in_failed` with the email tried
    /// and why (never the password). Throttled attempts are not recorded (the
    /// throttle already bounds how many failures one address can log).
    func signIn(email: String, password: String, client: String) async throws -> (User, String, Date) {
        // What was typed, as long as an address can be (a megabyte "email" must not fill the log).
        let tried = String(email.lowercased().prefix(254))
        let attempt: (User, String, Date)?
        do {
            attempt = try await auth.login(email: email, password: password, client: client)
        } catch let error as APIError where error.code == "deactivated" {
            await audit(
                actor: tried, role: "none", "auth.sign_in_failed", "user", nil,
                ["address": client, "email": tried, "reason": "deactivated"])
            throw error
        }
        guard let (user, token, expires) = attempt else {
            await audit(
                actor: tried, role: "none", "auth.sign_in_failed", "user", nil,
                ["address": client, "email": tried, "reason": "invalid_credentials"])
            throw APIError(.unauthorized, "invalid_credentials", "email or password is wrong")
        }
        await audit(user, "auth.sign_in", "user", user.id, ["address": client])
        return (user, token, expires)
    }

    func logout(_ request: Request) async throws -> Response {
        _ = try await auth.user(of: request)
        if let token = Authenticator.bearer(request) { try await store.deleteSession(tokenHash: Authenticator.tokenHash(token)) }
        return Response(status: .noContent)
    }

    func setStatus(_ request: Request) async throws -> Response {
        let user = try await auth.user(of: request)
        let body = try await JSONBody.object(request)
        let online = try body.bool("online")
        let updated = try await store.setOnline(userID: user.id, online: online)
        if online != user.online { await rooms.domain.publish(.agentStatusChanged(updated)) }
        if online {
            await rooms.capacityChanged()
        } else if channels.webhooks.current.offlineReturnsRooms {
            let returned = try await store.returnRooms(userID: user.id, actor: String(user.id))
            await rooms.changed(returned, freedCapacity: !returned.isEmpty)
        }
        return JSONBody.response(["user": Self.user(updated)])
    }

    /// Agents see the channels they serve; each with its division, bot, status and the active users serving it.
    func listChannels(_ request: Request) async throws -> Response {
        let user = try await auth.user(of: request)
        let visible = channels.all.filter { user.role >= .supervisor || user.serves(channel: $0.id) }
        let reload = channels.reloadStatus
        return JSONBody.response([
            "channels": try await TeamRoutes.channels(visible, store: store, openCircuits: metrics?.channelsWithOpenCircuit ?? []),
            "config": ["loaded_at": reload.loadedAt.iso8601, "reload_error": JSONBody.null(reload.error)] as [String: Any],
        ])
    }

    func listRooms(_ request: Request) async throws -> Response {
        let user = try await auth.user(of: request)
        let query = Query(request)
        var filter = RoomFilter()
        if user.role == .agent { filter.assigneeID = user.id }
        filter.channelIDs = Self.list(query, "channel")
        for raw in Self.list(query, "status") {
            guard let status = RoomStatus(rawValue: raw) else {
                throw APIError.unprocessable("unknown status '\(raw)' (one of: \(RoomStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            filter.statuses.append(status)
        }
        filter.limit = try Self.limit(query)
        filter.cursor = query["cursor"]
        // kind, assignee, division, unread, q, tag (InboxRoutes)
        let inbox = InboxRoutes(api: self)
        guard try await inbox.applyFilters(query, user: user, to: &filter) else {
            return JSONBody.response(["rooms": [Any](), "next_cursor": NSNull()])
        }
        let page = try await store.rooms(filter)
        return JSONBody.response(["rooms": try await inbox.listed(page.items, reader: user), "next_cursor": JSONBody.null(page.nextCursor)])
    }

    func listMessages(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (_, room) = try await accessibleRoom(request, context)
        let query = Query(request)
        let page = try await store.messages(roomID: room.id, cursor: query["cursor"], limit: try Self.limit(query))
        // Each outbound message names who sent it (an agent's name, or the bot's key's name).
        var names: [String: String] = [:]
        for id in Set(page.items.compactMap(\.senderUserID)) {
            if let user = try await store.user(id: id) { names["u\(id)"] = user.name }
        }
        if page.items.contains(where: { $0.senderKeyID != nil }) {
            for key in try await store.apiKeys() { names["k\(key.id)"] = key.name }
        }
        let messages: [[String: Any]] = page.items.map { m in
            var json = Self.message(m)
            let name = m.senderUserID.flatMap { names["u\($0)"] } ?? m.senderKeyID.flatMap { names["k\($0)"] }
                ?? (m.direction == .inbound ? m.content.senderName : nil)
            json["sender_name"] = JSONBody.null(name)
            return json
        }
        return JSONBody.response(["messages": messages, "next_cursor": JSONBody.null(page.nextCursor)])
    }

    func postMessage(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let sender: (user: Int64?, key: APIKey?)
        let senderName: String
        let room: Room
        switch try await auth.principal(of: request) {
        case .key(let key):
            // A bot answers the rooms it has; nothing else may post with a key.
            guard key.scope == .bot else { throw APIError.forbidden("API key scope '\(key.scope.rawValue)' cannot send messages") }
            let id = try await store.pathID(context, "room_id", .room)
            guard let found = try await store.room(id: id) else { throw APIError.notFound("no room '\(id)'") }
            guard found.status == .bot else {
                throw APIError(.conflict, "conflict", "room '\(id)' is \(found.status.rawValue): the bot handed it over")
            }
            (sender, room, senderName) = ((nil, key), found, key.name)
        case .user:
            let (user, found) = try await accessibleRoom(request, context)
            (sender, room, senderName) = ((user.id, nil), found, user.name)
        }
        let body = try await JSONBody.object(request)
        let content = try Self.outboundContent(body)
        let message = try await replies.send(content, in: room, user: sender.user, key: sender.key)
        var json = Self.message(message)
        json["sender_name"] = senderName
        return JSONBody.response(["message": json], status: .created)
    }

    func resolve(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (user, room) = try await accessibleRoom(request, context)
        let resolved = try await rooms.resolve(room, actor: String(user.id))
        return JSONBody.response(["room": Self.room(resolved)])
    }

    /// The message named in the path and its room, if this user may see it: agents only their rooms'.
    func accessibleMessage(_ request: Request, _ context: some RequestContext) async throws -> (StoredMessage, Room) {
        let user = try await auth.user(of: request)
        let id = try await store.pathID(context, "message_id", .message)
        guard let (message, room) = try await store.message(id: id) else { throw APIError.notFound("no message '\(id)'") }
        if user.role == .agent && room.assignee?.id != user.id {
            throw APIError.forbidden("message '\(id)' is in a room not assigned to you")
        }
        return (message, room)
    }

    /// The room named in the path, if this user may see it: agents only their own.
    /// The one role guard of the staff routes: a signed-in user of at least `minimum`.
    func staff(_ request: Request, _ minimum: Role = .supervisor) async throws -> User {
        let user = try await auth.user(of: request)
        guard user.role >= minimum else { throw APIError.forbidden("this needs the \(minimum.rawValue) role") }
        return user
    }

    func accessibleRoom(_ request: Request, _ context: some RequestContext) async throws -> (User, Room) {
        let user = try await auth.user(of: request)
        let id = try await store.pathID(context, "room_id", .room)
        guard let room = try await store.room(id: id) else { throw APIError.notFound("no room '\(id)'") }
        if user.role == .agent && room.assignee?.id != user.id {
            throw APIError.forbidden("room '\(id)' is not assigned to you")
        }
        return (user, room)
    }
}
