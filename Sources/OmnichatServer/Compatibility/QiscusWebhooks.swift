import Foundation
import Logging
import OmnichatCore

/// The bodies of the merchant's webhooks, in the hosted product's shapes
/// (`docs/qiscus-compatibility.md`); our own fields stay beside them.
/// What the webhook bodies read: rooms, their customer and sessions, agents.
public typealias QiscusWebhookStore = ConversationPort & MerchantWebhookPort & AccountPort & InboxStore & CustomerStore & CompatibilityStore

/// What routing uses: the routing port and the merchant's webhooks (the
/// allocation webhook's body reads more: `QiscusWebhookStore`).
public typealias RouterStore = RoutingPort & MerchantWebhookPort

struct QiscusWebhooks: Sendable {
    let store: any QiscusWebhookStore
    let channels: ChannelRegistry
    let appID: String

    func source(of room: Room) -> String {
        Qiscus.source(kind: channels.channel(room.channelID)?.kind ?? "", channelID: room.channelID)
    }

    /// The custom agent allocation webhook: who the customer is, whether this is
    /// a new session, the previous session, and the agent automatic allocation
    /// would choose.
    func allocation(_ room: Room, candidate: AgentLoad?) async throws -> [String: Any] {
        let sessions = try await store.sessions(roomID: room.id)
        let properties = try await store.customerProperties(contactID: room.contact.id)
        let current = sessions.last
        var body: [String: Any] = [
            "app_id": appID,
            "source": source(of: room),
            "email": room.contact.email ?? room.contact.externalID,
            "name": room.contact.displayName ?? room.contact.externalID,
            "avatar_url": room.contact.avatarURL ?? "",
            "extras": Qiscus.extras(room.contact, properties: properties),
            "room_id": String(room.id),
            "channel_id": room.channelID,
            // A session nobody was assigned yet is new (a handover or a transfer back to the queue is not).
            "is_new_session": current?.agentIDs.isEmpty ?? true,
            "is_resolved": room.status == .resolved,
            "latest_service": sessions.dropLast().last.map { Qiscus.service(room: room, session: $0) } ?? NSNull(),
            "candidate_agent": NSNull(),
        ]
        if let candidate, let user = try await store.user(id: candidate.userID) {
            let numbers = try await store.channelNumbers(channels.all.map(\.id))
            var row = Qiscus.agent(user, channels: numbers, allChannels: channels.all.map(\.id))
            row["current_customer_count"] = candidate.openRooms
            body["candidate_agent"] = row
        }
        return body
    }

    /// The mark-as-resolved webhook: the customer, who resolved, and the service.
    func resolved(_ room: Room, actor: String, resolver: User?, notes: String?) async throws -> [String: Any] {
        let sessions = try await store.sessions(roomID: room.id)
        let session = sessions.last ?? RoomSession(number: room.session, startedAt: room.createdAt)
        let range = try await Self.comments(store, room: room.id, sessions: sessions)
        let properties = try await store.customerProperties(contactID: room.contact.id)
        let source = self.source(of: room)
        var service = Qiscus.service(
            room: room, session: session, notes: notes, firstComment: range.first, lastComment: range.last, source: source)
        service["is_resolved"] = true
        let resolvedBy: Any = resolver.map { user in
            [
                "id": user.id, "email": user.email, "name": user.name, "is_available": user.online,
                "type": user.role.rawValue,
            ] as [String: Any]
        } ?? NSNull()
        return [
            "customer": [
                "additional_info": Qiscus.additionalInfo(properties), "avatar": room.contact.avatarURL ?? "",
                "name": room.contact.displayName ?? room.contact.externalID, "user_id": room.contact.externalID,
            ] as [String: Any],
            "resolved_by": resolvedBy,
            "service": service,
            // Ours, as before.
            "app_id": appID, "room_id": room.id, "channel_id": room.channelID, "source": source,
            "agent": room.assignee.map { ["id": $0.id, "name": $0.name, "email": $0.email] as [String: Any] } ?? [String: Any](),
            "actor": actor, "resolved_at": Date().iso8601,
        ]
    }

    /// The new-session webhook: a room opened, or a resolved one reopened.
    func newSession(_ room: Room) -> [String: Any] {
        let options: [String: Any] = [
            "source": source(of: room), "channel": room.channelID, "is_resolved": false, "extras": room.contact.extras ?? "{}",
        ]
        let optionsText = (try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return [
            "is_new_session": true,
            "webhook_type": "new_session",
            "payload": [
                "room": [
                    "id": String(room.id), "id_str": String(room.id), "name": room.contact.displayName ?? room.contact.externalID,
                    "options": optionsText, "participants": [["email": room.contact.email ?? room.contact.externalID]],
                    "room_avatar": room.contact.avatarURL ?? "", "topic_id": String(room.id), "topic_id_str": String(room.id),
                    "type": "group", "is_public_channel": false,
                ] as [String: Any],
                "session": room.session, "channel_id": room.channelID,
            ] as [String: Any],
        ]
    }

    /// The first and last message of the room's latest session: those after
    /// the previous session ended (messages carry the network's time, which can
    /// be a little before the session's own start).
    static func comments(_ store: any QiscusWebhookStore, room: Int64, sessions: [RoomSession]) async throws -> (first: Int64?, last: Int64?) {
        try await store.messageRange(roomID: room, since: sessions.dropLast().last?.endedAt ?? .distantPast)
    }

    static func json(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Tells the new-session webhook about every session that starts (a room
/// opened or reopened), through the durable outbox. Follows the event bus, so
/// the daemon that made the change sends it, once.
final class NewSessionNotifier: Sendable {
    let webhooks: QiscusWebhooks
    let wakeOutbox: @Sendable () -> Void
    let logger: Logger

    init(webhooks: QiscusWebhooks, wakeOutbox: @escaping @Sendable () -> Void, logger: Logger) {
        self.webhooks = webhooks
        self.wakeOutbox = wakeOutbox
        self.logger = logger
    }

    func follow(_ bus: EventBus) {
        let stream = bus.subscribe(buffer: 100_000)
        Task { [self] in
            for await transition in stream where transition.from == nil || transition.from == .resolved {
                guard webhooks.channels.webhooks.current.newSessionWebhookURL != nil else { continue }
                do {
                    guard let room = try await webhooks.store.room(id: transition.roomID) else { continue }
                    try await webhooks.store.enqueueWebhook(
                        roomID: room.id, target: .newSession,
                        action: AdapterAction(name: "new_session", parameters: ["body": try QiscusWebhooks.json(webhooks.newSession(room))]))
                    wakeOutbox()
                } catch {
                    // The session is stored; only this notice is lost.
                    logger.error(
                        "new-session webhook not queued",
                        metadata: ["omnichat.room": .stringConvertible(transition.roomID), "omnichat.error": "\(error)"])
                }
            }
        }
    }
}
