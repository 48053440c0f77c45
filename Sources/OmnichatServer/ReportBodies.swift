import Foundation
import OmnichatCore

/// The report routes' bodies (`docs/openapi.yaml`: AgentReportRow,
/// ChannelReportDay, DailySeries). Durations are seconds to the millisecond.
enum ReportBody {
    struct AgentRef: Encodable, Sendable {
        var id: Int64
        var name: String
        var email: String
    }

    struct AgentRow: Encodable, Sendable {
        var agent: AgentRef
        var roomsAssigned: Int
        var roomsResolved: Int
        var messagesSent: Int
        @Nullable var firstResponseAvgSeconds: Double?
        @Nullable var firstResponseMedianSeconds: Double?
        @Nullable var resolutionAvgSeconds: Double?
        var openRooms: Int
        var onlineSeconds: Int

        init(_ r: AgentPerformance) {
            agent = AgentRef(id: r.agent.id, name: r.agent.name, email: r.agent.email)
            roomsAssigned = r.roomsAssigned
            roomsResolved = r.roomsResolved
            messagesSent = r.messagesSent
            firstResponseAvgSeconds = r.firstResponseAverage.map(ReportRoutes.rounded)
            firstResponseMedianSeconds = r.firstResponseMedian.map(ReportRoutes.rounded)
            resolutionAvgSeconds = r.resolutionAverage.map(ReportRoutes.rounded)
            openRooms = r.openRooms
            onlineSeconds = ReportRoutes.wholeSeconds(r.onlineSeconds)
        }
    }

    struct Agents: Encodable, Sendable {
        var from: String
        var to: String
        var agents: [AgentRow]
    }

    struct ChannelDayRow: Encodable, Sendable {
        var date: String
        var channel: String
        var inbound: Int
        var outbound: Int
        var roomsOpened: Int

        init(_ d: ChannelDay) {
            date = d.date
            channel = d.channelID
            inbound = d.inbound
            outbound = d.outbound
            roomsOpened = d.roomsOpened
        }
    }

    struct Channels: Encodable, Sendable {
        var from: String
        var to: String
        var days: [ChannelDayRow]
    }

    struct Day: Encodable, Sendable {
        var date: String
        var inbound: Int
        var outbound: Int
        var roomsOpened: Int
        var roomsAssigned: Int
        var roomsResolved: Int
        @Nullable var firstResponseAvgSeconds: Double?
        @Nullable var resolutionAvgSeconds: Double?

        init(_ d: ReportDay) {
            date = d.date
            inbound = d.inbound
            outbound = d.outbound
            roomsOpened = d.roomsOpened
            roomsAssigned = d.roomsAssigned
            roomsResolved = d.roomsResolved
            firstResponseAvgSeconds = d.firstResponseAverage.map(ReportRoutes.rounded)
            resolutionAvgSeconds = d.resolutionAverage.map(ReportRoutes.rounded)
        }
    }

    struct Daily: Encodable, Sendable {
        var from: String
        var to: String
        var tz: String
        var days: [Day]
    }

    /// `GET /api/v1/reports/me`: the daily series and the caller's row.
    struct Mine: Encodable, Sendable {
        var from: String
        var to: String
        var tz: String
        var days: [Day]
        var agent: AgentRow
    }
}
