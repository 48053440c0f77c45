import Foundation
import Hummingbird
import Logging
import OmnichatCore
import OmnichatDelivery

extension TeamRoutes {
    // MARK: Channels

    /// The channel listing: each channel with its status and the active users who serve it.
    static func channels(_ list: [ConfiguredChannel], store: any Store, openCircuits: Set<String> = []) async throws -> [[String: Any]] {
        let activity = try await store.channelActivity()
        let users = try await store.users(UserFilter(active: true))
        return list.map { channel in
            let status = activity[channel.id] ?? ChannelActivity()
            return [
                "id": channel.id, "kind": channel.kind, "enabled": channel.enabled, "division": JSONBody.null(channel.division),
                "bot": channel.bot != nil,
                "status": [
                    "last_webhook_at": JSONBody.null(status.lastWebhookAt?.iso8601),
                    "last_delivery_error": JSONBody.null(status.lastDeliveryError),
                    "last_delivery_error_at": JSONBody.null(status.lastDeliveryErrorAt?.iso8601),
                    "pending_deliveries": status.pendingDeliveries,
                    "failed_deliveries_24h": status.failedDeliveries,
                    "circuit": openCircuits.contains(channel.id) ? "open" : "closed",
                ] as [String: Any],
                "agents": users.filter { $0.serves(channel: channel.id) }.map { ["id": $0.id, "name": $0.name, "email": $0.email] },
            ]
        }
    }

    /// `{"agent_ids"}`: they serve the channel (added to their list when they
    /// have one); agents not listed who had it in their list lose it. Users who
    /// serve every channel (`channels: null`) keep doing so.
    func setChannelAgents(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await staff(request)
        let id = try context.parameters.require("channel_id")
        guard let channel = api.channels.channel(id) else { throw APIError.notFound("no channel '\(id)'") }
        let body = try await JSONBody.object(request)
        guard let ids = try await store.bodyIDs(body, "agent_ids", .user) else {
            throw APIError.unprocessable("'agent_ids' must be an array of agent ids")
        }
        if actor.role == .supervisor {
            for userID in Set(ids) where userID != actor.id {
                guard let user = try await store.user(id: userID) else { throw APIError.unprocessable("unknown agent '\(userID)'") }
                try Self.requireManageable(user, by: actor)
            }
        }
        let scope: Set<Role> = actor.role == .admin ? Set(Role.allCases) : [.agent]
        let changed = try await store.setChannelMembers(channelID: id, userIDs: ids, scope: scope)
        await api.rooms.capacityChanged()
        await api.audit(actor, "channel.agents", "channel", id, ["agent_ids": ids, "changed": changed.map { $0.id }])
        return JSONBody.response(["channel": try await Self.channels([channel], store: store)[0]])
    }

    // MARK: Audit log

    /// `?cursor=&limit=`, newest first, filtered by `actor`, `action` (exact,
    /// or a prefix ending in `.` such as `auth.`), `target_type`, `target_id`,
    /// `from` and `to` (ISO 8601 dates or date-times). As CSV (`Accept:
    /// text/csv` or `?format=csv`): every matching entry, up to
    /// `maxAuditExport`, in one file.
    func auditLog(_ request: Request) async throws -> Response {
        _ = try await staff(request, .admin)
        let query = APIRoutes.Query(request)
        var filter = AuditFilter()
        filter.actor = query["actor"].flatMap { $0.isEmpty ? nil : $0 }
        filter.action = query["action"].flatMap { $0.isEmpty ? nil : $0 }
        filter.targetType = query["target_type"].flatMap { $0.isEmpty ? nil : $0 }
        filter.targetID = query["target_id"].flatMap { $0.isEmpty ? nil : $0 }
        filter.from = try query["from"].map { try ReportRoutes.parse($0, field: "from", endOfDay: false) }
        filter.until = try query["to"].map { try ReportRoutes.parse($0, field: "to", endOfDay: true) }
        if let from = filter.from, let until = filter.until, from >= until { throw APIError.unprocessable("'from' must be before 'to'") }
        if try ReportRoutes.wantsCSV(request, query) {
            var rows: [[String]] = []
            var cursor: String?
            repeat {
                let page = try await store.auditLog(filter: filter, cursor: cursor, limit: 500)
                rows += page.items.map { entry in
                    [String(entry.id), entry.at.iso8601, entry.actor, entry.actorRole, entry.action, entry.targetType, entry.targetID ?? "", entry.details]
                }
                cursor = page.nextCursor
            } while cursor != nil && rows.count < Self.maxAuditExport
            return ReportRoutes.csv(
                name: "audit", header: ["id", "at", "actor", "actor_role", "action", "target_type", "target_id", "details"],
                rows: Array(rows.prefix(Self.maxAuditExport)))
        }
        let page = try await store.auditLog(filter: filter, cursor: query["cursor"], limit: try APIRoutes.limit(query))
        let entries: [[String: Any]] = page.items.map { entry in
            [
                "id": String(entry.id), "actor": entry.actor, "actor_role": entry.actorRole, "action": entry.action,
                "target_type": entry.targetType, "target_id": JSONBody.null(entry.targetID),
                "details": (try? JSONSerialization.jsonObject(with: Data(entry.details.utf8))) ?? [String: Any](),
                "at": entry.at.iso8601,
            ]
        }
        return JSONBody.response(["entries": entries, "next_cursor": JSONBody.null(page.nextCursor)])
    }

    /// The most entries one CSV export holds (narrow it with `from`/`to` for more).
    static let maxAuditExport = 100_000
}
