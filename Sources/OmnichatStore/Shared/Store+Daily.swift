import Foundation
#if !OMNICHAT_POSTGRES
import GRDB
#endif
import OmnichatCore

// The reports' raw samples, and the daily series (both engines).
extension EngineStore {
    /// `[from, to] + channel arguments (+ agent)`, and the agent's clause for `e`.
    private static func windowArguments(from: Double, to: Double, _ arguments: StatementArguments, agent: Int64?) -> (String, StatementArguments) {
        var all: StatementArguments = [from, to]
        all += arguments
        if let agent { all += [agent] }
        return (agent == nil ? "" : " AND e.assignee_id = ?", all)
    }

    /// Assignments in the window, each with the agent's first reply between
    /// the assignment and the room's next transition.
    static func assignments(
        _ db: Database, from: Double, to: Double, channels: String, arguments: StatementArguments, agent: Int64? = nil
    ) throws -> [(agent: Int64, at: Double, repliedAt: Double?)] {
        let (agentClause, all) = windowArguments(from: from, to: to, arguments, agent: agent)
        return try Row.fetchAll(
            db,
            sql: """
                SELECT e.assignee_id AS agent, e.at AS at,
                    (SELECT min(m.created_at) FROM messages m
                      WHERE m.room_id = e.room_id AND m.direction = 'outbound' AND m.sender_user_id = e.assignee_id
                        AND m.created_at >= e.at
                        AND m.created_at <= coalesce(
                            (SELECT n.at FROM room_events n WHERE n.room_id = e.room_id AND n.id > e.id ORDER BY n.id LIMIT 1), 1e300)
                    ) AS replied_at
                FROM room_events e JOIN rooms r ON r.id = e.room_id
                WHERE e.at >= ? AND e.at < ? AND e.to_status = 'assigned' AND e.assignee_id IS NOT NULL\(channels)\(agentClause)
                """,
            arguments: all
        ).map { ($0["agent"], $0["at"], $0["replied_at"]) }
    }

    /// Resolves in the window of rooms an agent had, each with its session's
    /// first assignment (the session starts at the last opening or reopening
    /// before the resolve).
    static func resolves(
        _ db: Database, from: Double, to: Double, channels: String, arguments: StatementArguments, agent: Int64? = nil
    ) throws -> [(agent: Int64, at: Double, firstAssignedAt: Double?)] {
        let (agentClause, all) = windowArguments(from: from, to: to, arguments, agent: agent)
        return try Row.fetchAll(
            db,
            sql: """
                SELECT e.assignee_id AS agent, e.at AS at,
                    (SELECT min(a.at) FROM room_events a
                      WHERE a.room_id = e.room_id AND a.to_status = 'assigned' AND a.id < e.id
                        AND a.id > coalesce(
                            (SELECT max(s.id) FROM room_events s
                              WHERE s.room_id = e.room_id AND s.id < e.id AND (s.from_status IS NULL OR s.from_status = 'resolved')), 0)
                    ) AS first_assigned_at
                FROM room_events e JOIN rooms r ON r.id = e.room_id
                WHERE e.at >= ? AND e.at < ? AND e.to_status = 'resolved' AND e.assignee_id IS NOT NULL\(channels)\(agentClause)
                """,
            arguments: all
        ).map { ($0["agent"], $0["at"], $0["first_assigned_at"]) }
    }

    /// Counts are read in 15-minute buckets (every time zone's offset is a
    /// multiple of 15 minutes), then summed into the zone's days.
    static let bucketSeconds = 900

    /// The bucket of a time in seconds, rounded down on both engines (a CAST
    /// truncates on SQLite and rounds on PostgreSQL: the CASE evens them out).
    static func bucket(_ column: String) -> String {
        "(CAST(\(column) AS BIGINT) - CASE WHEN CAST(\(column) AS BIGINT) > \(column) THEN 1 ELSE 0 END) / \(bucketSeconds)"
    }

    public func dailyReport(_ filter: ReportFilter, agentID: Int64?, timeZone: TimeZone) async throws -> [ReportDay] {
        let from = filter.from.timeIntervalSince1970
        let to = filter.to.timeIntervalSince1970
        let (channels, channelArguments) = Self.channelClause(filter, alias: "r")
        return try await pool.read { db in
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            func day(_ seconds: Double) -> String {
                let c = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: seconds))
                return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
            }
            var days: [String: ReportDay] = [:]
            var firstResponses: [String: [Double]] = [:]
            var resolutions: [String: [Double]] = [:]
            // Messages: an agent's page counts what they sent; otherwise both directions.
            let agentClause = agentID == nil ? "" : " AND m.sender_user_id = ?"
            var arguments: StatementArguments = [from, to]
            arguments += channelArguments
            if let agentID { arguments += [agentID] }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.bucket("m.created_at")) AS bucket,
                        sum(CASE WHEN m.direction = 'inbound' THEN 1 ELSE 0 END) AS inbound,
                        sum(CASE WHEN m.direction = 'outbound' THEN 1 ELSE 0 END) AS outbound
                    FROM messages m JOIN rooms r ON r.id = m.room_id
                    WHERE m.created_at >= ? AND m.created_at < ?\(channels)\(agentClause)
                    GROUP BY bucket
                    """,
                arguments: arguments)
            {
                let date = day(Double((row["bucket"] as Int64) * Int64(Self.bucketSeconds)))
                days[date, default: ReportDay(date: date)].inbound += row["inbound"] as Int
                days[date, default: ReportDay(date: date)].outbound += row["outbound"] as Int
            }
            if agentID == nil {
                var opened: StatementArguments = [from, to]
                opened += channelArguments
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.bucket("e.at")) AS bucket, count(*) AS n
                        FROM room_events e JOIN rooms r ON r.id = e.room_id
                        WHERE e.at >= ? AND e.at < ? AND (e.from_status IS NULL OR e.from_status = 'resolved')\(channels)
                        GROUP BY bucket
                        """,
                    arguments: opened)
                {
                    let date = day(Double((row["bucket"] as Int64) * Int64(Self.bucketSeconds)))
                    days[date, default: ReportDay(date: date)].roomsOpened += row["n"] as Int
                }
            }
            for row in try Self.assignments(db, from: from, to: to, channels: channels, arguments: channelArguments, agent: agentID) {
                let date = day(row.at)
                days[date, default: ReportDay(date: date)].roomsAssigned += 1
                if let replied = row.repliedAt { firstResponses[date, default: []].append(replied - row.at) }
            }
            for row in try Self.resolves(db, from: from, to: to, channels: channels, arguments: channelArguments, agent: agentID) {
                let date = day(row.at)
                days[date, default: ReportDay(date: date)].roomsResolved += 1
                if let start = row.firstAssignedAt { resolutions[date, default: []].append(row.at - start) }
            }
            for (date, samples) in firstResponses { days[date]?.firstResponseAverage = ReportMath.average(samples) }
            for (date, samples) in resolutions { days[date]?.resolutionAverage = ReportMath.average(samples) }
            return days.values.sorted { $0.date < $1.date }
        }
    }
}
