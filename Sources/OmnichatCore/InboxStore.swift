import Foundation

/// What the inbox shows about a room for one reader, beside the room itself.
public struct RoomSummary: Sendable, Equatable {
    public var roomID: Int64
    /// Inbound messages after the reader's read mark.
    public var unreadCount: Int
    /// The newest message in either direction.
    public var lastMessage: StoredMessage?
    /// Sorted.
    public var tags: [String]

    public init(roomID: Int64, unreadCount: Int = 0, lastMessage: StoredMessage? = nil, tags: [String] = []) {
        self.roomID = roomID
        self.unreadCount = unreadCount
        self.lastMessage = lastMessage
        self.tags = tags
    }
}

/// An internal note on a room: for the team only, never delivered to the customer.
public struct RoomNote: Sendable, Equatable {
    public var id: Int64
    public var roomID: Int64
    public var authorID: Int64
    /// The author's name now (nil when the user no longer exists).
    public var authorName: String?
    public var text: String
    public var createdAt: Date
    /// Position among all notes; the pagination cursor.
    public var sequence: Int64

    public init(id: Int64, roomID: Int64, authorID: Int64, authorName: String?, text: String, createdAt: Date, sequence: Int64) {
        self.id = id
        self.roomID = roomID
        self.authorID = authorID
        self.authorName = authorName
        self.text = text
        self.createdAt = createdAt
        self.sequence = sequence
    }
}

/// One conversation session of a room, rebuilt from its transitions: a
/// session starts when the room opens or a resolved room reopens, and ends at
/// the next resolve.
public struct RoomSession: Sendable, Equatable {
    public var number: Int
    public var startedAt: Date
    public var endedAt: Date?
    /// Agents the room was assigned to during the session, in order of first assignment.
    public var agentIDs: [Int64]
    /// Who resolved it (a user id, "routing", an API key id); nil while open.
    public var resolvedBy: String?

    public init(number: Int, startedAt: Date, endedAt: Date? = nil, agentIDs: [Int64] = [], resolvedBy: String? = nil) {
        self.number = number
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.agentIDs = agentIDs
        self.resolvedBy = resolvedBy
    }

    /// Sessions from a room's transitions, oldest first. A transition from
    /// nothing (the room opened) or from `resolved` (the customer wrote again)
    /// starts a session; a transition to `resolved` ends it.
    public static func sessions(from transitions: [RoomTransition]) -> [RoomSession] {
        var sessions: [RoomSession] = []
        var current: RoomSession?
        for transition in transitions {
            let starts = transition.from == nil || transition.from == .resolved
            if starts || current == nil {
                if let open = current { sessions.append(open) }
                current = RoomSession(number: sessions.count + 1, startedAt: transition.at)
            }
            if transition.to == .assigned, let agent = transition.assigneeID, current?.agentIDs.contains(agent) == false {
                current?.agentIDs.append(agent)
            }
            if transition.to == .resolved, current?.endedAt == nil {
                current?.endedAt = transition.at
                current?.resolvedBy = transition.actor
            }
        }
        if let open = current { sessions.append(open) }
        return sessions
    }
}

/// The window and scope of a report. The window is half-open: `from` ≤ t < `to`.
public struct ReportFilter: Sendable, Equatable {
    public var from: Date
    public var to: Date
    /// Agents report: only agents of this division (agents with no division
    /// belong to the default one, as in routing).
    public var divisionID: Int64?
    /// Only activity in rooms of these channels (empty: every channel).
    public var channelIDs: [String]
    /// Open presence periods count until this time.
    public var now: Date

    public init(from: Date, to: Date, divisionID: Int64? = nil, channelIDs: [String] = [], now: Date = Date()) {
        self.from = from
        self.to = to
        self.divisionID = divisionID
        self.channelIDs = channelIDs
        self.now = now
    }
}

/// One agent's row of the performance report (`docs/reports.md` has the formulas).
public struct AgentPerformance: Sendable, Equatable {
    public var agent: User
    public var roomsAssigned: Int
    public var roomsResolved: Int
    public var messagesSent: Int
    /// Seconds from each assignment to the agent's first reply in it; nil without samples.
    public var firstResponseAverage: Double?
    public var firstResponseMedian: Double?
    /// Seconds from a session's first assignment to its resolve; nil without samples.
    public var resolutionAverage: Double?
    public var openRooms: Int
    public var onlineSeconds: Double

