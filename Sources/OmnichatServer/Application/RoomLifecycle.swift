import Foundation
import OmnichatCore

/// A room's life after ingest: resolved, moved between agents and queues.
/// The routes (and the hosted product's compatible routes) call these after
/// their checks; what follows each change is published as a domain event.
struct RoomLifecycle: Sendable {
    let store: any QiscusWebhookStore
    let channels: ChannelRegistry
    let appID: String
    let domain: DomainEvents

    /// Resolves a room: records it, frees the agent's capacity for the next
    /// waiting room, tells the bus and queues the mark-as-resolved webhook.
    func resolve(_ room: Room, actor: String, notes: String? = nil) async throws -> Room {
        let resolved = try await store.resolve(roomID: room.id, by: actor)
        guard room.status != .resolved else { return resolved }
        let transition = RoomTransition(
            roomID: room.id, channelID: room.channelID, from: room.status, to: .resolved, assigneeID: room.assignee?.id,
            divisionID: room.divisionID, actor: actor, at: Date())
        await domain.publish(.roomsChanged([transition], freedCapacity: room.status == .assigned))
        if channels.webhooks.current.markAsResolvedWebhookURL != nil {
            // Resolved by a user: them; by a key or the system: the room's agent.
            let resolver = try await Int64(id: actor).asyncMap { try await store.user(id: $0) } ?? room.assignee
            let webhooks = QiscusWebhooks(store: store, channels: channels, appID: appID)
            let body = try await webhooks.resolved(room, actor: actor, resolver: resolver, notes: notes)
            try await store.enqueueWebhook(
                roomID: room.id, target: .resolved, action: AdapterAction(name: "resolved", parameters: ["body": try QiscusWebhooks.json(body)]))
            await domain.publish(.webhookQueued)
        }
        return resolved
    }

    /// Rooms changed (assigned, transferred, requeued, returned).
    func changed(_ transitions: [RoomTransition], freedCapacity: Bool) async {
        await domain.publish(.roomsChanged(transitions, freedCapacity: freedCapacity))
    }

    func changed(_ transition: RoomTransition?, freedCapacity: Bool) async {
        await changed(transition.map { [$0] } ?? [], freedCapacity: freedCapacity)
    }

    /// The room waits for an agent now: routing looks at it at once.
    func needsAgent(_ roomID: Int64) async {
        await domain.publish(.roomWaiting(roomID))
    }

    /// Who can take rooms changed: routing serves the queue again.
    func capacityChanged() async {
        await domain.publish(.capacityChanged)
    }
}
