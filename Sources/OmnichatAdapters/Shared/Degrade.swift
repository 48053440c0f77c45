import Foundation
import OmnichatCore

/// The one way every adapter degrades what its network cannot render:
/// media it cannot send becomes a link, a location a map link, a contact a
/// line of text, buttons beyond the network's limit (or on a network without
/// buttons) a numbered list. Nothing is dropped.
public enum Degrade {
    /// A message's content as plain text.
    public static func text(_ content: MessageContent) -> String {
        var lines: [String] = []
        if let text = content.text, !text.isEmpty { lines.append(text) }
        if let url = content.url {
            lines.append(content.fileName.map { "\($0): \(url)" } ?? url)
        }
        if let l = content.location {
            let label = [l.title, l.address].compactMap { $0 }.joined(separator: ", ")
            if !label.isEmpty { lines.append(label) }
            lines.append("https://maps.google.com/?q=\(l.latitude),\(l.longitude)")
        }
        if let c = content.contact { lines.append([c.name, c.phoneNumber].compactMap { $0 }.joined(separator: " ")) }
        let joined = lines.filter { !$0.isEmpty }.joined(separator: "\n")
        return joined.isEmpty ? "(\(content.type.rawValue))" : joined
    }

    /// Buttons as a numbered list under the text ("1. Yes").
    public static func numberedList(_ replies: [QuickReply]) -> String {
        replies.enumerated().map { "\($0.offset + 1). \($0.element.title)" }.joined(separator: "\n")
    }

    /// Text with the buttons that do not fit appended as a numbered list; returns
    /// the buttons that do fit (all of them when within `limit`, none when over it,
    /// so the customer sees one consistent list).
    public static func buttons(_ text: String, _ replies: [QuickReply], limit: Int) -> (text: String, buttons: [QuickReply]) {
        if replies.count <= limit { return (text, replies) }
        let list = numberedList(replies)
        return (text.isEmpty ? list : text + "\n\n" + list, [])
    }

    /// Cuts `s` to at most `limit` characters, ending with "…" when cut.
    public static func truncate(_ s: String, _ limit: Int) -> String {
        s.count <= limit ? s : String(s.prefix(max(0, limit - 1))) + "…"
    }
}

/// HMAC-SHA256 signatures as the networks write them.
enum Signature {
    static func hex(_ key: String, _ data: Data) -> String
    {
        Hex.encode(HMACSHA256.mac(key: Data(key.utf8), data: data))
    }

    static func base64(_ key: String, _ data: Data) -> String {
        Data(HMACSHA256.mac(key: Data(key.utf8), data: data)).base64EncodedString()
    }
}
