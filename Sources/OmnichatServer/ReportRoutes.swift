import Foundation
import Hummingbird
import OmnichatCore

/// Performance reports for supervisors and admins, as JSON or CSV
/// (`Accept: text/csv` or `?format=csv`). The formulas are in `docs/reports.md`.
struct ReportRoutes: Sendable {
    let api: APIRoutes
    var store: any Store { api.store }

    static let defaultDays = 7
    /// The channel report has a row per day and channel: its window is capped.
    static let maxChannelReportDays = 366

    func register(on router: Router<some RequestContext>) {
        let v1 = router.group("/api/v1")
        v1.get("/reports/agents") { request, _ in try await agents(request) }
        v1.get("/reports/channels") { request, _ in try await channels(request) }
        registerDaily(on: router)
    }

    /// Supervisors and admins, or a reporting tool's `read` API key.
    func reader(_ request: Request) async throws {
        switch try await api.auth.principal(of: request) {
        case .user(let user) where user.role >= .supervisor: return
        case .user: throw APIError.forbidden("reports need the supervisor role")
        case .key(let key) where key.scope == .read: return
        case .key(let key): throw APIError.forbidden("API key scope '\(key.scope.rawValue)' cannot read reports")
        }
    }

    // MARK: Handlers

    /// `?from=&to=&division=&channel=` → `{"from","to","agents":[…]}`.
    func agents(_ request: Request) async throws -> Response {
        try await reader(request)
        let query = APIRoutes.Query(request)
        let csv = try Self.wantsCSV(request, query)
        let now = Date()
        let (from, to) = try Self.window(query, now: now)
        var filter = ReportFilter(from: from, to: to, channelIDs: query.list("channel"), now: now)
        if let raw = query["division"] {
            let division = try await store.resolveID(raw, .division) ?? 0
            guard try await store.divisions().contains(where: { $0.id == division }) else {
                throw APIError.unprocessable("'division' names no division ('\(raw)')")
            }
            filter.divisionID = division
        }
        let rows = try await store.agentReport(filter)
        if csv {
            return Self.csv(
                name: "agents",
                header: [
                    "agent_id", "agent_name", "agent_email", "rooms_assigned", "rooms_resolved", "messages_sent", "first_response_avg_seconds",
                    "first_response_median_seconds", "resolution_avg_seconds", "open_rooms", "online_seconds",
                ],
                rows: rows.map { r in
                    [
                        String(r.agent.id), r.agent.name, r.agent.email, String(r.roomsAssigned), String(r.roomsResolved), String(r.messagesSent),
                        Self.text(r.firstResponseAverage), Self.text(r.firstResponseMedian), Self.text(r.resolutionAverage),
                        String(r.openRooms), String(Self.wholeSeconds(r.onlineSeconds)),
                    ]
                })
        }
        return try JSONBody.response(encoding: ReportBody.Agents(from: from.iso8601, to: to.iso8601, agents: rows.map(ReportBody.AgentRow.init)))
    }

    /// `?from=&to=&channel=` → `{"from","to","days":[…]}`: a row for every UTC
    /// day of the window and every configured channel (or those asked for),
    /// zeros included, plus rows of channels no longer configured that had activity.
    func channels(_ request: Request) async throws -> Response {
        try await reader(request)
        let query = APIRoutes.Query(request)
        let csv = try Self.wantsCSV(request, query)
        let now = Date()
        let (from, to) = try Self.window(query, now: now)
        let days = Self.days(from: from, to: to)
        guard days.count <= Self.maxChannelReportDays else {
            throw APIError.unprocessable("'from' to 'to' spans \(days.count) days; the channel report covers at most \(Self.maxChannelReportDays)")
        }
        let asked = query.list("channel")
        let filter = ReportFilter(from: from, to: to, channelIDs: asked, now: now)
        let found = try await store.channelReport(filter)
        var byKey = Dictionary(found.map { ("\($0.date)|\($0.channelID)", $0) }, uniquingKeysWith: { a, _ in a })
        var channels = asked.isEmpty ? api.channels.all.map(\.id) : asked
        for row in found where !channels.contains(row.channelID) { channels.append(row.channelID) }
        channels.sort()
        var rows: [ChannelDay] = []
        for day in days {
            for channel in channels {
                rows.append(byKey.removeValue(forKey: "\(day)|\(channel)") ?? ChannelDay(date: day, channelID: channel))
            }
        }
        if csv {
            return Self.csv(
                name: "channels", header: ["date", "channel", "inbound", "outbound", "rooms_opened"],
                rows: rows.map { [$0.date, $0.channelID, String($0.inbound), String($0.outbound), String($0.roomsOpened)] })
        }
        return try JSONBody.response(encoding: ReportBody.Channels(from: from.iso8601, to: to.iso8601, days: rows.map(ReportBody.ChannelDayRow.init)))
    }

