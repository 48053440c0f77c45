import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

// The store's transactional logic (Sources/OmnichatStore/Shared) is written
// once, against GRDB's synchronous API, and compiled into both engines. This
// file gives PostgreSQL the small part of that API the logic uses: a
// transaction is a closure run on a dedicated thread holding one pooled
// connection, each statement a round trip the thread waits for. SQL written
// in SQLite's dialect is translated once per distinct statement
// (`SQLDialect`).

/// One connection inside one transaction (or one read).
public final class Database {
    let connection: PostgresConnection
    let logger: Logger
    let dialect: SQLDialect
    private var changes = 0
    /// Statements sent and not yet waited for: a statement whose result is not
    /// needed (an UPDATE, an INSERT without RETURNING) is pipelined, and the
    /// thread waits once, at the next read, `changesCount`, or commit. Each
    /// wait is a sleep and a wake-up of this thread; pipelining halves them.
    private var inFlight: [EventLoopFuture<PostgresQueryResult>] = []
    /// The first error of a pipelined statement: every later call throws it
    /// (PostgreSQL has aborted the transaction).
    private(set) var failure: (any Error)?

    /// Rows changed by the last statement (waits for the pipelined ones).
    /// An error of a pipelined statement is thrown by the next call.
    public var changesCount: Int {
        try? flush()
        return changes
    }

    /// Waits for every pipelined statement; throws the first error.
    public func flush() throws {
        if !inFlight.isEmpty {
            let futures = inFlight
            inFlight = []
            for future in futures {
                do {
                    let result = try answer(future)
                    changes = result.metadata.rows ?? result.rows.count
                } catch let error as PSQLError {
                    if failure == nil { failure = Self.mapped(error) }
                } catch {
                    if failure == nil { failure = error }
                }
            }
        }
        if let failure { throw failure }
    }

    init(connection: PostgresConnection, logger: Logger, dialect: SQLDialect) {
        self.connection = connection
        self.logger = logger
        self.dialect = dialect
    }

    public func execute(sql: String, arguments: StatementArguments = []) throws {
        if let failure { throw failure }
        inFlight.append(connection.query(query(sql, arguments), logger: logger))
    }

    public func cachedStatement(sql: String) throws -> Statement { Statement(db: self, sql: sql) }

    public func add(function: DatabaseFunction) {}

    struct Result {
        var rows: [Row]
        var affected: Int
    }

    /// Runs SQL with no arguments, untranslated (transaction control, DDL),
    /// after the pipelined statements.
    func raw(_ sql: String) throws {
        try flush()
        // The extended protocol takes one statement at a time.
        for statement in Self.statements(sql) {
            _ = try send(PostgresQuery(unsafeSQL: statement))
        }
    }

    /// Sends a statement without waiting for it (BEGIN).
    func pipelined(_ sql: String) {
        inFlight.append(connection.query(PostgresQuery(unsafeSQL: sql), logger: logger))
    }

    /// The longest a statement's answer is waited for (a backstop: a slow
    /// statement is PostgreSQL's `statement_timeout` to end).
    static let answerTimeoutSeconds = 300

    /// Waits for PostgreSQL's answer to a statement, but never forever. When
    /// PostgreSQL ends a connection (`pg_terminate_backend`, a failover), a
    /// statement sent at that moment may never be answered: a plain `wait()`
    /// then held its pool thread, and everything behind it, for good (a test
    /// run hung on it until CI's limit). The connection is checked every second;
    /// once it is closed, or past the backstop, the statement fails as a lost
    /// connection, which callers answer with 503 and retry.
    func answer(_ future: EventLoopFuture<PostgresQueryResult>) throws -> PostgresQueryResult {
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { _ in done.signal() }
        var waited = 0
        while done.wait(timeout: .now() + 1) == .timedOut {
            waited += 1
            if connection.isClosed || waited >= Self.answerTimeoutSeconds {
                let reason = connection.isClosed ? "the connection was closed" : "no answer within \(Self.answerTimeoutSeconds) s"
                closeLater(connection)
                logger.warning("a statement's answer never came: \(reason)")
                throw StorePostgresError.unavailable("the connection to PostgreSQL was lost: \(reason)")
            }
        }
        return try future.wait()  // complete: returns at once
    }

