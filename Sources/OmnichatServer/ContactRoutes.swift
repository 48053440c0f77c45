import Foundation
import Hummingbird
import OmnichatCore

/// Data-subject requests about one customer (a contact), admins only:
/// `GET /api/v1/contacts/{id}/export` gives everything stored about them as
/// JSON; `DELETE /api/v1/contacts/{id}` erases it (their rooms must be
/// resolved first), leaving counts for the reports and an audit entry that
/// names the contact's number only.
///
/// The console's customer panel reads `GET /api/v1/contacts/{id}` (staff, and
/// agents with one of the customer's rooms); supervisors merge contacts known
/// to be one person (`POST …/merge`, `{"contact_id"}`) and undo it
/// (`POST …/unmerge`), each recorded in the audit log.
struct ContactRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/contacts/:contact_id/export") { request, context in try await export(request, context) }
        v1.delete("/contacts/:contact_id") { request, context in try await erase(request, context) }
        v1.get("/contacts/:contact_id") { request, context in try await details(request, context) }
        v1.post("/contacts/:contact_id/merge") { request, context in try await merge(request, context) }
        v1.post("/contacts/:contact_id/unmerge") { request, context in try await unmerge(request, context) }
    }

    func contactID(_ context: some RequestContext) async throws -> Int64 {
        try await store.pathID(context, "contact_id", .contact)
    }

    func erase(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await api.staff(request, .admin)
        let id = try await contactID(context)
        let erased = try await store.eraseContact(id: id, now: Date())
        let counts: [String: Any] = [
            "rooms": erased.rooms, "messages": erased.messages, "notes": erased.notes, "properties": erased.properties,
        ]
        await api.audit(actor, "contact.erase", "contact", id, counts)
        return JSONBody.response(["erased": ["contact_id": id].merging(counts) { a, _ in a }])
    }

    func export(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await api.staff(request, .admin)
        let id = try await contactID(context)
        guard let data = try await store.exportContact(id: id) else { throw APIError.notFound("no contact '\(id)'") }
        let contact = data.contact
        let extras = contact.extras.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? [String: Any]()
        let body: [String: Any] = [
            "contact": [
                "id": contact.id, "channel": contact.channelID, "external_id": contact.externalID,
                "name": JSONBody.null(contact.displayName), "username": JSONBody.null(contact.username),
                "email": JSONBody.null(contact.email), "avatar_url": JSONBody.null(contact.avatarURL),
                "extras": extras, "created_at": data.createdAt.iso8601,
            ] as [String: Any],
            "properties": data.properties.map { ["key": $0.key, "value": $0.value] },
            "rooms": data.rooms.map(APIRoutes.room),
            "messages": data.messages.map(APIRoutes.message),
            "notes": data.notes.map { note in
                [
                    "id": note.id, "room_id": note.roomID, "author_id": JSONBody.null(note.authorID), "text": note.text,
                    "created_at": note.createdAt.iso8601,
                ] as [String: Any]
            },
            "exported_at": Date().iso8601,
        ]
        await api.audit(actor, "contact.export", "contact", id)
        var response = JSONBody.response(body)
        response.headers[.contentDisposition] = "attachment; filename=\"contact-\(id).json\""
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
