import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

extension EngineStore {
    /// The `WHERE` clauses of the inbox filters (everything but assignee,
    /// channel, status and cursor, which `rooms(_:)` writes itself).
    /// The WHERE clauses of a room listing, cursors aside.
    static func roomClauses(_ filter: RoomFilter) throws -> ([String], StatementArguments) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let assignee = filter.assigneeID {
            clauses.append("rooms.assignee_id = ?")
            arguments += [assignee]
        }
        if !filter.channelIDs.isEmpty {
            clauses.append("rooms.channel_id IN (\(filter.channelIDs.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(filter.channelIDs)
        }
        if !filter.statuses.isEmpty {
            clauses.append("rooms.status IN (\(filter.statuses.map { _ in "?" }.joined(separator: ",")))")
            arguments += StatementArguments(filter.statuses.map(\.rawValue))
        }
        try Self.inboxClauses(filter, clauses: &clauses, arguments: &arguments)
        return (clauses, arguments)
    }

    public func countRooms(_ filter: RoomFilter, cap: Int) async throws -> Int {
        var (clauses, arguments) = try Self.roomClauses(filter)
        arguments += [max(1, cap)]
        let sql = """
            SELECT count(*) FROM (SELECT rooms.id FROM rooms JOIN contacts ON contacts.id = rooms.contact_id
            LEFT JOIN users ON users.id = rooms.assignee_id\(clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")) LIMIT ?) AS counted
            """
        let bound = arguments
        return try await pool.read { db in
            db.add(function: Self.fold)  // for `text`
            return try Int.fetchOne(db, sql: sql, arguments: bound) ?? 0
        }
    }

    static func inboxClauses(_ filter: RoomFilter, clauses: inout [String], arguments: inout StatementArguments) throws {
        if filter.unassigned {
            clauses.append("rooms.assignee_id IS NULL")
        }
        if let division = filter.divisionID {
            clauses.append("coalesce(rooms.division_id, (SELECT id FROM divisions WHERE is_default = 1)) = ?")
            arguments += [division]
        }
        if let unread = filter.unread {
            guard let reader = filter.readerID else { throw StoreError(.invalid, "an unread filter needs a reader") }
            clauses.append(
                (unread ? "" : "NOT ")
                    + """
                    EXISTS (SELECT 1 FROM messages m WHERE m.room_id = rooms.id AND m.direction = 'inbound'
                        AND m.id > coalesce((SELECT last_read_seq FROM room_reads WHERE room_id = rooms.id AND user_id = ?), 0))
                    """)
            arguments += [reader]
        }
        if let text = filter.text, !text.isEmpty {
            let pattern = "%" + likeEscaped(text.lowercased()) + "%"
            clauses.append(
                """
                (omnichat_fold(contacts.display_name) LIKE ? ESCAPE '\\' OR omnichat_fold(contacts.username) LIKE ? ESCAPE '\\'
                 OR omnichat_fold(contacts.email) LIKE ? ESCAPE '\\'
                 OR EXISTS (SELECT 1 FROM contact_properties p WHERE p.contact_id = rooms.contact_id AND omnichat_fold(p.value) LIKE ? ESCAPE '\\')
                 OR EXISTS (SELECT 1 FROM messages m WHERE m.room_id = rooms.id AND omnichat_fold(m.text) LIKE ? ESCAPE '\\'))
                """)
            arguments += [pattern, pattern, pattern, pattern, pattern]
        }
        if !filter.tags.isEmpty {
            clauses.append(
                "EXISTS (SELECT 1 FROM room_tags t WHERE t.room_id = rooms.id AND t.tag IN (\(filter.tags.map { _ in "?" }.joined(separator: ","))))")
            arguments += StatementArguments(filter.tags)
        }
    }

