import Foundation
import Hummingbird
import OmnichatCore

/// The customer panel's routes: who the customer is, their other contacts and conversations.
extension ContactRoutes {
    /// The most rooms the panel lists (this contact's and the linked ones', newest first).
    static let roomLimit = 50

    func details(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let user = try await api.auth.user(of: request)
        let id = try await contactID(context)
        guard var details = try await store.contactDetails(id: id, roomLimit: Self.roomLimit) else {
            throw APIError.notFound("no contact '\(id)'")
        }
        if user.role == .agent {
            guard try await store.contactHasRoom(id, assignedTo: user.id) else {
                throw APIError.forbidden("contact '\(id)' has no room assigned to you")
            }
            // An agent sees the customer on the channels they serve, and colleagues by name only.
            details.linked = details.linked.filter { user.serves(channel: $0.channelID) }
            details.rooms = details.rooms.filter { user.serves(channel: $0.channelID) }
        }
        let contact = details.contact
        let extras = contact.extras.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } ?? [String: Any]()
        var body = Self.summary(contact)
        body["email"] = JSONBody.null(contact.email)
        body["avatar_url"] = JSONBody.null(contact.avatarURL)
        body["extras"] = extras
        body["created_at"] = details.createdAt.iso8601
        body["properties"] = details.properties.map { ["key": $0.key, "value": $0.value] }
        return JSONBody.response([
            "contact": body,
            "linked": details.linked.map(Self.summary),
            "rooms": details.rooms.map { room -> [String: Any] in
                var json = APIRoutes.room(room)
                if user.role == .agent, let assignee = room.assignee { json["assignee"] = ["id": assignee.id, "name": assignee.name] }
                return json
            },
        ])
    }

    static func summary(_ c: Contact) -> [String: Any] {
        [
            "id": c.id, "channel": c.channelID, "external_id": c.externalID, "name": JSONBody.null(c.displayName),
            "username": JSONBody.null(c.username),
        ]
    }

    /// `{"contact_id"}`: the other contact is the same person as this one (with
    /// whoever either is already merged with). Supervisors and admins.
    func merge(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await api.staff(request, .supervisor)
        let id = try await contactID(context)
        let body = try await JSONBody.object(request)
        guard let other = try await store.bodyID(body, "contact_id", .contact) else {
            throw APIError.unprocessable("'contact_id' is required: the contact to merge with this one")
        }
        let members = try await store.mergeContacts(id, with: other)
        await api.audit(actor, "contact.merge", "contact", id, ["contact_id": other, "contacts": members])
        return JSONBody.response(["contact_id": id, "contacts": members])
    }

    /// Takes the contact out of the person it was merged into. Supervisors and admins.
    func unmerge(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let actor = try await api.staff(request, .supervisor)
        let id = try await contactID(context)
        try await store.unmergeContact(id)
        await api.audit(actor, "contact.unmerge", "contact", id)
        return JSONBody.response(["contact_id": id, "contacts": [id]])
    }
}
