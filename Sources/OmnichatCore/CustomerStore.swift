import Foundation

/// One of a customer's properties (the hosted product's "additional info"):
/// set by agents or integrations, kept per contact.
public struct CustomerProperty: Sendable, Equatable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Customers' properties, the port the customer-properties routes use.
public protocol CustomerStore: Sendable {
    /// The contact's properties, by key.
    func customerProperties(contactID: Int64) async throws -> [CustomerProperty]
    /// Sets these properties (`replace`: and removes the others); returns them all, by key.
    func setCustomerProperties(contactID: Int64, _ properties: [CustomerProperty], replace: Bool) async throws -> [CustomerProperty]
    /// Keeps the customer's profile picture found through the network's profile
    /// API, unless the customer came with one of their own meanwhile.
    func setContactAvatar(contactID: Int64, url: String) async throws
}

/// What the hosted product's compatible routes and webhooks need beyond the other ports.
public protocol CompatibilityStore: Sendable {
    /// The integer id an entity had as a string id (`rm_…`, `usr_…`) before
    /// ids became integers; nil when unknown. Deprecated input, for one release.
    func legacyID(kind: EntityKind, oldID: String) async throws -> Int64?
    /// Each channel's number (the hosted product gives channels integer ids), assigned on first use and kept.
    func channelNumbers(_ channelIDs: [String]) async throws -> [String: Int64]
    /// The first and last message ids of a room from a time on (a session's comments).
    func messageRange(roomID: Int64, since: Date) async throws -> (first: Int64?, last: Int64?)
}
