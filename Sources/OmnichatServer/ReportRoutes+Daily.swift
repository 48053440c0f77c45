import Foundation
import Hummingbird
import OmnichatCore

/// The reports' daily series and an agent's own page.
///
/// `GET /api/v1/reports/daily?from&to&tz&channel&agent`: one row per day of the
/// window in the time zone `tz` (an IANA name such as `Asia/Jakarta`; UTC by
/// default), zeros included: volumes, rooms opened, assigned and resolved, and
/// the day's first response and resolution averages. Supervisors, admins and
/// `read` keys; an agent for `agent=me` (or their own id).
///
/// `GET /api/v1/reports/me?from&to&tz`: the signed-in user's own figures (the
/// agents report's row) and their daily series, for any role.
extension ReportRoutes {
    /// The daily series covers at most this many days.
    static let maxDailyDays = 366

    func registerDaily(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/reports/daily") { request, _ in try await daily(request) }
        v1.get("/reports/me") { request, _ in try await mine(request) }
    }

    static func timeZone(_ query: APIRoutes.Query) throws -> TimeZone {
        guard let raw = query["tz"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return TimeZone(identifier: "UTC")! }
        guard let zone = TimeZone(identifier: raw) else {
            throw APIError.unprocessable("'tz' must be an IANA time zone name such as Asia/Jakarta or UTC, not '\(raw)'")
        }
        return zone
    }

    /// The window with plain dates read as days of `zone` (`to` includes its whole day).
    static func window(_ query: APIRoutes.Query, now: Date, zone: TimeZone) throws -> (Date, Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        func local(_ raw: String, field: String, endOfDay: Bool) throws -> Date {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if let utcDay = date(text) {
                let c = utc.dateComponents([.year, .month, .day], from: utcDay)
                let start = calendar.date(from: DateComponents(year: c.year, month: c.month, day: c.day)) ?? utcDay
                return endOfDay ? (calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400)) : start
            }
            return try parse(raw, field: field, endOfDay: endOfDay)
        }
        let to = try query["to"].map { try local($0, field: "to", endOfDay: true) } ?? now
        let from = try query["from"].map { try local($0, field: "from", endOfDay: false) }
            ?? calendar.startOfDay(for: to.addingTimeInterval(-1 - Double(defaultDays - 1) * 86_400))
        guard from < to else { throw APIError.unprocessable("'from' must be before 'to'") }
        return (from, to)
    }

    /// The days of the window in `zone`, every one, as `yyyy-MM-dd` (one past `limit` at most).
    static func days(from: Date, to: Date, zone: TimeZone, limit: Int = maxDailyDays) -> [String] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var out: [String] = []
        var day = calendar.startOfDay(for: from)
        while day < to && out.count <= limit {
            let c = calendar.dateComponents([.year, .month, .day], from: day)
            out.append(String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0))
            day = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
        }
        return out
    }

    func series(_ query: APIRoutes.Query, agentID: Int64?, now: Date) async throws -> ReportBody.Daily {
        let zone = try Self.timeZone(query)
        let (from, to) = try Self.window(query, now: now, zone: zone)
        let days = Self.days(from: from, to: to, zone: zone)
        guard days.count <= Self.maxDailyDays else {
            throw APIError.unprocessable("'from' to 'to' spans more than \(Self.maxDailyDays) days")
        }
        let found = try await store.dailyReport(ReportFilter(from: from, to: to, channelIDs: query.list("channel"), now: now), agentID: agentID, timeZone: zone)
        var byDate = Dictionary(found.map { ($0.date, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = days.map { date in ReportBody.Day(byDate.removeValue(forKey: date) ?? ReportDay(date: date)) }
        // Foundation names UTC "GMT" on Linux: the answer says what was asked.
        let name = query["tz"]?.trimmingCharacters(in: .whitespaces).nilIfEmpty ?? "UTC"
        return ReportBody.Daily(from: from.iso8601, to: to.iso8601, tz: name, days: rows)
    }

    func daily(_ request: Request) async throws -> Response {
        let query = APIRoutes.Query(request)
        var agentID: Int64?
        if let raw = query["agent"] {
            if raw == "me" {
                agentID = try await api.auth.user(of: request).id
            } else {
                guard let id = try await store.resolveID(raw, .user) else { throw APIError.unprocessable("'agent' names no user ('\(raw)')") }
                agentID = id
            }
        }
        // An agent may read their own series; the rest is for readers of reports.
        if case .user(let user) = try await api.auth.principal(of: request), user.role == .agent {
            guard agentID == user.id else { throw APIError.forbidden("agents see their own figures only (agent=me)") }
        } else {
            try await reader(request)
        }
        return try JSONBody.response(encoding: try await series(query, agentID: agentID, now: Date()))
    }

    func mine(_ request: Request) async throws -> Response {
        let user = try await api.auth.user(of: request)
        let query = APIRoutes.Query(request)
        let now = Date()
        let series = try await series(query, agentID: user.id, now: now)
        let (from, to) = try Self.window(query, now: now, zone: try Self.timeZone(query))
        let row = try await store.agentReport(ReportFilter(from: from, to: to, channelIDs: query.list("channel"), now: now)).first { $0.agent.id == user.id }
            ?? AgentPerformance(agent: user)
        return try JSONBody.response(
            encoding: ReportBody.Mine(from: series.from, to: series.to, tz: series.tz, days: series.days, agent: ReportBody.AgentRow(row)))
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
