import Foundation
import OmnichatCore

/// Replies out: an agent's or a bot's message stored with its outbox row, and
/// a failed reply sent again.
struct ReplyService: Sendable {
    let store: any ConversationPort & OutboxPort
    let domain: DomainEvents

    /// Stores the reply for delivery and publishes it.
    func send(_ content: MessageContent, in room: Room, user: Int64?, key: APIKey?) async throws -> StoredMessage {
        let message = try await store.addOutbound(roomID: room.id, content: content, senderUserID: user, senderKeyID: key?.id)
        await domain.publish(.replyQueued(message, channelID: room.channelID))
        return message
    }

    /// Puts a failed reply back in the outbox; false when it has no failed delivery.
    func retry(messageID: Int64, roomID: Int64) async throws -> Bool {
        guard try await store.retryDelivery(messageID: messageID) else { return false }
        await domain.publish(.deliveryRetried(roomID: roomID, messageID: messageID))
        return true
    }
}
