import Foundation
import OmnichatCore
@_spi(Testing) import OmnichatPostgres
@_spi(Testing) import OmnichatStore

/// A store tests can write fixtures into directly: rooms, transitions and
/// messages at exact times, presence periods. Both engines conform through
/// their testing hooks; the statements are plain SQL both engines accept.
public protocol SeedableStore: Sendable {
    func testingWrite(_ sql: String, _ values: [TestingValue]) async throws -> Int64?
    func testingRead(_ sql: String, _ values: [TestingValue], columns: [String]) async throws -> [[Double?]]
}

extension SQLiteStore: SeedableStore {}
extension PostgresStore: SeedableStore {}

extension SeedableStore {
    /// A room with its contact, as it would be after ingest, without events or
    /// messages; `id` names its conversation (and contact) on the network.
    /// Returns the room's id.
    @discardableResult
    public func seedRoom(
        id label: String, channelID: String, status: RoomStatus, assigneeID: Int64? = nil, divisionID: Int64? = nil, createdAt: Date,
        customerName: String = "Customer"
    ) async throws -> Int64 {
        let at = TestingValue.real(createdAt.timeIntervalSince1970)
        let contact = try await testingWrite(
            "INSERT INTO contacts (channel_id, external_id, display_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            [.text(channelID), .text(label), .text(customerName), at, at]) ?? 0
        return try await testingWrite(
            """
            INSERT INTO rooms (channel_id, conversation_id, contact_id, status, assignee_id, division_id, last_message_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING id
            """,
            [.text(channelID), .text(label), .integer(contact), .text(status.rawValue), Self.value(assigneeID), Self.value(divisionID), at, at]) ?? 0
    }

    /// A transition at an exact time (recorded in call order).
    public func seedTransition(
        roomID: Int64, from: RoomStatus?, to: RoomStatus, assigneeID: Int64? = nil, actor: String = "routing", at: Date
    ) async throws {
        _ = try await testingWrite(
            "INSERT INTO room_events (room_id, from_status, to_status, assignee_id, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
            [.integer(roomID), from.map { .text($0.rawValue) } ?? .null, .text(to.rawValue), Self.value(assigneeID), .text(actor),
             .real(at.timeIntervalSince1970)])
    }

    /// A message at an exact time (outbound with a sender: an agent's reply).
    public func seedMessage(
        roomID: Int64, direction: MessageDirection, senderUserID: Int64? = nil, text: String = "seeded", at: Date
    ) async throws {
        _ = try await testingWrite(
            """
            INSERT INTO messages (room_id, direction, type, text, content, sender_user_id, created_at, delivery_status)
            VALUES (?, ?, 'text', ?, ?, ?, ?, ?)
            """,
            [.integer(roomID), .text(direction.rawValue), .text(text), .text(MessageContent.text(text).sortedJSON ?? "{}"),
             Self.value(senderUserID), .real(at.timeIntervalSince1970), .text(direction == .inbound ? "received" : "delivered")])
    }

    /// A presence period (`until` nil: still online).
    public func seedPresence(userID: Int64, from: Date, until: Date?) async throws {
        _ = try await testingWrite(
            "INSERT INTO agent_presence (user_id, started_at, ended_at) VALUES (?, ?, ?)",
            [.integer(userID), .real(from.timeIntervalSince1970), until.map { .real($0.timeIntervalSince1970) } ?? .null])
    }

    /// The user's presence periods, oldest first.
    public func presencePeriods(userID: Int64) async throws -> [(Date, Date?)] {
        try await testingRead(
            "SELECT started_at, ended_at FROM agent_presence WHERE user_id = ? ORDER BY id", [.integer(userID)], columns: ["started_at", "ended_at"]
        ).map { row in (Date(timeIntervalSince1970: row[0] ?? 0), row[1].map(Date.init(timeIntervalSince1970:))) }
    }

    /// Moves the expiry of a user's open invitations.
    public func setInvitationExpiry(userID: Int64, expiresAt: Date) async throws {
        _ = try await testingWrite(
            "UPDATE invitations SET expires_at = ? WHERE user_id = ? AND used_at IS NULL", [.real(expiresAt.timeIntervalSince1970), .integer(userID)])
    }

    private static func value(_ id: Int64?) -> TestingValue { id.map { .integer($0) } ?? .null }
}
