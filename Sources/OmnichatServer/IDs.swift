import Foundation
import Hummingbird
import OmnichatCore

/// Ids as the API takes them: a JSON number, a numeric string, or (deprecated,
/// for one release) the string form ids had before they became integers
/// (`rm_…`, `usr_…`), looked up in the store's map of old ids.
extension Store {
    /// The integer id `value` names, or nil when it names none of this kind.
    func resolveID(_ value: Any?, _ kind: EntityKind) async throws -> Int64? {
        switch value {
        case let text as String:
            let trimmed = text.trimmingHTTPWhitespace()
            if let id = Int64(id: trimmed) { return id }
            if trimmed.hasPrefix(kind.legacyPrefix) { return try await legacyID(kind: kind, oldID: trimmed) }
            return nil
        case let number as NSNumber:
            guard let int = JSONBody.int(number), int > 0, int < (1 << 53) else { return nil }
            return Int64(int)
        default:
            return nil
        }
    }

    /// A path parameter's id, or 404 naming what was asked for.
    func pathID(_ context: some RequestContext, _ name: String, _ kind: EntityKind) async throws -> Int64 {
        let raw = try context.parameters.require(name)
        guard let id = try await resolveID(raw, kind) else { throw APIError.notFound("no \(kind.noun) '\(raw)'") }
        return id
    }

    /// A body field's id: nil when absent; 422 when it is not an id (or an old
    /// string id that names nothing). Whether an integer id names anything is
    /// the caller's lookup.
    func bodyID(_ body: [String: Any], _ key: String, _ kind: EntityKind) async throws -> Int64? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        if let id = try await resolveID(value, kind) { return id }
        if let text = value as? String, text.hasPrefix(kind.legacyPrefix) {
            throw APIError.unprocessable("'\(key)' names no \(kind.noun) ('\(text)')")
        }
        throw APIError.unprocessable("'\(key)' must be a \(kind.noun) id (a positive integer)")
    }

    /// A list of ids in a body field (`[1, "2"]`); 422 naming the first that is not one.
    func bodyIDs(_ body: [String: Any], _ key: String, _ kind: EntityKind) async throws -> [Int64]? {
        guard let value = body[key], !(value is NSNull) else { return nil }
        guard let list = value as? [Any] else { throw APIError.unprocessable("'\(key)' must be a list of \(kind.noun) ids") }
        var out: [Int64] = []
        for item in list {
            guard let id = try await resolveID(item, kind) else {
                throw APIError.unprocessable("'\(key)' has '\(item)', which is not a \(kind.noun) id")
            }
            out.append(id)
        }
        return out
    }
}

extension EntityKind {
    var noun: String {
        switch self {
        case .user: "user"
        case .contact: "contact"
        case .room: "room"
        case .division: "division"
        case .key: "API key"
        case .message: "message"
        case .note: "note"
        }
    }
}
