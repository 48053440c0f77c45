import Foundation
import Hummingbird
import OmnichatCore

extension QiscusRoutes {
    // MARK: Rooms

    func customerRoomRow(_ room: Room, numbers: [String: Int64]) -> [String: Any] {
        let source = Qiscus.source(kind: api.channels.channel(room.channelID)?.kind ?? "", channelID: room.channelID)
        return Qiscus.customerRoom(room, source: source, channelNumber: numbers[room.channelID])
    }

    /// `channels` (channel ids, numbers or sources), `serve_status` (`served`,
    /// `unserved`), `status` (`resolved`, `unresolved`, `waiting`, `assigned`, `bot`, `all`),
    /// `limit`, `cursor_after` (the `meta.cursor_after` of the page before: older
    /// rooms) or `cursor_before` (a page's `meta.cursor_before`: the newer rooms before it).
    func customerRooms(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let numbers = try await store.channelNumbers(api.channels.all.map(\.id))
        var filter = RoomFilter(limit: try input.int("limit", otherwise: 50, range: 1...500))
        let wanted = input.list("channels")
        if !wanted.isEmpty {
            filter.channelIDs = api.channels.all.filter { channel in
                wanted.contains(channel.id) || wanted.contains(numbers[channel.id].map(String.init) ?? "-")
                    || wanted.contains(Qiscus.source(kind: channel.kind, channelID: channel.id))
            }.map(\.id)
            if filter.channelIDs.isEmpty { return Self.envelope(["customer_rooms": [Any]()], meta: ["cursor_after": NSNull(), "cursor_before": NSNull()]) }
        }
        switch input.string("status")?.lowercased() {
        case nil, "all": break
        case "resolved": filter.statuses = [.resolved]
        case "unresolved": filter.statuses = [.bot, .waiting, .assigned]
        case let other?:
            guard let status = RoomStatus(rawValue: other) else {
                throw APIError.unprocessable("'status' must be one of: all, resolved, unresolved, waiting, assigned, bot")
            }
            filter.statuses = [status]
        }
        switch input.string("serve_status")?.lowercased() {
        case nil, "all": break
        case "served": filter.statuses = (filter.statuses.isEmpty ? RoomStatus.allCases : filter.statuses).filter { $0 == .assigned }
        case "unserved": filter.statuses = (filter.statuses.isEmpty ? RoomStatus.allCases : filter.statuses).filter { $0 == .waiting }
        default: throw APIError.unprocessable("'serve_status' must be served, unserved or all")
        }
        if (input.string("serve_status") != nil || input.string("status") != nil) && filter.statuses.isEmpty {
            return Self.envelope(["customer_rooms": [Any]()], meta: ["cursor_after": NSNull(), "cursor_before": NSNull()])
        }
        filter.cursor = input.string("cursor_after")
        filter.cursorBefore = input.string("cursor_before")
        if filter.cursor != nil && filter.cursorBefore != nil {
            throw APIError.unprocessable("give 'cursor_after' or 'cursor_before', not both")
        }
        let page = try await store.rooms(filter)
        // `cursor_after`: older rooms exist past this page; `cursor_before`: newer ones exist before it.
        let after: String?, before: String?
        if filter.cursorBefore != nil {
            after = page.items.last.map(RoomFilter.cursor(of:))
            before = page.nextCursor
        } else {
            after = page.nextCursor
            before = filter.cursor == nil ? nil : page.items.first.map(RoomFilter.cursor(of:))
        }
        return Self.envelope(
            ["customer_rooms": page.items.map { customerRoomRow($0, numbers: numbers) }],
            meta: ["cursor_after": JSONBody.null(after), "cursor_before": JSONBody.null(before)])
    }

    func customerRoom(_ request: Request, _ context: some RequestContext) async throws -> Response {
        try await lister(request)
        let room = try await room(try context.parameters.require("room_id"))
        let numbers = try await store.channelNumbers([room.channelID])
        return Self.envelope(["customer_room": customerRoomRow(room, numbers: numbers)])
    }

    /// `room_id`, `tag`: adds one tag to the room's tags.
    func addTag(_ request: Request) async throws -> Response {
        try await lister(request)
        let input = try await QiscusInput(request)
        let room = try await room(input.string("room_id"))
        guard let raw = input.string("tag") ?? input.string("name"), let tag = InboxRoutes.normalizedTag(raw) else {
            throw APIError.unprocessable("'tag' is required (\(InboxRoutes.tagRule))")
        }
        let current = try await store.roomSummaries(roomIDs: [room.id], readerID: 0)[room.id]?.tags ?? []
        guard current.contains(tag) || current.count < InboxRoutes.maxTags else {
            throw APIError.unprocessable("room '\(room.id)' has \(InboxRoutes.maxTags) tags already")
        }
        let tags = try await store.setTags(roomID: room.id, tags: current.contains(tag) ? current : current + [tag])
        return Self.envelope(["room_id": String(room.id), "tag": tag, "tags": tags.map { ["name": $0] }])
    }

    /// `user_properties: [{"key", "value"}]`: the customer's properties (added or changed).
    func userInfo(_ request: Request, _ context: some RequestContext) async throws -> Response {
        try await lister(request)
        let room = try await room(try context.parameters.require("room_id"))
        let input = try await QiscusInput(request)
        guard let list = input["user_properties"] as? [any Sendable] else {
            throw APIError.unprocessable("'user_properties' must be a list of {\"key\", \"value\"}")
        }
        let properties = try CustomerRoutes.properties(list.map { $0 as Any }, field: "user_properties")
        let all = try await store.setCustomerProperties(contactID: room.contact.id, properties, replace: false)
        return Self.envelope(["user_properties": Qiscus.additionalInfo(all)])
    }

    /// `webhook_url`, `is_webhook_enabled`: the same settings as `PATCH /api/v1/settings`.
    func configureWebhook(_ request: Request, allocation: Bool) async throws -> Response {
        let actor = try await routing.staff(request, .admin)
        let input = try await QiscusInput(request)
        let enabled = input.string("is_webhook_enabled").map { _ in input.flag("is_webhook_enabled") } ?? true
        let url: Any = input.string("webhook_url") ?? NSNull()
        let body: [String: Any] =
            allocation
            ? ["custom_allocation": ["enabled": enabled, "webhook_url": url] as [String: Any]]
            : ["mark_as_resolved_webhook_url": enabled ? url : NSNull()]
        let settings = try await routing.applySettings(body, by: actor)
        return Self.envelope(
            allocation
                ? ["webhook_url": JSONBody.null(settings.customAllocation.webhookURL), "is_webhook_enabled": settings.customAllocation.enabled]
                : [
                    "webhook_url": JSONBody.null(settings.markAsResolvedWebhookURL),
                    "is_webhook_enabled": settings.markAsResolvedWebhookURL != nil,
                ])
    }
}
