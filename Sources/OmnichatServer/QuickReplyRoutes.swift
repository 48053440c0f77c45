import Foundation
import Hummingbird
import OmnichatCore

/// The team's saved replies ("quick replies"): every signed-in user reads
/// them to answer faster; supervisors and admins replace the list. Kept in
/// the settings table as one JSON document (`quick_replies`).
struct QuickReplyRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }

    static let key = "quick_replies"
    static let maxEntries = 200
    static let maxText = 4096

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/quick-replies") { request, _ in try await list(request) }
        v1.put("/quick-replies") { request, _ in try await replace(request) }
    }

    func stored() async throws -> [[String: String]] {
        guard let text = try await store.settings()[Self.key],
            let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: String]]
        else { return [] }
        return list
    }

    func list(_ request: Request) async throws -> Response {
        _ = try await api.auth.user(of: request)
        return JSONBody.response(["quick_replies": try await stored()])
    }

    /// `{"quick_replies": [{"shortcut": "greet", "text": "Hello! How can I help?"}, …]}` replaces the list.
    func replace(_ request: Request) async throws -> Response {
        let user = try await api.auth.user(of: request)
        guard user.role >= .supervisor else { throw APIError.forbidden("this needs the supervisor role") }
        let body = try await JSONBody.object(request)
        guard let items = body["quick_replies"] as? [Any] else {
            throw APIError.unprocessable("field 'quick_replies' must be an array of {shortcut, text}")
        }
        guard items.count <= Self.maxEntries else {
            throw APIError.unprocessable("field 'quick_replies' holds \(items.count) entries; at most \(Self.maxEntries) are allowed")
        }
        var seen: Set<String> = []
        var list: [[String: String]] = []
        for (index, item) in items.enumerated() {
            guard let object = item as? [String: Any], let shortcut = object["shortcut"] as? String, let text = object["text"] as? String
            else { throw APIError.unprocessable("quick_replies[\(index)] must have a string 'shortcut' and a string 'text'") }
            let allowed = CharacterSet.lowercaseLetters.union(.decimalDigits).union(CharacterSet(charactersIn: "-_"))
            guard (1...32).contains(shortcut.count), shortcut.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII }) else {
                throw APIError.unprocessable("quick_replies[\(index)].shortcut must be 1-32 characters of a-z, 0-9, - and _")
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, text.count <= Self.maxText else {
                throw APIError.unprocessable("quick_replies[\(index)].text must be 1-\(Self.maxText) characters")
            }
            guard seen.insert(shortcut).inserted else { throw APIError.unprocessable("quick_replies[\(index)].shortcut '\(shortcut)' is used twice") }
            list.append(["shortcut": shortcut, "text": text])
        }
        let data = try JSONSerialization.data(withJSONObject: list, options: [.sortedKeys, .withoutEscapingSlashes])
        try await store.setSettings([Self.key: String(decoding: data, as: UTF8.self)])
        await api.audit(user, "quick_replies.replace", "settings", Self.key, ["count": list.count])
        return JSONBody.response(["quick_replies": list])
    }
}
