import Foundation

/// Store errors that the API maps to statuses.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `busy`: the store is behind and refused the work without doing any of it
    /// (back-pressure); the caller answers 503 and the sender retries.
    public enum Kind: String, Sendable { case notFound, conflict, invalid, busy }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The one source of truth, as the daemon sees it: every port at once. Each
/// engine (SQLite, PostgreSQL) implements it; each consumer names only the
/// ports it uses (the outbox worker `OutboxPort`, routing `RoutingPort` and a
/// few reads), so a test can give it an in-memory fake of just those.
public protocol Store:
    IngestPort, ConversationPort, RoutingPort, MerchantWebhookPort, OutboxPort, AccountPort, TeamStore, APIKeyPort, SettingsPort, AuditPort,
    InboxStore, ReportPort, CustomerStore, ContactPort, CompatibilityStore, PrivacyPort, Sendable
{}

/// What the daemon needs of a store beyond `Store`; both engines provide it.
public protocol DaemonStore: Store {
    /// This daemon's name (outbox leases, `delivered_by`).
    var nodeName: String { get }
    /// Webhook requests waiting for a commit, and how many were refused as busy.
    func ingestBacklog() async -> (waiting: Int, refused: Int)
    /// Stored messages, all or one direction (tests, reports).
    func countMessages(direction: MessageDirection?) async throws -> Int
    /// The cluster-wide live event log; `nil` when this daemon is the only one
    /// (SQLite): its events stay in memory.
    var eventLog: (any LiveEventLog)? { get }
    /// Releases connections (the daemon is stopping).
    func close() async
    /// Transactions run again after a serialization failure or a deadlock
    /// (several daemons on PostgreSQL; always 0 on SQLite).
    var conflictRetries: Int { get }
}

extension DaemonStore {
    /// Every stored message.
    public func countMessages() async throws -> Int { try await countMessages(direction: nil) }
}
