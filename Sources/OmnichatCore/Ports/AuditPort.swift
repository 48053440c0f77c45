import Foundation

/// The audit log of team and settings changes.
public protocol AuditPort: Sendable {
    func recordAudit(_ entry: NewAuditEntry) async throws
    /// Newest first, the entries `filter` lets through; the cursor is the
    /// `next_cursor` of the previous page.
    func auditLog(filter: AuditFilter, cursor: String?, limit: Int) async throws -> Page<AuditEntry>
}

extension AuditPort {
    /// Every entry, newest first.
    public func auditLog(cursor: String?, limit: Int) async throws -> Page<AuditEntry> {
        try await auditLog(filter: AuditFilter(), cursor: cursor, limit: limit)
    }
}

/// Which audit entries a query wants; nil fields match everything.
public struct AuditFilter: Sendable, Equatable {
    /// A user id, `key:<id>`, or an email for sign-in records.
    public var actor: String?
    /// An exact action (`agent.create`), or a prefix ending in `.` (`auth.`).
    public var action: String?
    public var targetType: String?
    public var targetID: String?
    /// From (inclusive) and until (exclusive).
    public var from: Date?
    public var until: Date?

    public init(actor: String? = nil, action: String? = nil, targetType: String? = nil, targetID: String? = nil, from: Date? = nil, until: Date? = nil) {
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.from = from
        self.until = until
    }
}

/// One administrative action, as recorded (never with secrets in `details`).
public struct NewAuditEntry: Sendable {
    /// A user id or an API key id.
    public var actor: String
    /// The actor's role, or `key:<scope>` for an API key.
    public var actorRole: String
    /// What was done, e.g. `agent.create`, `api_key.revoke`, `settings.update`.
    public var action: String
    /// What it was done to, e.g. `user`, `division`, `room`, `api_key`, `settings`.
    public var targetType: String
    public var targetID: String?
    /// A JSON object.
    public var details: String
    public var at: Date

    public init(actor: String, actorRole: String, action: String, targetType: String, targetID: String?, details: String = "{}", at: Date = Date()) {
        self.actor = actor
        self.actorRole = actorRole
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.details = details
        self.at = at
    }
}

public struct AuditEntry: Sendable, Equatable {
    public var id: Int64
    public var actor: String
    public var actorRole: String
    public var action: String
    public var targetType: String
    public var targetID: String?
    /// A JSON object.
    public var details: String
    public var at: Date

    public init(id: Int64, actor: String, actorRole: String, action: String, targetType: String, targetID: String?, details: String, at: Date) {
        self.id = id
        self.actor = actor
        self.actorRole = actorRole
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.details = details
        self.at = at
    }
}
