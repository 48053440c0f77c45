import Foundation
import OmnichatCore
import OmnichatDelivery

/// Who reacts to which domain event: the whole list of what follows a commit,
/// in one place.
enum Consequences {
    static func wire(
        _ domain: DomainEvents, bus: EventBus, live: LiveEvents, metrics: ServerMetrics, queue: WorkQueue, outbox: OutboxWorker
    ) {
        // Metrics of what webhooks brought.
        domain.subscribe { event in
            guard case .ingested(let channelID, let result, _) = event else { return }
            metrics.webhook(channel: channelID, outcome: result.stored == 0 && result.duplicates > 0 ? "duplicate" : "accepted")
            metrics.events(channel: channelID, stored: result.stored, duplicates: result.duplicates)
        }
        // Room state changes go to the bus: live streams, profile pictures and
        // the new-session webhook follow it.
        domain.subscribe { event in
            if case .roomsChanged(let transitions, _) = event { bus.publish(transitions) }
            if case .ingested(_, let result, _) = event { bus.publish(result.transitions) }
        }
        // Live events: customer messages, replies, receipts, presence.
        domain.subscribe { event in
            switch event {
            case .ingested(let channelID, let result, _):
                for message in result.messages { await live.message(message, channelID: channelID) }
                for notice in result.notices { await live.notice(notice) }
                for update in result.deliveries {
                    await live.delivery(
                        roomID: update.roomID, messageID: update.messageID, status: update.status, attempts: update.attempts, error: update.error)
                }
            case .replyQueued(let message, let channelID):
                await live.message(message, channelID: channelID)
            case .deliveryRetried(let roomID, let messageID):
                await live.delivery(roomID: roomID, messageID: messageID, status: .pending, attempts: 0, error: nil)
            case .agentStatusChanged(let user):
                live.agentStatus(user)
            default:
                break
            }
        }
        // Routing: rooms that need an agent, and a rescan when capacity frees up.
        domain.subscribe { event in
            switch event {
            case .ingested(_, let result, _):
                for room in result.roomIDs { queue.offer(.room(room)) }
                metrics.setQueueDepth(queue.depth)
            case .roomsChanged(_, let freed):
                if freed { queue.offer(.rescan) }
            case .roomWaiting(let id):
                queue.offer(.room(id))
            case .capacityChanged:
                queue.offer(.rescan)
            default:
                break
            }
        }
        // The outbox worker looks now rather than at its next poll.
        domain.subscribe { event in
            switch event {
            case .ingested(_, let result, let wakes):
                if wakes && result.stored > 0 { outbox.wake() }
            case .replyQueued, .deliveryRetried, .webhookQueued:
                outbox.wake()
            default:
                break
            }
        }
    }
}
