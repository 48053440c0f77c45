import Foundation

/// Performance reports and channel activity.
public protocol ReportPort: Sendable {
    /// One row per agent (and per other user with activity in the window), by name.
    func agentReport(_ filter: ReportFilter) async throws -> [AgentPerformance]
    /// Rows with activity, by date then channel (UTC days).
    func channelReport(_ filter: ReportFilter) async throws -> [ChannelDay]
    /// Days with activity in the time zone's days, by date: volumes, first
    /// response and resolution averages; `agentID` narrows it to one agent's work.
    func dailyReport(_ filter: ReportFilter, agentID: Int64?, timeZone: TimeZone) async throws -> [ReportDay]
    /// The last webhook and the last delivery error, per channel id.
    func channelActivity() async throws -> [String: ChannelActivity]
}
