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

    static func properties(_ db: Database, contactID: Int64) throws -> [CustomerProperty] {
        try Row.fetchAll(
            db.cachedStatement(sql: "SELECT key, value FROM contact_properties WHERE contact_id = ? ORDER BY key"), arguments: [contactID]
        ).map { CustomerProperty(key: $0["key"], value: $0["value"]) }
    }
}
