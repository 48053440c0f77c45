import Foundation

/// The audit log of team and settings changes.
public protocol AuditPort: Sendable {
    func recordAudit(_ entry: NewAuditEntry) async throws
    /// Newest first; the cursor is the `next_cursor` of the previous page.
    func auditLog(cursor: String?, limit: Int) async throws -> Page<AuditEntry>
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
