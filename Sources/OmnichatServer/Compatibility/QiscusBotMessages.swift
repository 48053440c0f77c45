import Foundation
import OmnichatCore

/// The hosted product's bot message types (`POST /{app_id}/bot` with `type`
/// and `payload`), turned into our messages. Each network renders them as
/// well as it can (buttons become quick replies or a numbered list, a card an
/// image with its text); a carousel is one message per card, in order.
///
/// - `text`: `message`.
/// - `buttons`: `payload.text` (or `message`) and `payload.buttons[]`
///   (`label`, `type` `postback` | `link`, `payload.payload` | `payload.url`).
/// - `card`: `payload.title`, `description`, `text`, `image`, `url`, `buttons`.
/// - `carousel`: `payload.cards[]`, each a card.
/// - `file_attachment`: `payload.url`, `caption`, `file_name`.
/// - `location`: `payload.latitude`, `longitude`, `name`, `address`.
/// - `custom`: `message` as text (the payload is the bot's own).
enum QiscusBotMessages {
    static let types = ["text", "buttons", "card", "carousel", "file_attachment", "location", "custom"]
    static let maxButtons = 10
    static let maxCards = 10

    static func contents(type: String, message: String?, payload raw: (any Sendable)?) throws -> [MessageContent] {
        let payload = try object(raw)
        switch type {
        case "text", "custom":
            guard let message, !message.isEmpty else { throw APIError.unprocessable("'message' is required for type \(type)") }
            return [.text(message)]
        case "buttons":
            let text = string(payload["text"]) ?? message
            guard let text, !text.isEmpty else { throw APIError.unprocessable("'payload.text' (or 'message') is required for type buttons") }
            let (replies, links) = try buttons(payload["buttons"], field: "payload.buttons")
            guard !replies.isEmpty || !links.isEmpty else { throw APIError.unprocessable("'payload.buttons' must list at least one button") }
            return [.text(([text] + links).joined(separator: "\n"), quickReplies: replies)]
        case "card":
            return [try card(payload, field: "payload", fallback: message)]
        case "carousel":
            guard let cards = payload["cards"] as? [any Sendable], !cards.isEmpty else {
                throw APIError.unprocessable("'payload.cards' must list at least one card")
            }
            guard cards.count <= maxCards else { throw APIError.unprocessable("'payload.cards' has more than \(maxCards) cards") }
            return try cards.enumerated().map { index, item in
                try card(try object(item, field: "payload.cards[\(index)]"), field: "payload.cards[\(index)]", fallback: nil)
            }
        case "file_attachment":
            let url = try link(payload["url"], field: "payload.url", required: true)!
            let name = string(payload["file_name"]) ?? URL(string: url)?.lastPathComponent
            let caption = string(payload["caption"]) ?? message
            let image = ["jpg", "jpeg", "png", "gif", "webp"].contains((name as NSString?)?.pathExtension.lowercased() ?? "")
            return [MessageContent(type: image ? .image : .file, text: caption, url: url, fileName: name)]
        case "location":
            guard let latitude = number(payload["latitude"]), (-90...90).contains(latitude),
                let longitude = number(payload["longitude"]), (-180...180).contains(longitude)
            else { throw APIError.unprocessable("'payload.latitude' and 'payload.longitude' are required numbers (degrees)") }
            return [
                MessageContent(
                    type: .location, location: GeoLocation(latitude: latitude, longitude: longitude, title: string(payload["name"]), address: string(payload["address"])))
            ]
        default:
            throw APIError.unprocessable("'type' must be one of: \(types.joined(separator: ", ")) (got '\(type)')")
        }
    }

    /// A card: its image with the title, description and text as the caption, its buttons as quick replies.
    static func card(_ card: [String: any Sendable], field: String, fallback: String?) throws -> MessageContent {
        let lines = [string(card["title"]), string(card["description"]), string(card["text"]) ?? fallback].compactMap { $0 }
        let (replies, links) = try buttons(card["buttons"], field: "\(field).buttons")
        var text = (lines + links).joined(separator: "\n")
        if let url = try link(card["url"], field: "\(field).url", required: false) { text += (text.isEmpty ? "" : "\n") + url }
        if let image = try link(card["image"], field: "\(field).image", required: false) {
            return MessageContent(type: .image, text: text.isEmpty ? nil : text, url: image, quickReplies: replies)
        }
        guard !text.isEmpty else { throw APIError.unprocessable("'\(field)' needs a title, a description, a text or an image") }
        return .text(text, quickReplies: replies)
    }

    /// Postback buttons as quick replies; link buttons as "label: url" lines.
    static func buttons(_ raw: (any Sendable)?, field: String) throws -> ([QuickReply], [String]) {
        guard let raw else { return ([], []) }
        guard let list = raw as? [any Sendable] else { throw APIError.unprocessable("'\(field)' must be a list") }
        guard list.count <= maxButtons else { throw APIError.unprocessable("'\(field)' has more than \(maxButtons) buttons") }
        var replies: [QuickReply] = [], links: [String] = []
        for (index, item) in list.enumerated() {
            let button = try object(item, field: "\(field)[\(index)]")
            guard let label = string(button["label"]), !label.isEmpty else { throw APIError.unprocessable("'\(field)[\(index)].label' is required") }
            let inner = (button["payload"] as? [String: any Sendable]) ?? [:]
            if string(button["type"]) == "link" {
                let url = try link(inner["url"] ?? button["url"], field: "\(field)[\(index)].payload.url", required: true)!
                links.append("\(label): \(url)")
            } else {
                replies.append(QuickReply(title: label, payload: string(inner["payload"]) ?? string(button["postback_text"]) ?? label))
            }
        }
        return (replies, links)
    }

    static func object(_ raw: (any Sendable)?, field: String = "payload") throws -> [String: any Sendable] {
        switch raw {
        case nil: return [:]
        case let object as [String: any Sendable]: return object
        case let text as String where text.isEmpty: return [:]
        case let text as String:
            // A form body carries the payload as JSON text.
            guard let parsed = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                throw APIError.unprocessable("'\(field)' must be a JSON object")
            }
            return parsed.mapValues(QiscusInput.sendable)
        default: throw APIError.unprocessable("'\(field)' must be an object")
        }
    }

    static func link(_ raw: (any Sendable)?, field: String, required: Bool) throws -> String? {
        guard let url = string(raw), !url.isEmpty else {
            if required { throw APIError.unprocessable("'\(field)' is required") }
            return nil
        }
        guard url.count <= 2048, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil else {
            throw APIError.unprocessable("'\(field)' must be an http(s) URL")
        }
        return url
    }

    static func string(_ raw: (any Sendable)?) -> String? {
        switch raw {
        case let text as String: return text.isEmpty ? nil : text
        case let number as NSNumber: return number.stringValue
        default: return nil
        }
    }

    static func number(_ raw: (any Sendable)?) -> Double? {
        switch raw {
        case let number as NSNumber: return number.doubleValue
        case let text as String: return Double(text)
        default: return nil
        }
    }
}
