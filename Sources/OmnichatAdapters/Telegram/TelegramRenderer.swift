import Foundation
import OmnichatCore

/// Turns one outbound message into Bot API calls.
struct TelegramRenderer {
    static let textLimit = 4096
    static let captionLimit = 1024
    static let maxButtons = 100
    static let callbackDataLimit = 64

    let configuration: TelegramConfiguration

    func render(_ message: OutboundMessage) -> [HTTPRequestDescription] {
        let chat: Any = Int64(message.conversationID) ?? message.conversationID
        let content = message.content
        switch content.type {
        case .image, .file, .audio, .video:
            guard let url = content.url else { return text(chat, content) }
            let (method, field) =
                switch content.type {
                case .image: ("sendPhoto", "photo")
                case .audio: ("sendAudio", "audio")
                case .video: ("sendVideo", "video")
                default: ("sendDocument", "document")
                }
            var body: [String: Any] = ["chat_id": chat, field: url]
            var overflow: String?
            if let caption = content.text, !caption.isEmpty {
                if caption.utf16.count <= Self.captionLimit {
                    body["caption"] = caption
                } else {
                    overflow = caption
                }
            }
            var calls: [HTTPRequestDescription] = []
            if let overflow {
                calls.append(.json(url: configuration.methodURL(method), object: body))
                calls += text(chat, MessageContent(type: .text, text: overflow, quickReplies: content.quickReplies))
                return calls
            }
            if let keyboard = keyboard(content.quickReplies) { body["reply_markup"] = keyboard }
            return [.json(url: configuration.methodURL(method), object: body)]
        case .sticker where content.mediaID != nil:
            return [.json(url: configuration.methodURL("sendSticker"), object: ["chat_id": chat, "sticker": content.mediaID!])]
        case .location where content.location != nil:
            let l = content.location!
            return [
                .json(
                    url: configuration.methodURL("sendLocation"),
                    object: ["chat_id": chat, "latitude": l.latitude, "longitude": l.longitude])
            ]
        default:
            return text(chat, content)
        }
    }

    /// Text (or a degraded rendering of anything else), split in order over the
    /// limit; the quick replies ride on the last part.
    private func text(_ chat: Any, _ content: MessageContent) -> [HTTPRequestDescription] {
        let parts = TextSplitter.split(Degrade.text(content), limit: Self.textLimit)
        return parts.enumerated().map { index, part in
            var body: [String: Any] = ["chat_id": chat, "text": part]
            if index == parts.count - 1, let keyboard = keyboard(content.quickReplies) { body["reply_markup"] = keyboard }
            return .json(url: configuration.methodURL("sendMessage"), object: body)
        }
    }

    /// Quick replies as an inline keyboard, one button a row.
    private func keyboard(_ replies: [QuickReply]) -> [String: Any]? {
        guard !replies.isEmpty else { return nil }
        let rows = replies.prefix(Self.maxButtons).map { reply -> [[String: String]] in
            [["text": reply.title, "callback_data": Self.truncateUTF8(reply.payload, to: Self.callbackDataLimit)]]
        }
        return ["inline_keyboard": rows]
    }

    static func truncateUTF8(_ s: String, to limit: Int) -> String {
        if s.utf8.count <= limit { return s }
        var out = ""
        for character in s {
            if out.utf8.count + String(character).utf8.count > limit { break }
            out.append(character)
        }
        return out
    }
}
