import Foundation
import Hummingbird
import OmnichatAdapters
import OmnichatCore

/// The inbox: room filters and search, read marks, internal notes, tags, the
/// room detail's customer and sessions; and the reports (`ReportRoutes`).
/// Agents act on their own rooms only; supervisors and admins on any room.
struct InboxRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }
    var auth: Authenticator { api.auth }

    static let maxTags = 20
    static let maxTagLength = 40
    static let maxNoteLength = 10_000
    static let maxSearchLength = 200

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.post("/rooms/:room_id/read") { request, context in try await markRead(request, context) }
        v1.get("/rooms/:room_id/notes") { request, context in try await listNotes(request, context) }
        v1.post("/rooms/:room_id/notes") { request, context in try await addNote(request, context) }
        v1.put("/rooms/:room_id/tags") { request, context in try await setTags(request, context) }
        v1.get("/inbox/counts") { request, _ in try await counts(request) }
        v1.get("/rooms/:room_id/history") { request, context in try await history(request, context) }
        ReportRoutes(api: api).register(on: router)
    }

    // MARK: Routing history

    /// `GET /api/v1/rooms/{room_id}/history`: what happened to the room, oldest
    /// first, for the timeline's service lines and the customer panel: each
    /// change of status with a `kind` (`opened`, `reopened`: a new session;
    /// `assigned`, `transferred`, `queued`, `bot`, `handover`, `resolved`), the
    /// agent it went to and who did it, with names where they are users; and
    /// the network's notices (`blocked`, `unblocked`, `joined`, `left`, with
    /// the `name` of whom it concerns) among them by time.
    func history(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (_, room) = try await api.accessibleRoom(request, context)
        let transitions = try await store.transitions(roomID: room.id)
        var names: [Int64: String] = [:]
        for id in Set(transitions.compactMap(\.assigneeID) + transitions.compactMap { Int64($0.actor) }) {
            if let user = try await store.user(id: id) { names[id] = user.name }
        }
        var events: [(at: Date, body: InboxBody.Event)] = transitions.map { ($0.at, InboxBody.Event($0, names: names)) }
        // What the network told us that is not a message (blocked, joined…), among them by time.
        for notice in try await store.roomNotices(roomID: room.id) {
            let index = events.firstIndex { $0.at > notice.at } ?? events.endIndex
            events.insert((notice.at, InboxBody.Event(notice)), at: index)
        }
        return try JSONBody.response(encoding: InboxBody.History(events: events.map(\.body)))
    }

    // MARK: Tab counts

    /// The most a tab count counts; the console shows more as "999+".
    static let countCap = 1000

    /// `GET /api/v1/inbox/counts`: how many rooms each of the console's tabs
    /// lists, for the signed-in user (`?channel=` narrows them as the list's
    /// chips do): `mine` (open rooms assigned to them), `unanswered` (those
    /// with customer messages they have not read), `resolved` (theirs, for
    /// agents; all, for staff), and for supervisors and admins `waiting` and
    /// `all` (every open room). Each counts at most 1,000.
    func counts(_ request: Request) async throws -> Response {
        let user = try await auth.user(of: request)
        let channelIDs = APIRoutes.list(APIRoutes.Query(request), "channel")
        func filter(_ statuses: [RoomStatus], mine: Bool = false, unread: Bool = false) -> RoomFilter {
            var filter = RoomFilter()
            filter.statuses = statuses
            filter.channelIDs = channelIDs
            if mine || user.role == .agent { filter.assigneeID = user.id }
            if unread {
                filter.unread = true
                filter.readerID = user.id
            }
            return filter
        }
        var counts = InboxBody.Counts.Tabs(
            mine: try await store.countRooms(filter([.assigned], mine: true), cap: Self.countCap),
            unanswered: try await store.countRooms(filter([.assigned], mine: true, unread: true), cap: Self.countCap),
            resolved: try await store.countRooms(filter([.resolved]), cap: Self.countCap))
        if user.role >= .supervisor {
            counts.waiting = try await store.countRooms(filter([.waiting]), cap: Self.countCap)
            counts.all = try await store.countRooms(filter([.bot, .waiting, .assigned]), cap: Self.countCap)
        }
        return try JSONBody.response(encoding: InboxBody.Counts(counts: counts, cap: Self.countCap))
    }

    // MARK: Room list filters

    /// Adds the inbox filters of `GET /api/v1/rooms` to `filter` (which has
    /// `channel`, `status`, `limit`, `cursor` and an agent's own assignee).
    /// Returns false when no room can match (a `kind` with no channel).
    func applyFilters(_ query: APIRoutes.Query, user: User, to filter: inout RoomFilter) async throws -> Bool {
        let kinds = query.list("kind").map { $0.lowercased() }
        if !kinds.isEmpty {
            let configured = api.channels.all
            let known = Set(BuiltinAdapters.all.map(\.kind) + configured.map(\.kind))
            for kind in kinds where !known.contains(kind) {
                throw APIError.unprocessable("unknown kind '\(kind)' in 'kind' (one of: \(known.sorted().joined(separator: ", ")))")
            }
            let ids = configured.filter { kinds.contains($0.kind) }.map(\.id)
            filter.channelIDs = filter.channelIDs.isEmpty ? ids : filter.channelIDs.filter(ids.contains)
            if filter.channelIDs.isEmpty { return false }
        }

        let assignees = query.list("assignee")
        if assignees.count > 1 { throw APIError.unprocessable("'assignee' takes one value: me, none or a user id") }
        if let assignee = assignees.first {
            let assigneeID = try await store.resolveID(assignee, .user)
            switch assignee {
            case _ where assignee == "me" || assigneeID == user.id:
                filter.assigneeID = user.id
            case _ where user.role == .agent:
                throw APIError.forbidden("agents may only filter on 'assignee=me'")
            case "none":
                filter.unassigned = true
            default:
                guard let assigneeID, try await store.user(id: assigneeID) != nil else {
                    throw APIError.unprocessable("'assignee' must be me, none or a user id (no user '\(assignee)')")
                }
                filter.assigneeID = assigneeID
            }
        }

        if let raw = query["division"] {
            let division = try await store.resolveID(raw, .division)
            guard let division, try await store.divisions().contains(where: { $0.id == division }) else {
                throw APIError.unprocessable("'division' names no division ('\(raw)')")
            }
            filter.divisionID = division
        }

        if let unread = query["unread"] {
            switch unread.lowercased() {
            case "true", "1": filter.unread = true
            case "false", "0": filter.unread = false
            default: throw APIError.unprocessable("'unread' must be true or false")
            }
            filter.readerID = user.id
        }

        if let text = query["q"]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            guard text.count <= Self.maxSearchLength else {
                throw APIError.unprocessable("'q' is longer than \(Self.maxSearchLength) characters")
            }
            filter.text = text
        }

        for raw in query.list("tag") {
            guard let tag = Self.normalizedTag(raw) else { throw APIError.unprocessable("'tag' has an invalid tag '\(raw)' (\(Self.tagRule))") }
            if !filter.tags.contains(tag) { filter.tags.append(tag) }
        }
        return true
    }

    // MARK: Room JSON

    /// The room as listed: `APIRoutes.room` plus the reader's unread count, the last message and the tags.
    func listed(_ rooms: [Room], reader: User) async throws -> [[String: Any]] {
        let summaries = try await store.roomSummaries(roomIDs: rooms.map(\.id), readerID: reader.id)
        return rooms.map { Self.withSummary(APIRoutes.room($0), summaries[$0.id] ?? RoomSummary(roomID: $0.id)) }
    }

    /// The room in full (`GET /api/v1/rooms/{id}`, `PUT …/tags`): as listed, plus the customer and the sessions.
    func detail(_ room: Room, reader: User) async throws -> [String: Any] {
        var json = try await listed([room], reader: reader)[0]
        json["customer"] = [
            "id": room.contact.id, "external_id": room.contact.externalID, "name": JSONBody.null(room.contact.displayName),
            "username": JSONBody.null(room.contact.username), "channel": room.contact.channelID,
            "channel_kind": JSONBody.null(api.channels.channel(room.contact.channelID)?.kind),
            "email": JSONBody.null(room.contact.email), "avatar_url": JSONBody.null(room.contact.avatarURL),
        ] as [String: Any]
        json["sessions"] = try await store.sessions(roomID: room.id).map(Self.session)
        return json
    }

    static func withSummary(_ room: [String: Any], _ summary: RoomSummary) -> [String: Any] {
        var json = room
        json["unread_count"] = summary.unreadCount
        json["last_message"] =
            summary.lastMessage.map {
                [
                    "id": $0.id, "direction": $0.direction.rawValue, "type": $0.content.type.rawValue, "text": JSONBody.null($0.content.text),
                    "created_at": $0.createdAt.iso8601,
                ] as [String: Any]
            } ?? NSNull()
        json["tags"] = summary.tags
        return json
    }

    static func session(_ s: RoomSession) -> [String: Any] {
        [
            "number": s.number, "started_at": s.startedAt.iso8601, "ended_at": JSONBody.null(s.endedAt?.iso8601),
            "agents": s.agentIDs, "resolved_by": JSONBody.null(s.resolvedBy),
        ]
    }

    // MARK: Handlers

    /// `{"message_id"?}` (the body may be empty): the caller has read the room up to that message (or the newest).
    func markRead(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (user, room) = try await api.accessibleRoom(request, context)
        let body = try await Self.optionalObject(request)
        let raw = body["message_id"].flatMap { $0 is NSNull ? nil : $0 }
        if let text = raw as? String, text.isEmpty { throw APIError.unprocessable("'message_id' must not be empty") }
        let messageID = try await store.bodyID(body, "message_id", .message)
        do {
            try await store.markRead(roomID: room.id, userID: user.id, messageID: messageID)
        } catch let error as StoreError where error.kind == .invalid {
            throw APIError.unprocessable("'message_id' '\(raw.map { "\($0)" } ?? "")' is not a message of room '\(room.id)'")
        }
        return Response(status: .noContent)
    }

    func listNotes(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (_, room) = try await api.accessibleRoom(request, context)
        let query = APIRoutes.Query(request)
        let page = try await store.notes(roomID: room.id, cursor: query["cursor"], limit: try APIRoutes.limit(query))
        return try JSONBody.response(encoding: InboxBody.Notes(notes: page.items.map(InboxBody.Note.init), nextCursor: page.nextCursor))
    }

    /// `{"text"}` → 201. A note is stored apart from the messages and never enters the outbox.
    func addNote(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (user, room) = try await api.accessibleRoom(request, context)
        let body = try await JSONBody.object(request)
        guard let text = try body.string("text"), !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError.unprocessable("'text' must not be empty")
        }
        guard text.count <= Self.maxNoteLength else { throw APIError.unprocessable("'text' is longer than \(Self.maxNoteLength) characters") }
        let note = try await store.addNote(roomID: room.id, authorID: user.id, text: text)
        await notifyMentions(note, roomID: room.id, author: user)
        return try JSONBody.response(encoding: InboxBody.Created(note: InboxBody.Note(note)), status: .created)
    }

    /// `@handle` in a note tells that teammate on their event stream
    /// (`note.mention`): an active user whose email's local part, first name or
    /// name without spaces is the handle, any case; never the author.
    func notifyMentions(_ note: RoomNote, roomID: Int64, author: User) async {
        let handles = Set(note.text.matches(of: /@([\p{L}\p{N}._-]+)/).map { String($0.1).trimmingCharacters(in: CharacterSet(charactersIn: "._-")).lowercased() })
        guard !handles.isEmpty, let users = try? await store.users(UserFilter(active: true)) else { return }
        for user in users where user.id != author.id {
            let local = user.email.split(separator: "@").first.map { $0.lowercased() } ?? ""
            let first = user.name.split(separator: " ").first.map { $0.lowercased() } ?? ""
            let compact = user.name.filter { !$0.isWhitespace }.lowercased()
            if !handles.isDisjoint(with: [local, first, compact]) {
                api.live.mention(userID: user.id, note: note, roomID: roomID, author: author)
            }
        }
    }

    /// `{"tags": [...]}` replaces the room's tags → 200 with the room.
    func setTags(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (user, room) = try await api.accessibleRoom(request, context)
        let body = try await JSONBody.object(request)
        guard let items = body["tags"] as? [Any] else { throw APIError.unprocessable("'tags' is required and must be an array of strings") }
        var tags: [String] = []
        for (index, item) in items.enumerated() {
            guard let raw = item as? String else { throw APIError.unprocessable("'tags[\(index)]' must be a string") }
            guard let tag = Self.normalizedTag(raw) else {
                throw APIError.unprocessable("'tags[\(index)]' is not a valid tag (\(Self.tagRule))")
            }
            if !tags.contains(tag) { tags.append(tag) }
        }
        guard tags.count <= Self.maxTags else { throw APIError.unprocessable("'tags' has more than \(Self.maxTags) tags") }
        _ = try await store.setTags(roomID: room.id, tags: tags)
        return JSONBody.response(["room": try await detail(try await store.room(id: room.id) ?? room, reader: user)])
    }

    // MARK: Helpers

    static let tagRule = "1-\(maxTagLength) characters, no commas or control characters"

    /// Trimmed and lowercased; nil when empty, too long, or with a comma (the filter's separator) or a control character.
    static func normalizedTag(_ raw: String) -> String? {
        let tag = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard (1...maxTagLength).contains(tag.count), !tag.contains(","),
            !tag.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
        else { return nil }
        return tag
    }

    /// A JSON object body, or an empty one when the request has no body.
    static func optionalObject(_ request: Request, limit: Int = 1 << 16) async throws -> [String: Any] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "request body is larger than \(limit) bytes")
        }
        let data = Data(buffer: buffer)
        guard !data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw APIError.badRequest("request body is not a JSON object")
        }
        return object
    }
}
