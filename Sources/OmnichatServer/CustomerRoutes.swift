import Foundation
import Hummingbird
import OmnichatCore

/// A room's customer: their properties (the hosted product's "additional
/// info"), kept per contact, so every room of that contact shows them.
struct CustomerRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }

    static let maxProperties = 50
    static let maxKeyLength = 64
    static let maxValueLength = 1000

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/rooms/:room_id/customer_properties") { request, context in try await get(request, context) }
        v1.put("/rooms/:room_id/customer_properties") { request, context in try await put(request, context) }
    }

    /// → `{"properties": [{"key", "value"}]}` by key.
    func get(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (_, room) = try await api.accessibleRoom(request, context)
        let properties = try await store.customerProperties(contactID: room.contact.id)
        return JSONBody.response(["properties": Qiscus.additionalInfo(properties)])
    }

    /// `{"properties": [{"key", "value"}]}` replaces the customer's properties.
    func put(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (user, room) = try await api.accessibleRoom(request, context)
        let body = try await JSONBody.object(request)
        guard let list = body["properties"] as? [Any] else {
            throw APIError.unprocessable("'properties' is required and must be a list of {\"key\", \"value\"}")
        }
        let properties = try Self.properties(list, field: "properties")
        let saved = try await store.setCustomerProperties(contactID: room.contact.id, properties, replace: true)
        await api.audit(user, "customer.properties", "contact", room.contact.id, ["keys": saved.map(\.key)])
        return JSONBody.response(["properties": Qiscus.additionalInfo(saved)])
    }

    /// `[{"key", "value"}]` checked: keys 1-64 characters and distinct, values
    /// strings (numbers and booleans as text) of at most 1,000 characters, 50 at most.
    static func properties(_ list: [Any], field: String) throws -> [CustomerProperty] {
        guard list.count <= maxProperties else { throw APIError.unprocessable("'\(field)' has more than \(maxProperties) properties") }
        var out: [CustomerProperty] = []
        for (index, item) in list.enumerated() {
            guard let object = item as? [String: Any] else { throw APIError.unprocessable("'\(field)[\(index)]' must be {\"key\", \"value\"}") }
            guard let key = (object["key"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), (1...maxKeyLength).contains(key.count),
                !key.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
            else { throw APIError.unprocessable("'\(field)[\(index)].key' must be 1-\(maxKeyLength) characters without control characters") }
            let value: String
            switch object["value"] {
            case let text as String: value = text
            case let number as NSNumber: value = JSONBody.isBool(number) ? (number.boolValue ? "true" : "false") : number.stringValue
            case nil, is NSNull: value = ""
            default: throw APIError.unprocessable("'\(field)[\(index)].value' must be a string")
            }
            guard value.count <= maxValueLength else {
                throw APIError.unprocessable("'\(field)[\(index)].value' is longer than \(maxValueLength) characters")
            }
            guard !out.contains(where: { $0.key == key }) else { throw APIError.unprocessable("'\(field)' names '\(key)' twice") }
            out.append(CustomerProperty(key: key, value: value))
        }
        return out
    }
}
