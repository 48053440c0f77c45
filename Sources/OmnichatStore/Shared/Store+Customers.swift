import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

// Customers' properties (both engines).
extension EngineStore {
    public func customerProperties(contactID: Int64) async throws -> [CustomerProperty] {
        try await pool.read { db in try Self.properties(db, contactID: contactID) }
    }

    public func setCustomerProperties(contactID: Int64, _ properties: [CustomerProperty], replace: Bool) async throws -> [CustomerProperty] {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM contacts WHERE id = ?"), arguments: [contactID]) != nil else {
                throw StoreError(.notFound, "no contact \(contactID)")
            }
            if replace {
                try db.cachedStatement(sql: "DELETE FROM contact_properties WHERE contact_id = ?").execute(arguments: [contactID])
            }
            for property in properties {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO contact_properties (contact_id, key, value, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (contact_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                        """
                ).execute(arguments: [contactID, property.key, property.value, now])
            }
            return try Self.properties(db, contactID: contactID)
        }
    }

    public func setContactAvatar(contactID: Int64, url: String) async throws {
        let now = Date().timeIntervalSince1970
        try await pool.write { db in
            try db.cachedStatement(sql: "UPDATE contacts SET avatar_url = ?, updated_at = ? WHERE id = ? AND (avatar_url IS NULL OR avatar_url = '')")
                .execute(arguments: [url, now, contactID])
        }
    }

    static func properties(_ db: Database, contactID: Int64) throws -> [CustomerProperty] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT key, value FROM contact_properties WHERE contact_id = ? ORDER BY key"), arguments: [contactID]
        ).map { CustomerProperty(key: $0["key"], value: $0["value"]) }
    }
}

// The compatible routes' lookups (both engines).
extension EngineStore {
    public func channelNumbers(_ channelIDs: [String]) async throws -> [String: Int64] {
        let wanted = Array(Set(channelIDs)).sorted()
        guard !wanted.isEmpty else { return [:] }
        let known = try await pool.read { db in try Self.channelNumbers(db) }
        if wanted.allSatisfy({ known[$0] != nil }) { return known.filter { wanted.contains($0.key) } }
        // Numbered in name order the first time they are asked for; another daemon may race: the upsert keeps one.
        let all = try await pool.write { db -> [String: Int64] in
            for id in wanted {
                try db.cachedStatement(sql: "INSERT INTO channel_numbers (channel_id) VALUES (?) ON CONFLICT (channel_id) DO NOTHING")
                    .execute(arguments: [id])
            }
            return try Self.channelNumbers(db)
        }
        return all.filter { wanted.contains($0.key) }
    }

    static func channelNumbers(_ db: Database) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT channel_id, number FROM channel_numbers")) {
            out[row["channel_id"]] = row["number"]
        }
        return out
    }

    public func messageRange(roomID: Int64, since: Date) async throws -> (first: Int64?, last: Int64?) {
        let row = try await pool.read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT min(id) AS first, max(id) AS last FROM messages WHERE room_id = ? AND created_at >= ?"),
                arguments: [roomID, since.timeIntervalSince1970]
            ).map { MessageRange(first: $0["first"], last: $0["last"]) }
        }
        return (row?.first, row?.last)
    }

    private struct MessageRange: Sendable {
        var first: Int64?
        var last: Int64?
    }
}
