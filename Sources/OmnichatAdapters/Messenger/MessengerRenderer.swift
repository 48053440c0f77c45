import Foundation
import OmnichatCore

/// Turns one outbound message into Send API calls.
struct MessengerRenderer {
    static let textLimit = 2000
    static let maxQuickReplies = 13
    static let quickReplyTitleLimit = 20
    static let quickReplyPayloadLimit = 1000
    /// How long after the customer's last message the `HUMAN_AGENT` tag may be used.
    static let humanAgentWindow: TimeInterval = 7 * MetaMessagingWindow.day

    let configuration: MessengerConfiguration

    func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        let (messagingType, tag) = try messagingType(message)
        let content = message.content
        var messages: [[String: Any]] = []

        let caption: String
        if let url = content.url, let type = Self.attachmentType(content.type) {
            messages.append(["attachment": ["type": type, "payload": ["url": url, "is_reusable": true]]])
            caption = content.text ?? ""  // Messenger attachments carry no caption: it follows as text.
        } else {
            caption = Degrade.text(content)
        }
        let (text, replies) = Degrade.buttons(caption, content.quickReplies, limit: Self.maxQuickReplies)
        if !text.isEmpty {
            messages += TextSplitter.split(text, limit: Self.textLimit).map { ["text": $0] }
        }
        if !replies.isEmpty, !messages.isEmpty {
            messages[messages.count - 1]["quick_replies"] = replies.map(Self.quickReply)
        }
        return messages.map { body in
            var object: [String: Any] = [
                "recipient": ["id": message.conversationID], "messaging_type": messagingType, "message": body,
            ]
            if let tag { object["tag"] = tag }
            return .json(url: configuration.sendURL, object: object)
        }
    }

    /// `RESPONSE` within 24 hours of the customer's last message; after it, the
    /// `HUMAN_AGENT` tag for up to 7 days when enabled; otherwise nothing may be sent.
    /// Without a known last message, `RESPONSE` is sent and Meta decides.
    func messagingType(_ message: OutboundMessage) throws(RenderError) -> (String, String?) {
        guard let age = MetaMessagingWindow.age(message), age > MetaMessagingWindow.day else { return ("RESPONSE", nil) }
        guard configuration.humanAgentTag else {
            throw RenderError(
                "the 24-hour messaging window is closed (\(MetaMessagingWindow.lastWrote(message))); "
                    + "Messenger accepts a reply after it only with human_agent_tag = true, or once the customer writes again")
        }
        guard age <= Self.humanAgentWindow else {
            throw RenderError(
                "the 7-day human agent window is closed (\(MetaMessagingWindow.lastWrote(message))); "
                    + "Messenger accepts no reply until the customer writes again")
        }
        return ("MESSAGE_TAG", "HUMAN_AGENT")
    }

    static func attachmentType(_ type: MessageType) -> String? {
        switch type {
        case .image: "image"
        case .audio: "audio"
        case .video: "video"
        case .file: "file"
        default: nil
        }
    }

    static func quickReply(_ reply: QuickReply) -> [String: String] {
        let payload = reply.payload.isEmpty ? reply.title : reply.payload
        return [
            "content_type": "text",
            "title": Degrade.truncate(reply.title, quickReplyTitleLimit),
            "payload": String(payload.prefix(quickReplyPayloadLimit)),
        ]
    }
}
