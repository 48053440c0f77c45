import Foundation

/// Live events shared by every daemon on one database, in one order.
public protocol LiveEventLog: Sendable {
    /// Appends events (JSON texts) in order; returns their ids.
    func append(_ bodies: [String]) async throws -> [Int64]
    /// Events after `id`, oldest first.
    func events(after id: Int64, limit: Int) async throws -> [LoggedEvent]
    /// These events, those that exist (ids skipped by a reader, committed late).
    func events(ids: [Int64]) async throws -> [LoggedEvent]
    /// The id of the newest event older than `seconds` ago (where a fresh
    /// daemon starts reading), or 0.
    func horizon(olderThan seconds: Double) async throws -> Int64
    /// Wakes when another daemon (or this one) appended events.
    func notifications() -> AsyncStream<Void>
    /// Drops events older than `seconds`.
    func prune(olderThan seconds: Double) async throws
}

public struct LoggedEvent: Sendable, Equatable {
    public var id: Int64
    public var body: String
    public var at: Date

    public init(id: Int64, body: String, at: Date) {
        self.id = id
        self.body = body
        self.at = at
    }
}
