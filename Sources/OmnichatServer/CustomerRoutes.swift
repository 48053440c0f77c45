import Foundation
import Hummingbird
import OmnichatCore

/// A room's customer: their properties (the hosted product's "additional
/// info"), kept per contact, so every room of that contact shows them.
struct CustomerRoutes: Sendable {
    let api: APIRoutes
    let avatars: CustomerAvatars
    var store: any Store { api.store }

    static let maxProperties = 50
    static let maxKeyLength = 64
    static let maxValueLength = 1000

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/rooms/:room_id/customer_properties") { request, context in try await get(request, context) }
        v1.put("/rooms/:room_id/customer_properties") { request, context in try await put(request, context) }
        v1.get("/rooms/:room_id/customer_avatar") { request, context in try await avatar(request, context) }
    }

    /// The customer's profile picture: a redirect to the address the customer
    /// came with or the network gave, or, for a picture only the channel's
    /// credentials can fetch (Telegram), the image itself. 404 when there is none.
    func avatar(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (_, room) = try await api.accessibleRoom(request, context)
        // `?proxy=true`: the bytes instead of a redirect (the console, whose
        // content policy loads images from its own origin only).
        let proxy = ["true", "1"].contains(APIRoutes.Query(request)["proxy"] ?? "")
        var picture: CustomerAvatars.Picture
        if let url = room.contact.avatarURL, !url.isEmpty, !avatars.isOwn(url) {
            picture = .redirect(url)
        } else {
            do {
                picture = try await avatars.picture(for: room)
            } catch {
                throw APIError(.badGateway, "media_unavailable", "could not ask the network for the customer's picture: \(error)")
            }
        }
        if proxy, case .redirect(let url) = picture {
            guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw APIError.notFound("the customer's picture is not at an http(s) address")
            }
            // A picture URL from outside: fetched as the channel fetches such URLs.
            picture = .file(api.channels.adapter(for: room.channelID)?.remoteFetch(url: url) ?? MediaFetch.remote(url))
        }
        switch picture {
        case .redirect(let url):
            return Response(status: .found, headers: [.location: url, .cacheControl: "private, max-age=300"])
        case .file(let fetch):
            let response = try await api.fetch(fetch, what: "the customer's picture")
            let type = response.header("Content-Type") ?? "image/jpeg"
            return Response(
                status: .ok, headers: APIRoutes.mediaHeaders(type: type, fileName: nil),
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
        case .none:
            throw APIError.notFound("the customer of room '\(room.id)' has no profile picture the channel can see")
        }
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
