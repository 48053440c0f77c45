import Foundation

/// Routing settings kept in the database, and the divisions rooms queue in.
public protocol SettingsPort: Sendable {
    func settings() async throws -> [String: String]
    func setSettings(_ values: [String: String]) async throws
    func divisions() async throws -> [Division]
    func createDivision(name: String) async throws -> Division
    func setDefaultDivision(id: Int64) async throws
    func renameDivision(id: Int64, name: String) async throws -> Division
    /// Deletes a division that nothing depends on: refuses (conflict) the
    /// default, one with members, or one with rooms that are not resolved.
    /// Resolved rooms forget it.
    func deleteDivision(id: Int64) async throws
}