    // MARK: The window

    /// `from` and `to`: ISO 8601 dates (`2026-11-27`, UTC days; `to` includes
    /// its whole day) or date-times (with an offset, or UTC without one).
    /// Defaults: `to` now, `from` seven days before `to`.
    static func window(_ query: APIRoutes.Query, now: Date) throws -> (Date, Date) {
        let to = try query["to"].map { try parse($0, field: "to", endOfDay: true) } ?? now
        let from = try query["from"].map { try parse($0, field: "from", endOfDay: false) } ?? to.addingTimeInterval(-Double(defaultDays) * 86_400)
        guard from < to else { throw APIError.unprocessable("'from' must be before 'to'") }
        return (from, to)
    }

    static func parse(_ raw: String, field: String, endOfDay: Bool) throws -> Date {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if let day = date(text) { return endOfDay ? day.addingTimeInterval(86_400) : day }
        if let time = dateTime(text) { return time }
        throw APIError.unprocessable(
            "'\(field)' must be an ISO 8601 date (2026-11-27) or date-time (2026-11-27T09:30:00Z), not '\(raw)'")
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// `yyyy-MM-dd` as UTC midnight; nil unless it is a real date.
    static func date(_ text: String) -> Date? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            let date = utc.date(from: DateComponents(year: year, month: month, day: day))
        else { return nil }
        let back = utc.dateComponents([.year, .month, .day], from: date)
        guard back.year == year, back.month == month, back.day == day else { return nil }
        return date
    }

    static func dateTime(_ text: String) -> Date? {
        // The formatter rolls 2026-02-30 over to March: the date part must be a real date.
        guard text.count > 10, date(String(text.prefix(10))) != nil else { return nil }
        // A `+` offset arrives as a space when the query string was not encoded.
        var candidates = [text]
        if text.contains(" ") {
            if let range = text.range(of: " ", options: .backwards) { candidates.append(text.replacingCharacters(in: range, with: "+")) }
            candidates.append(text.replacingOccurrences(of: " ", with: "T"))
        }
        for candidate in candidates {
            for value in [candidate, candidate + "Z"] {
                for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds]] {
                    let formatter = ISO8601DateFormatter()
                    formatter.formatOptions = options
                    if let date = formatter.date(from: value) { return date }
                }
            }
        }
        return nil
    }

    /// The UTC days (`yyyy-MM-dd`) the window [from, to) touches.
    static func days(from: Date, to: Date) -> [String] {
        days(from: from, to: to, zone: utc.timeZone, limit: maxChannelReportDays)
    }

    // MARK: Output

    /// Durations to the millisecond.
    static func rounded(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
    static func wholeSeconds(_ seconds: Double) -> Int { Int(seconds.rounded()) }

    static func text(_ seconds: Double?) -> String {
        guard let seconds else { return "" }
        let value = rounded(seconds)
        if value == value.rounded() { return String(Int(value)) }
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// CSV when `format=csv`, or when `Accept` prefers `text/csv` to JSON.
    static func wantsCSV(_ request: Request, _ query: APIRoutes.Query) throws -> Bool {
        if let format = query["format"] {
            switch format.lowercased() {
            case "csv": return true
            case "json": return false
            default: throw APIError.unprocessable("'format' must be json or csv")
            }
        }
        guard let accept = request.headers[.accept] else { return false }
        var best: (q: Double, csv: Bool)?
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            let csv = type == "text/csv"
            guard csv || ["application/json", "application/*", "*/*"].contains(type) else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") { q = Double(parameter.dropFirst(2)) ?? 1 }
            guard q > 0 else { continue }
            if best == nil || q > best!.q { best = (q, csv) }
        }
        return best?.csv ?? false
    }

    /// RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes doubled.
    static func csv(name: String, header: [String], rows: [[String]]) -> Response {
        var text = ""
        for line in [header] + rows {
            text += line.map(field).joined(separator: ",") + "\r\n"
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)-report.csv\""],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab or
    /// CR first: an agent named `=HYPERLINK(…)`) gets a leading `'`, which
    /// spreadsheets show as text; numbers stay numbers.
    static func field(_ raw: String) -> String {
        var value = raw
        if let first = value.unicodeScalars.first, ["=", "+", "-", "@", "\t", "\r"].contains(first), Double(value) == nil {
            value = "'" + value
        }
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
