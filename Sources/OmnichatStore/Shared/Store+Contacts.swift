import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

// Customers as people: details, merges, room notices, languages (both engines).
extension EngineStore {
    static func contact(_ row: Row) -> Contact {
        Contact(
            id: row["id"], channelID: row["channel_id"], externalID: row["external_id"], displayName: row["display_name"],
            username: row["username"], avatarURL: row["avatar_url"], email: row["email"], extras: row["extras"])
    }

    public func contactDetails(id: Int64, roomLimit: Int) async throws -> ContactDetails? {
        try await pool.read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM contacts WHERE id = ?"), arguments: [id]) else { return nil }
            let person: Int64? = row["person_id"]
            let linked =
                try person.map { person in
                    try Row.fetchAll(
                        db.cachedStatement(sql: "SELECT * FROM contacts WHERE person_id = ? AND id <> ? ORDER BY id"), arguments: [person, id]
                    ).map(Self.contact)
                } ?? []
            let ids = [id] + linked.map(\.id)
            let marks = ids.map { _ in "?" }.joined(separator: ", ")
            var arguments: StatementArguments = []
            for contact in ids { arguments += [contact] }
            let rooms = try Row.fetchAll(
                db,
                sql: Self.roomSelect
                    + " WHERE rooms.contact_id IN (\(marks)) ORDER BY rooms.last_message_at DESC, rooms.id DESC LIMIT \(max(1, min(roomLimit, 500)))",
                arguments: arguments
            ).map(Rows.room)
            return ContactDetails(
                contact: Self.contact(row), createdAt: Date(timeIntervalSince1970: row["created_at"]),
                properties: try Self.properties(db, contactID: id), linked: linked, rooms: rooms)
        }
    }

    public func mergeContacts(_ id: Int64, with other: Int64) async throws -> [Int64] {
        guard id != other else { throw StoreError(.invalid, "a contact cannot be merged with itself") }
        return try await pool.write { db in
            var persons: [Int64] = []
            for contact in [id, other] {
                guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT id, person_id, external_id FROM contacts WHERE id = ?"), arguments: [contact])
                else { throw StoreError(.notFound, "no contact \(contact)") }
                guard !(row["external_id"] as String).hasPrefix("erased-") else { throw StoreError(.invalid, "contact \(contact) was erased") }
                persons.append(row["person_id"] ?? contact)
            }
            // A person is named by their first contact; every member carries the name.
            let person = persons.min() ?? id
            try db.cachedStatement(sql: "UPDATE contacts SET person_id = ? WHERE id IN (?, ?) OR person_id IN (?, ?)")
                .execute(arguments: [person, id, other, persons[0], persons[1]])
            return try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM contacts WHERE person_id = ? ORDER BY id"), arguments: [person])
        }
    }

    public func unmergeContact(_ id: Int64) async throws {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT person_id FROM contacts WHERE id = ?"), arguments: [id]) else {
                throw StoreError(.notFound, "no contact \(id)")
            }
            guard row["person_id"] as Int64? != nil else { throw StoreError(.conflict, "contact \(id) is not merged with another contact") }
            try Self.detach(db, contactID: id)
        }
    }

    /// Takes a contact out of its person (unmerge, erasure): the others stay
    /// together under their first contact's id, or alone when one is left.
    static func detach(_ db: Database, contactID id: Int64) throws {
        guard let person = try Int64.fetchOne(db.cachedStatement(sql: "SELECT person_id FROM contacts WHERE id = ?"), arguments: [id]) else {
            return
        }
        try db.cachedStatement(sql: "UPDATE contacts SET person_id = NULL WHERE id = ?").execute(arguments: [id])
        let rest = try Int64.fetchAll(db.cachedStatement(sql: "SELECT id FROM contacts WHERE person_id = ? ORDER BY id"), arguments: [person])
        if rest.count < 2 {
            try db.cachedStatement(sql: "UPDATE contacts SET person_id = NULL WHERE person_id = ?").execute(arguments: [person])
        } else if person == id {
            try db.cachedStatement(sql: "UPDATE contacts SET person_id = ? WHERE person_id = ?").execute(arguments: [rest[0], person])
        }
    }

    public func contactHasRoom(_ contactID: Int64, assignedTo userID: Int64) async throws -> Bool {
        try await pool.read { db in
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM rooms WHERE contact_id = ? AND assignee_id = ? LIMIT 1"),
                arguments: [contactID, userID]) != nil
        }
    }

    public func roomNotices(roomID: Int64) async throws -> [RoomNotice] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM room_notices WHERE room_id = ? ORDER BY id"), arguments: [roomID]).map {
                RoomNotice(roomID: $0["room_id"], kind: $0["kind"], name: $0["name"], at: Date(timeIntervalSince1970: $0["at"]))
            }
        }
    }

    public func language(userID: Int64) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT language FROM users WHERE id = ?"), arguments: [userID])
        }
    }

    public func setLanguage(userID: Int64, language: String?) async throws {
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE users SET language = ? WHERE id = ?").execute(arguments: [language, userID])
        }
    }
}
