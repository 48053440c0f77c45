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
        guard let details = try await store.contactDetails(id: id, roomLimit: Self.roomLimit) else {
            throw APIError.notFound("no contact '\(id)'")
        }
        if user.role == .agent && !details.rooms.contains(where: { $0.assignee?.id == user.id }) {
            throw APIError.forbidden("contact '\(id)' has no room assigned to you")
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
            "rooms": details.rooms.map(APIRoutes.room),
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
