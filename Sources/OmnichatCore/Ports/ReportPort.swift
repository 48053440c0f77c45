import Foundation

/// Performance reports and channel activity.
public protocol ReportPort: Sendable {
    /// One row per agent (and per other user with activity in the window), by name.
    func agentReport(_ filter: ReportFilter) async throws -> [AgentPerformance]
    /// Rows with activity, by date then channel (UTC days).
    func channelReport(_ filter: ReportFilter) async throws -> [ChannelDay]
    /// The last webhook and the last delivery error, per channel id.
    func channelActivity() async throws -> [String: ChannelActivity]
}
