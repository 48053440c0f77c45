import Foundation
import OmnichatCore

/// Turns one outbound message into LINE message objects, sent five to a call:
/// the first call by reply token while it is fresh, the others (and all of
/// them once the token is stale) by push with an idempotent `X-Line-Retry-Key`.
struct LINERenderer {
    static let textLimit = 5000
    static let maxQuickReplies = 13
    static let messagesPerCall = 5
    static let labelLimit = 20
    static let postbackDataLimit = 300
    static let urlLimit = 2000
    static let locationFieldLimit = 100
    /// What goes out as a LINE message of its own kind. Video (which needs a
    /// preview image), audio (which needs its duration) and files (which LINE
    /// cannot send) become links.
    static let nativeTypes: Set<MessageType> = [.text, .image, .location, .sticker]

    let configuration: LINEConfiguration

    func render(_ message: OutboundMessage) -> [HTTPRequestDescription] {
        let objects = Self.messageObjects(message.content)
        let calls = stride(from: 0, to: objects.count, by: Self.messagesPerCall).map {
            Array(objects[$0..<min($0 + Self.messagesPerCall, objects.count)])
        }
        let token = freshReplyToken(message)
        return calls.enumerated().map { index, messages in
            if index == 0, let token {
                return .json(
                    url: "\(configuration.apiBase)/v2/bot/message/reply",
                    object: ["replyToken": token, "messages": messages],
                    headers: [configuration.authorization])
            }
            return .json(
                url: "\(configuration.apiBase)/v2/bot/message/push",
                object: ["to": message.conversationID, "messages": messages],
                headers: [configuration.authorization, ("X-Line-Retry-Key", HMACSHA256.uuid(seed: "\(message.messageID)#\(index)"))])
        }
    }

    /// The room's reply token, when it was issued less than the configured lifetime ago.
    func freshReplyToken(_ message: OutboundMessage) -> String? {
        guard let context = message.replyContext, let token = context["reply_token"], !token.isEmpty,
            let issued = context["reply_token_at"].flatMap({ Int64($0) })
        else { return nil }
        let age = message.now.timeIntervalSince1970 - TimeInterval(issued) / 1000
        return age < TimeInterval(configuration.replyTokenLifetimeSeconds) ? token : nil
    }

    /// The message objects for one message, in order; the quick replies ride
    /// on the last one (or, over 13, become a numbered list in the text).
    static func messageObjects(_ content: MessageContent) -> [[String: Any]] {
        var objects: [[String: Any]] = []
        var text: String
        if content.type == .image, let url = httpsURL(content.url) {
            objects.append(["type": "image", "originalContentUrl": url, "previewImageUrl": url])
            text = content.text ?? ""
        } else if content.type == .sticker, case let (packageID, stickerID)? = sticker(content) {
            objects.append(["type": "sticker", "packageId": packageID, "stickerId": stickerID])
            text = content.text ?? ""
        } else if content.type == .location, let l = content.location {
            let title = l.title.flatMap { $0.isEmpty ? nil : $0 } ?? "Location"
            let address = l.address.flatMap { $0.isEmpty ? nil : $0 } ?? "\(l.latitude), \(l.longitude)"
            objects.append([
                "type": "location", "title": Degrade.truncate(title, locationFieldLimit),
                "address": Degrade.truncate(address, locationFieldLimit), "latitude": l.latitude, "longitude": l.longitude,
            ])
            text = content.text ?? ""
        } else {
            text = Degrade.text(content)
        }
        let (withList, buttons) = Degrade.buttons(text, content.quickReplies, limit: maxQuickReplies)
        if !withList.isEmpty {
            objects += TextSplitter.split(withList, limit: textLimit).map { ["type": "text", "text": $0] }
        }
        if !buttons.isEmpty, !objects.isEmpty {
            objects[objects.count - 1]["quickReply"] = ["items": buttons.map(quickReplyItem)]
        }
        return objects
    }

    /// A button: a postback whose data is the payload, shown in the chat as the title.
    static func quickReplyItem(_ reply: QuickReply) -> [String: Any] {
        [
            "type": "action",
            "action": [
                "type": "postback",
                "label": Degrade.truncate(reply.title, labelLimit),
                "data": String(reply.payload.prefix(postbackDataLimit)),
                "displayText": Degrade.truncate(reply.title, postbackDataLimit),
            ],
        ]
    }

    /// LINE shows only HTTPS media, at most 2000 characters of URL.
    static func httpsURL(_ url: String?) -> String? {
        guard let url, url.count <= urlLimit, let parsed = URL(string: url), parsed.scheme?.lowercased() == "https",
            parsed.host != nil
        else { return nil }
        return url
    }

    /// The `<packageId>/<stickerId>` reference inbound stickers carry in `media_id`.
    static func stickerReference(package: String, sticker: String) -> String { "\(package)/\(sticker)" }

    /// A sticker named in `media_id` (or `payload`) as `<packageId>/<stickerId>`.
    static func sticker(_ content: MessageContent) -> (String, String)? {
        for reference in [content.mediaID, content.payload].compactMap({ $0 }) {
            let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) {
                return (String(parts[0]), String(parts[1]))
            }
        }
        return nil
    }
}
