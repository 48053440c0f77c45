import Foundation
import OmnichatCore

/// Turns one outbound message into Cloud API `messages` calls.
struct WhatsAppRenderer {
    static let textLimit = 4096
    static let captionLimit = 1024
    static let interactiveBodyLimit = 1024
    static let maxButtons = 3
    static let maxListRows = 10
    static let buttonTitleLimit = 20
    static let buttonIDLimit = 256
    static let rowTitleLimit = 24
    static let rowIDLimit = 200
    static let rowDescriptionLimit = 72
    /// The label of the button that opens a list (20 characters at most).
    static let listButtonLabel = "Options"

    let configuration: WhatsAppConfiguration

    func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        let recipient = Self.recipient(message.conversationID)
        if Self.windowClosed(message) {
            guard let template = configuration.templateName else {
                throw RenderError(
                    "the 24-hour customer-service window is closed (\(MetaMessagingWindow.lastWrote(message))); "
                        + "configure template_name to reopen it")
            }
            let body: [String: Any] = recipient.merging([
                "messaging_product": "whatsapp", "type": "template",
                "template": ["name": template, "language": ["code": configuration.templateLanguage]],
            ]) { a, _ in a }
            return [call(body)]
        }

        let content = message.content
        var parts: [[String: Any]] = []
        var replies = content.quickReplies
        // Text still to send after the first parts (a caption that did not fit, say).
        var remaining: String

        if let url = content.url, let type = Self.mediaType(content.type) {
            var media: [String: Any] = ["link": url]
            if content.type == .file, let name = content.fileName, !name.isEmpty { media["filename"] = name }
            let caption = content.text ?? ""
            // A caption rides on the media unless it is too long, the type takes none
            // (audio), or buttons follow (it then becomes their body).
            if !caption.isEmpty, content.type != .audio, caption.utf16.count <= Self.captionLimit, replies.isEmpty {
                media["caption"] = caption
                remaining = ""
            } else {
                remaining = caption
            }
            parts.append(["type": type, type: media])
        } else if content.type == .location, let l = content.location {
            var location: [String: Any] = ["latitude": l.latitude, "longitude": l.longitude]
            if let title = l.title { location["name"] = title }
            if let address = l.address { location["address"] = address }
            parts.append(["type": "location", "location": location])
            remaining = content.text ?? ""
        } else if content.type == .contact, let card = content.contact {
            let name = card.name ?? card.phoneNumber
            parts.append([
                "type": "contacts",
                "contacts": [["name": ["formatted_name": name, "first_name": name], "phones": [["phone": card.phoneNumber]]]],
            ])
            remaining = content.text ?? ""
        } else {
            remaining = Degrade.text(content)
        }

        (remaining, replies) = Degrade.buttons(remaining, replies, limit: Self.maxListRows)
        if replies.isEmpty {
            if !remaining.isEmpty { parts += TextSplitter.split(remaining, limit: Self.textLimit).map(Self.text) }
        } else {
            // Buttons need a body of at most 1024 characters: the text's last part, split again.
            var texts = TextSplitter.split(remaining.isEmpty ? Degrade.numberedList(replies) : remaining, limit: Self.textLimit)
            var tail = TextSplitter.split(texts.removeLast(), limit: Self.interactiveBodyLimit)
            let body = tail.removeLast()
            parts += (texts + tail).map(Self.text)
            parts.append(Self.interactive(body, replies))
        }
        return parts.map { part in
            call(recipient.merging(["messaging_product": "whatsapp", "recipient_type": "individual"]) { a, _ in a }
                .merging(part) { a, _ in a })
        }
    }

    private func call(_ body: [String: Any]) -> HTTPRequestDescription {
        .json(url: configuration.messagesURL, object: body, headers: [configuration.authorization])
    }

    /// Closed when the customer last wrote more than 24 hours ago, or never (as far as we know).
    static func windowClosed(_ message: OutboundMessage) -> Bool {
        guard let age = MetaMessagingWindow.age(message) else { return true }
        return age > MetaMessagingWindow.day
    }

    /// `to` for a phone number; `recipient` for a business-scoped user id (`US.1349…`),
    /// which users with a username have instead of a number.
    static func recipient(_ conversationID: String) -> [String: Any] {
        conversationID.contains(".") ? ["recipient": conversationID] : ["to": conversationID]
    }

    static func mediaType(_ type: MessageType) -> String? {
        switch type {
        case .image: "image"
        case .video: "video"
        case .audio: "audio"
        case .file: "document"
        default: nil
        }
    }

    static func text(_ body: String) -> [String: Any] {
        ["type": "text", "text": ["body": body, "preview_url": false]]
    }

    /// Up to 3 replies as reply buttons, up to 10 as a one-section list.
    static func interactive(_ body: String, _ replies: [QuickReply]) -> [String: Any] {
        func id(_ reply: QuickReply, _ limit: Int) -> String {
            String((reply.payload.isEmpty ? reply.title : reply.payload).prefix(limit))
        }
        if replies.count <= maxButtons {
            let buttons = replies.map { reply -> [String: Any] in
                ["type": "reply", "reply": ["id": id(reply, buttonIDLimit), "title": Degrade.truncate(reply.title, buttonTitleLimit)]]
            }
            return ["type": "interactive", "interactive": ["type": "button", "body": ["text": body], "action": ["buttons": buttons]]]
        }
        let rows = replies.map { reply -> [String: Any] in
            var row: [String: Any] = ["id": id(reply, rowIDLimit), "title": Degrade.truncate(reply.title, rowTitleLimit)]
            // A title cut short is shown whole (as far as it fits) underneath.
            if reply.title.count > rowTitleLimit { row["description"] = Degrade.truncate(reply.title, rowDescriptionLimit) }
            return row
        }
        return [
            "type": "interactive",
            "interactive": [
                "type": "list", "body": ["text": body],
                "action": ["button": listButtonLabel, "sections": [["rows": rows]]],
            ],
        ]
    }
}