    public init(
        agent: User, roomsAssigned: Int = 0, roomsResolved: Int = 0, messagesSent: Int = 0, firstResponseAverage: Double? = nil,
        firstResponseMedian: Double? = nil, resolutionAverage: Double? = nil, openRooms: Int = 0, onlineSeconds: Double = 0
    ) {
        self.agent = agent
        self.roomsAssigned = roomsAssigned
        self.roomsResolved = roomsResolved
        self.messagesSent = messagesSent
        self.firstResponseAverage = firstResponseAverage
        self.firstResponseMedian = firstResponseMedian
        self.resolutionAverage = resolutionAverage
        self.openRooms = openRooms
        self.onlineSeconds = onlineSeconds
    }
}

/// One (UTC day, channel) row of the channel report.
public struct ChannelDay: Sendable, Equatable {
    /// `yyyy-MM-dd`, UTC.
    public var date: String
    public var channelID: String
    public var inbound: Int
    public var outbound: Int
    /// Sessions opened: new rooms and resolved rooms reopened by the customer.
    public var roomsOpened: Int

    public init(date: String, channelID: String, inbound: Int = 0, outbound: Int = 0, roomsOpened: Int = 0) {
        self.date = date
        self.channelID = channelID
        self.inbound = inbound
        self.outbound = outbound
        self.roomsOpened = roomsOpened
    }
}

/// Averages and medians of report samples.
public enum ReportMath {
    public static func average(_ samples: [Double]) -> Double? {
        guard !samples.isEmpty else { return nil }
        return samples.reduce(0, +) / Double(samples.count)
    }

    /// The middle sample; with an even count, the mean of the two middle ones.
    public static func median(_ samples: [Double]) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// Seconds of overlap between [start, end) and [from, to).
    public static func overlap(start: Double, end: Double, from: Double, to: Double) -> Double {
        max(0, min(end, to) - max(start, from))
    }
}

/// The inbox: room summaries, read marks, notes, tags and sessions.
public protocol InboxStore: Sendable {
    /// Unread count (for `readerID`), last message and tags of each room id given.
    func roomSummaries(roomIDs: [Int64], readerID: Int64) async throws -> [Int64: RoomSummary]
    /// How many rooms `filter` lists (its cursor and limit ignored), counting
    /// at most `cap` (the inbox's tab counts show "999+").
    func countRooms(_ filter: RoomFilter, cap: Int) async throws -> Int
    /// Moves the user's read mark in the room forward to the message (`nil`: the newest).
    /// A message of another room is `invalid`; marks never move back.
    func markRead(roomID: Int64, userID: Int64, messageID: Int64?) async throws
    func addNote(roomID: Int64, authorID: Int64, text: String) async throws -> RoomNote
    /// Notes oldest first, after the cursor.
    func notes(roomID: Int64, cursor: String?, limit: Int) async throws -> Page<RoomNote>
    /// Replaces the room's tags (already normalised); returns them sorted.
    func setTags(roomID: Int64, tags: [String]) async throws -> [String]
    /// The room's sessions, oldest first.
    func sessions(roomID: Int64) async throws -> [RoomSession]
}

/// One day of the daily series (`GET /api/v1/reports/daily`), in the report's time zone.
public struct ReportDay: Sendable, Equatable {
    /// `yyyy-MM-dd` in the report's time zone.
    public var date: String
    public var inbound = 0
    public var outbound = 0
    /// Sessions opened: new rooms and resolved rooms reopened by the customer (not on an agent's own page).
    public var roomsOpened = 0
    public var roomsAssigned = 0
    public var roomsResolved = 0
    /// Seconds from an assignment to the agent's first reply, for that day's assignments.
    public var firstResponseAverage: Double?
    /// Seconds from a session's first assignment to its resolve, for that day's resolves.
    public var resolutionAverage: Double?

    public init(date: String) { self.date = date }
}
