import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// A value as the shared logic binds and reads it.
public enum SQLValue: Sendable, Equatable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
}

public protocol DatabaseValueConvertible: Sendable {
    var sqlValue: SQLValue { get }
    static func fromSQL(_ value: SQLValue) -> Self?
}

extension String: DatabaseValueConvertible {
    public var sqlValue: SQLValue { .text(self) }
    public static func fromSQL(_ value: SQLValue) -> String? {
        switch value {
        case .text(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "1" : "0"
        case .null: return nil
        }
    }
}

extension Int64: DatabaseValueConvertible {
    public var sqlValue: SQLValue { .int(self) }
    public static func fromSQL(_ value: SQLValue) -> Int64? {
        switch value {
        case .int(let i): return i
        case .double(let d): return Int64(d)
        case .bool(let b): return b ? 1 : 0
        case .text(let s): return Int64(s)
        case .null: return nil
        }
    }
}

extension Int: DatabaseValueConvertible {
    public var sqlValue: SQLValue { .int(Int64(self)) }
    public static func fromSQL(_ value: SQLValue) -> Int? { Int64.fromSQL(value).map(Int.init) }
}

extension Double: DatabaseValueConvertible {
    public var sqlValue: SQLValue { .double(self) }
    public static func fromSQL(_ value: SQLValue) -> Double? {
        switch value {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .bool(let b): return b ? 1 : 0
        case .text(let s): return Double(s)
        case .null: return nil
        }
    }
}

extension Bool: DatabaseValueConvertible {
    public var sqlValue: SQLValue { .bool(self) }
    public static func fromSQL(_ value: SQLValue) -> Bool? {
        switch value {
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .text(let s): return s == "1" || s == "t" || s == "true"
        case .null: return nil
        }
    }
}

/// Statement arguments, in order (`?`, or `?N` for the N-th).
public struct StatementArguments: ExpressibleByArrayLiteral, Sendable {
    var values: [SQLValue]

    public init(arrayLiteral elements: (any DatabaseValueConvertible)?...) {
        values = elements.map { $0?.sqlValue ?? .null }
    }

    public init<S: Sequence>(_ sequence: S) where S.Element: DatabaseValueConvertible {
        values = sequence.map(\.sqlValue)
    }

    init(values: [SQLValue]) { self.values = values }

    public static func += (lhs: inout StatementArguments, rhs: StatementArguments) { lhs.values += rhs.values }
    public static func + (lhs: StatementArguments, rhs: StatementArguments) -> StatementArguments {
        StatementArguments(values: lhs.values + rhs.values)
    }
}

/// A result row: columns by name, as GRDB's `Row` reads them.
public struct Row: Sendable {
    let names: [String]
    let values: [SQLValue]

    var firstValue: SQLValue? { values.first }

    func value(_ name: String) -> SQLValue? {
        for (i, n) in names.enumerated() where n == name { return values[i] }
        return nil
    }

    public subscript<T: DatabaseValueConvertible>(_ name: String) -> T {
        guard let value = value(name), let converted = T.fromSQL(value) else {
            fatalError("column \(name) is missing or null in \(names)")
        }
        return converted
    }

    public subscript<T: DatabaseValueConvertible>(_ name: String) -> T? {
        value(name).flatMap(T.fromSQL)
    }

    public static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Row] {
        try db.run(sql, arguments).rows
    }

    public static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> Row? {
        try db.run(sql, arguments).rows.first
    }

    public static func fetchAll(_ statement: Statement, arguments: StatementArguments = []) throws -> [Row] {
        try fetchAll(statement.db, sql: statement.sql, arguments: arguments)
    }

    public static func fetchOne(_ statement: Statement, arguments: StatementArguments = []) throws -> Row? {
        try fetchOne(statement.db, sql: statement.sql, arguments: arguments)
    }
}

extension DatabaseValueConvertible {
    public static func fetchOne(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> Self? {
        guard let row = try db.run(sql, arguments).rows.first, let value = row.firstValue else { return nil }
        return fromSQL(value)
    }

    public static func fetchAll(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Self] {
        try db.run(sql, arguments).rows.compactMap { $0.firstValue.flatMap(fromSQL) }
    }

    public static func fetchOne(_ statement: Statement, arguments: StatementArguments = []) throws -> Self? {
        try fetchOne(statement.db, sql: statement.sql, arguments: arguments)
    }

    public static func fetchAll(_ statement: Statement, arguments: StatementArguments = []) throws -> [Self] {
        try fetchAll(statement.db, sql: statement.sql, arguments: arguments)
    }
}

/// A prepared statement, as the shared logic holds one.
public struct Statement {
    let db: Database
    let sql: String

    public func execute(arguments: StatementArguments = []) throws {
        try db.execute(sql: sql, arguments: arguments)
    }
}

/// SQLite's error codes the shared logic tests for, mapped from PostgreSQL's.
public struct ResultCode: Equatable, Sendable {
    let raw: String
    public static let SQLITE_CONSTRAINT_UNIQUE = ResultCode(raw: "23505")
}

public struct DatabaseError: Error, CustomStringConvertible {
    public var extendedResultCode: ResultCode
    public var message: String
    public var description: String { "PostgreSQL error \(extendedResultCode.raw): \(message)" }
}

/// SQLite user functions exist as SQL functions in the PostgreSQL schema.
public struct DatabaseFunction: Sendable {
    public init(_ name: String, argumentCount: Int, pure: Bool, function: @escaping @Sendable ([SQLValue]) -> (any DatabaseValueConvertible)?) {}
}
