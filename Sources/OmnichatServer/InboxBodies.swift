import Foundation
import OmnichatCore

/// The inbox routes' bodies: a room's history, the tab counts, internal notes
/// (`docs/openapi.yaml`: `/api/v1/rooms/{room_id}/history`,
/// `/api/v1/inbox/counts`, `/api/v1/rooms/{room_id}/notes`).
enum InboxBody {
    /// A user named in a body: id, and the name when the user still exists.
    struct Person: Encodable, Sendable {
        var id: Int64
        @Nullable var name: String?
    }

    /// One line of a room's history: a change of status, or a network's notice.
    struct Event: Encodable, Sendable {
        var kind: String
        @Nullable var fromStatus: String? = nil
        @Nullable var toStatus: String? = nil
        @Nullable var assignee: Person? = nil
        var actor: String
        @Nullable var actorName: String? = nil
        @Nullable var divisionId: Int64? = nil
        var at: String
        /// Notices only: whom it concerns (null when the network does not say).
        var name: Nullable<String>? = nil

        /// A change of status; `names` has the users' names by id.
        init(_ t: RoomTransition, names: [Int64: String]) {
            switch (t.from, t.to) {
            case (nil, _): kind = "opened"
            case (.resolved?, _): kind = "reopened"
            case (_, .resolved): kind = "resolved"
            case (.assigned?, .assigned): kind = "transferred"
            case (_, .assigned): kind = "assigned"
            case (.bot?, .waiting): kind = "handover"
            case (_, .waiting): kind = "queued"
            case (_, .bot): kind = "bot"
            }
            fromStatus = t.from?.rawValue
            toStatus = t.to.rawValue
            assignee = t.assigneeID.map { Person(id: $0, name: names[$0]) }
            actor = t.actor
            actorName = Int64(t.actor).flatMap { names[$0] }
            divisionId = t.divisionID
            at = t.at.iso8601
        }

        /// What the network told that is not a message; the customer's doing.
        init(_ n: RoomNotice) {
            kind = n.kind
            actor = "customer"
            at = n.at.iso8601
            name = Nullable(wrappedValue: n.name)
        }
    }

    struct History: Encodable, Sendable {
        var events: [Event]
    }

    /// The tabs' counts; `waiting` and `all` for supervisors and admins only.
    struct Counts: Encodable, Sendable {
        struct Tabs: Encodable, Sendable {
            var mine: Int
            var unanswered: Int
            var resolved: Int
            var waiting: Int?
            var all: Int?
        }

        var counts: Tabs
        var cap: Int
    }

    struct Note: Encodable, Sendable {
        var id: Int64
        var roomId: Int64
        var author: Person
        var text: String
        var createdAt: String

        init(_ n: RoomNote) {
            id = n.id
            roomId = n.roomID
            author = Person(id: n.authorID, name: n.authorName)
            text = n.text
            createdAt = n.createdAt.iso8601
        }
    }

    struct Notes: Encodable, Sendable {
        var notes: [Note]
        @Nullable var nextCursor: String?
    }

    struct Created: Encodable, Sendable {
        var note: Note
    }
}