    static func likeEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }

    // MARK: Read marks, notes, tags, sessions

    public func roomSummaries(roomIDs: [Int64], readerID: Int64) async throws -> [Int64: RoomSummary] {
        guard !roomIDs.isEmpty else { return [:] }
        return try await pool.read { db in
            let unread = try db.cachedStatement(
                sql: """
                    SELECT count(*) FROM messages WHERE room_id = ?1 AND direction = 'inbound'
                      AND id > coalesce((SELECT last_read_seq FROM room_reads WHERE room_id = ?1 AND user_id = ?2), 0)
                    """)
            let last = try db.cachedStatement(sql: "SELECT * FROM messages WHERE room_id = ? ORDER BY id DESC LIMIT 1")
            let tags = try db.cachedStatement(sql: "SELECT tag FROM room_tags WHERE room_id = ? ORDER BY tag")
            var out: [Int64: RoomSummary] = [:]
            for id in Set(roomIDs) {
                out[id] = RoomSummary(
                    roomID: id,
                    unreadCount: try Int.fetchOne(unread, arguments: [id, readerID]) ?? 0,
                    lastMessage: try Row.fetchOne(last, arguments: [id]).map(Rows.message),
                    tags: try String.fetchAll(tags, arguments: [id]))
            }
            return out
        }
    }

    public func markRead(roomID: Int64, userID: Int64, messageID: Int64?) async throws {
        let now = Date().timeIntervalSince1970
        try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM rooms WHERE id = ?"), arguments: [roomID]) != nil else {
                throw StoreError(.notFound, "no room \(roomID)")
            }
            let seq: Int64
            if let messageID {
                guard
                    let found = try Int64.fetchOne(
                        db.cachedStatement(sql: "SELECT id FROM messages WHERE id = ? AND room_id = ?"), arguments: [messageID, roomID])
                else { throw StoreError(.invalid, "'message_id' \(messageID) is not a message of room \(roomID)") }
                seq = found
            } else {
                seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM messages WHERE room_id = ?"), arguments: [roomID]) ?? 0
            }
            try db.cachedStatement(sql: """
                    INSERT INTO room_reads (room_id, user_id, last_read_seq, read_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (room_id, user_id) DO UPDATE SET
                        last_read_seq = max(room_reads.last_read_seq, excluded.last_read_seq), read_at = excluded.read_at
                    """).execute(arguments: [roomID, userID, seq, now])
        }
    }

    static let noteSelect = "SELECT notes.*, users.name AS author_name FROM notes LEFT JOIN users ON users.id = notes.author_id"

    static func note(_ row: Row) -> RoomNote {
        RoomNote(
            id: row["id"], roomID: row["room_id"], authorID: row["author_id"], authorName: row["author_name"], text: row["text"],
            createdAt: Date(timeIntervalSince1970: row["created_at"]), sequence: row["id"])
    }

    public func addNote(roomID: Int64, authorID: Int64, text: String) async throws -> RoomNote {
        let now = Date().timeIntervalSince1970
        return try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM rooms WHERE id = ?"), arguments: [roomID]) != nil else {
                throw StoreError(.notFound, "no room \(roomID)")
            }
            let id = try Int64.fetchOne(
                db.cachedStatement(sql: "INSERT INTO notes (room_id, author_id, text, created_at) VALUES (?, ?, ?, ?) RETURNING id"),
                arguments: [roomID, authorID, text, now]) ?? 0
            return try Row.fetchOne(db, sql: Self.noteSelect + " WHERE notes.id = ?", arguments: [id]).map(Self.note)!
        }
    }

    public func notes(roomID: Int64, cursor: String?, limit: Int) async throws -> Page<RoomNote> {
        var after: Int64 = 0
        if let cursor {
            guard let value = Int64(cursor), value >= 0 else { throw StoreError(.invalid, "cursor is not one this server gave") }
            after = value
        }
        let start = after
        let limit = max(1, min(limit, 500))
        let rows = try await pool.read { db in
            try Row.fetchAll(
                db, sql: Self.noteSelect + " WHERE notes.room_id = ? AND notes.id > ? ORDER BY notes.id LIMIT ?",
                arguments: [roomID, start, limit + 1]
            ).map(Self.note)
        }
        let items = Array(rows.prefix(limit))
        return Page(items: items, nextCursor: rows.count > limit ? items.last.map { String($0.sequence) } : nil)
    }

    public func setTags(roomID: Int64, tags: [String]) async throws -> [String] {
        let now = Date().timeIntervalSince1970
        let unique = Array(Set(tags)).sorted()
        try await pool.write { db in
            guard try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM rooms WHERE id = ?"), arguments: [roomID]) != nil else {
                throw StoreError(.notFound, "no room \(roomID)")
            }
            try db.cachedStatement(sql: "DELETE FROM room_tags WHERE room_id = ? AND tag NOT IN (SELECT value FROM json_each(?))").execute(arguments: [roomID, Rows.encodeList(unique)])
            for tag in unique {
                try db.cachedStatement(sql: "INSERT INTO room_tags (room_id, tag, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").execute(arguments: [roomID, tag, now])
            }
        }
        return unique
    }

    public func sessions(roomID: Int64) async throws -> [RoomSession] {
        RoomSession.sessions(from: try await transitions(roomID: roomID))
    }

    // MARK: Reports

    /// `AND <alias>.channel_id IN (?, …)` and its arguments, or nothing.
    static func channelClause(_ filter: ReportFilter, alias: String) -> (String, StatementArguments) {
        guard !filter.channelIDs.isEmpty else { return ("", []) }
        return (
            " AND \(alias).channel_id IN (\(filter.channelIDs.map { _ in "?" }.joined(separator: ",")))",
            StatementArguments(filter.channelIDs)
        )
    }

    public func agentReport(_ filter: ReportFilter) async throws -> [AgentPerformance] {
        let from = filter.from.timeIntervalSince1970
        let to = filter.to.timeIntervalSince1970
        let now = filter.now.timeIntervalSince1970
        let (channels, channelArguments) = Self.channelClause(filter, alias: "r")
        return try await pool.read { db in
            var assigned: [Int64: Int] = [:]
            var resolved: [Int64: Int] = [:]
            var sent: [Int64: Int] = [:]
            var open: [Int64: Int] = [:]
            var online: [Int64: Double] = [:]
            var firstResponses: [Int64: [Double]] = [:]
            var resolutions: [Int64: [Double]] = [:]

            for row in try Self.assignments(db, from: from, to: to, channels: channels, arguments: channelArguments) {
                assigned[row.agent, default: 0] += 1
                if let replied = row.repliedAt { firstResponses[row.agent, default: []].append(replied - row.at) }
            }
            for row in try Self.resolves(db, from: from, to: to, channels: channels, arguments: channelArguments) {
                resolved[row.agent, default: 0] += 1
                if let start = row.firstAssignedAt { resolutions[row.agent, default: []].append(row.at - start) }
            }

            let messageJoin = channels.isEmpty ? "" : " JOIN rooms r ON r.id = m.room_id"
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT m.sender_user_id AS agent, count(*) AS n FROM messages m\(messageJoin)
                    WHERE m.created_at >= ? AND m.created_at < ? AND m.direction = 'outbound' AND m.sender_user_id IS NOT NULL\(channels)
                    GROUP BY m.sender_user_id
                    """,
                arguments: [from, to] + channelArguments)
            {
                sent[row["agent"]] = row["n"]
            }

            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT r.assignee_id AS agent, count(*) AS n FROM rooms r
                    WHERE r.status = 'assigned' AND r.assignee_id IS NOT NULL\(channels) GROUP BY r.assignee_id
                    """,
                arguments: channelArguments)
            {
                open[row["agent"]] = row["n"]
            }

            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT user_id, started_at, ended_at FROM agent_presence WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?)"),
                arguments: [to, from])
            {
                let end = (row["ended_at"] as Double?) ?? now
                online[row["user_id"], default: 0] += ReportMath.overlap(start: row["started_at"], end: end, from: from, to: to)
            }

            let defaultDivision = try Self.defaultDivisionID(db)
            let users = try Row.fetchAll(db.cachedStatement(sql: Self.userSelect)).map(Rows.user)
            var out: [AgentPerformance] = []
            for user in users {
                if let division = filter.divisionID {
                    let member = user.divisions.contains(division) || (user.divisions.isEmpty && division == defaultDivision)
                    guard member else { continue }
                }
                let row = AgentPerformance(
                    agent: user, roomsAssigned: assigned[user.id] ?? 0, roomsResolved: resolved[user.id] ?? 0,
                    messagesSent: sent[user.id] ?? 0,
                    firstResponseAverage: ReportMath.average(firstResponses[user.id] ?? []),
                    firstResponseMedian: ReportMath.median(firstResponses[user.id] ?? []),
                    resolutionAverage: ReportMath.average(resolutions[user.id] ?? []),
                    openRooms: open[user.id] ?? 0, onlineSeconds: online[user.id] ?? 0)
                let active = row.roomsAssigned > 0 || row.roomsResolved > 0 || row.messagesSent > 0 || row.openRooms > 0
                    || row.onlineSeconds > 0
                let servesFilter = filter.channelIDs.isEmpty || filter.channelIDs.contains(where: user.serves(channel:))
                // Idle rows only for agents who could have worked: active, serving the channels asked about.
                guard active || (user.role == .agent && user.active && servesFilter) else { continue }
                out.append(row)
            }
            return out.sorted {
                let (a, b) = ($0.agent.name.lowercased(), $1.agent.name.lowercased())
                return a == b ? $0.agent.id < $1.agent.id : a < b
            }
        }
    }

    public func channelReport(_ filter: ReportFilter) async throws -> [ChannelDay] {
        let from = filter.from.timeIntervalSince1970
        let to = filter.to.timeIntervalSince1970
        let (channels, channelArguments) = Self.channelClause(filter, alias: "r")
        return try await pool.read { db in
            var days: [String: ChannelDay] = [:]
            func key(_ date: String, _ channel: String) -> String { date + "|" + channel }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT date(m.created_at, 'unixepoch') AS day, r.channel_id AS channel,
                        sum(CASE WHEN m.direction = 'inbound' THEN 1 ELSE 0 END) AS inbound,
                        sum(CASE WHEN m.direction = 'outbound' THEN 1 ELSE 0 END) AS outbound
                    FROM messages m JOIN rooms r ON r.id = m.room_id
                    WHERE m.created_at >= ? AND m.created_at < ?\(channels)
                    GROUP BY day, channel
                    """,
                arguments: [from, to] + channelArguments)
            {
                let (date, channel): (String, String) = (row["day"], row["channel"])
                days[key(date, channel)] = ChannelDay(date: date, channelID: channel, inbound: row["inbound"], outbound: row["outbound"])
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT date(e.at, 'unixepoch') AS day, r.channel_id AS channel, count(*) AS n
                    FROM room_events e JOIN rooms r ON r.id = e.room_id
                    WHERE e.at >= ? AND e.at < ? AND (e.from_status IS NULL OR e.from_status = 'resolved')\(channels)
                    GROUP BY day, channel
                    """,
                arguments: [from, to] + channelArguments)
            {
                let (date, channel): (String, String) = (row["day"], row["channel"])
                days[key(date, channel), default: ChannelDay(date: date, channelID: channel)].roomsOpened = row["n"]
            }
            return days.values.sorted { ($0.date, $0.channelID) < ($1.date, $1.channelID) }
        }
    }
}