    /// Commits, and checks PostgreSQL did (a transaction that failed earlier answers ROLLBACK).
    func commit() throws {
        try flush()
        let result: PostgresQueryResult
        do {
            result = try answer(connection.query(PostgresQuery(unsafeSQL: "COMMIT"), logger: logger))
        } catch let error as PSQLError {
            throw Self.mapped(error)
        }
        guard result.metadata.command == "COMMIT" else {
            throw DatabaseError(extendedResultCode: ResultCode(raw: "40000"), message: "the transaction was rolled back (\(result.metadata.command))")
        }
    }

    /// Ends the transaction without keeping anything, whatever state it is in.
    func abandon() {
        try? flush()
        failure = nil
        _ = try? send(PostgresQuery(unsafeSQL: "ROLLBACK"))
    }

    /// Splits a script at the semicolons outside quotes, `$$` bodies and comments.
    static func statements(_ script: String) -> [String] {
        var out: [String] = []
        var current = ""
        var inQuote = false
        var inDollar = false
        var inComment = false
        let chars = Array(script)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if inComment {
                if c == "\n" { inComment = false }
                i += 1
                continue
            }
            if !inQuote && !inDollar && c == "-" && next == "-" {
                inComment = true
                i += 2
                continue
            }
            if !inDollar && c == "'" { inQuote.toggle() }
            if !inQuote && c == "$" && next == "$" {
                inDollar.toggle()
                current += "$$"
                i += 2
                continue
            }
            if c == ";" && !inQuote && !inDollar {
                let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { out.append(trimmed) }
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.isEmpty { out.append(trimmed) }
        return out
    }

    @discardableResult
    func run(_ sql: String, _ arguments: StatementArguments) throws -> Result {
        try flush()
        let result = try send(query(sql, arguments))
        changes = result.affected
        return result
    }

    private func query(_ sql: String, _ arguments: StatementArguments) -> PostgresQuery {
        let translated = dialect.translate(sql)
        var binds = PostgresBindings(capacity: arguments.values.count)
        for value in arguments.values {
            switch value {
            case .null: binds.appendNull()
            case .int(let i): binds.append(i)
            case .double(let d): binds.append(d)
            // Text goes untyped, as a literal would: PostgreSQL infers its type
            // from where it is used (text, citext, a number, a boolean).
            case .text(let s): binds.append(UntypedText(s))
            case .bool(let b): binds.append(UntypedText(b ? "1" : "0"))
            }
        }
        return PostgresQuery(unsafeSQL: translated, binds: binds)
    }

    private func send(_ query: PostgresQuery) throws -> Result {
        do {
            let result = try answer(connection.query(query, logger: logger))
            let rows = result.rows.map(Self.decode)
            return Result(rows: rows, affected: result.metadata.rows ?? rows.count)
        } catch let error as PSQLError {
            throw Self.mapped(error)
        }
    }

    static func mapped(_ error: PSQLError) -> any Error {
        if let code = error.serverInfo?[.sqlState] {
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
            return DatabaseError(extendedResultCode: ResultCode(raw: code), message: message + detail)
        }
        return error
    }

    static func decode(_ row: PostgresRow) -> Row {
        var names: [String] = []
        var values: [SQLValue] = []
        for cell in row {
            names.append(cell.columnName)
            values.append(value(cell))
        }
        return Row(names: names, values: values)
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map(SQLValue.int) ?? .null
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map(SQLValue.double) ?? .null
        case .numeric:
            if let text = try? cell.decode(String.self), let d = Double(text) { return .double(d) }
            if let d = try? cell.decode(Decimal.self) { return .double(NSDecimalNumber(decimal: d).doubleValue) }
            return .null
        case .bool:
            return (try? cell.decode(Bool.self)).map(SQLValue.bool) ?? .null
        default:
            var bytes = cell.bytes!
            return .text(bytes.readString(length: bytes.readableBytes) ?? "")
        }
    }
}

/// A string bound with no type, in text format: PostgreSQL types it from
/// context as it would a quoted literal.
struct UntypedText: PostgresDynamicTypeEncodable {
    let value: String
    /// PostgreSQL text cannot hold NUL (0x00): a customer's message with one
    /// would never commit (error 22021, and the network redelivers it for
    /// ever). It is stored as U+FFFD, the replacement character, instead.
    init(_ value: String) { self.value = value.utf8.contains(0) ? value.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : value }
    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }
    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(value)
    }
}
