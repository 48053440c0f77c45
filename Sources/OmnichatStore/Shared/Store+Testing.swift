import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

/// The one door tests have into the tables: the seeders live in the
/// `OmnichatTesting` target and write through these two calls. Under
/// `@_spi(Testing)`, so no port and no production caller sees them.
extension EngineStore {
    private static func arguments(_ values: [TestingValue]) -> StatementArguments {
        var arguments: StatementArguments = []
        for value in values {
            switch value {
            case .integer(let number): arguments += [number]
            case .real(let number): arguments += [number]
            case .text(let text): arguments += [text]
            case .null: arguments += [nil]
            }
        }
        return arguments
    }

    /// Runs one statement in a write transaction; returns the first column of
    /// its first row when it returns rows (`RETURNING id`).
    @_spi(Testing)
    public func testingWrite(_ sql: String, _ values: [TestingValue]) async throws -> Int64? {
        let arguments = Self.arguments(values)
        return try await pool.write { db in try Int64.fetchOne(db, sql: sql, arguments: arguments) }
    }

    /// Reads these numeric columns of every row.
    @_spi(Testing)
    public func testingRead(_ sql: String, _ values: [TestingValue], columns: [String]) async throws -> [[Double?]] {
        let arguments = Self.arguments(values)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in columns.map { row[$0] as Double? } }
        }
    }
}
