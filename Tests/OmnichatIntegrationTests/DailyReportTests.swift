import Foundation
import OmnichatCore
import OmnichatTesting
import Testing

/// The daily series and an agent's own page, over the reports' hand-computed
/// scenario (`ReportTests.seed`): every day of the window, in the asked time zone.
@Suite("Daily reports", .serialized, .bothEngines)
struct DailyReportTests {
    let reports = ReportTests()

    func days(_ result: HTTPResult) -> [String: [String: Any]] {
        Dictionary(((result["days"] as? [[String: Any]]) ?? []).map { ($0["date"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

    @Test("days in UTC and in Asia/Jakarta: volumes, assignments, resolves and the day's averages")
    func daily() async throws {
        try await reports.withScenario { daemon, s in
            let utc = try await call("GET", "\(daemon.base)/api/v1/reports/daily?from=2026-10-31&to=2026-11-02", token: s.sueToken)
            #expect(utc.status == 200, "\(utc.text)")
            #expect(utc["tz"] as? String == "UTC")
            #expect((utc["days"] as? [[String: Any]])?.compactMap { $0["date"] as? String } == ["2026-10-31", "2026-11-01", "2026-11-02"])
            var byDay = days(utc)
            // r5: assigned to amy 2026-10-31T23:30Z, answered 10 minutes later, resolved 00:30 the next day.
            #expect(byDay["2026-10-31"]?["rooms_assigned"] as? Int == 1)
            #expect(number(byDay["2026-10-31"]?["first_response_avg_seconds"]) == 600)
            #expect(byDay["2026-11-01"]?["rooms_resolved"] as? Int == 1)
            #expect(number(byDay["2026-11-01"]?["resolution_avg_seconds"]) == 3600)
            let day = try #require(byDay["2026-11-02"])
            #expect(day["rooms_assigned"] as? Int == 8)  // amy 4, ben 4
            #expect(day["rooms_resolved"] as? Int == 3)  // r1, r3, r2
            #expect(number(day["first_response_avg_seconds"]) == 114.286)  // (30 + 60 + 150 + 120 + 30 + 10 + 400) / 7
            #expect(number(day["resolution_avg_seconds"]) == 513.333)  // (540 + 200 + 800) / 3
            #expect((day["inbound"] as? Int ?? 0) > 0 && (day["outbound"] as? Int ?? 0) > 0)

            // The same events in Jakarta (UTC+7): r5 is all on 2026-11-01 there.
            let jakarta = try await call("GET", "\(daemon.base)/api/v1/reports/daily?from=2026-10-31&to=2026-11-02&tz=Asia/Jakarta", token: s.sueToken)
            #expect(jakarta["tz"] as? String == "Asia/Jakarta")
            #expect(jakarta["from"] as? String == "2026-10-30T17:00:00.000Z", "plain dates are days of the time zone")
            byDay = days(jakarta)
            #expect(byDay["2026-10-31"]?["rooms_assigned"] as? Int == 0)
            #expect(byDay["2026-11-01"]?["rooms_assigned"] as? Int == 1)
            #expect(byDay["2026-11-01"]?["rooms_resolved"] as? Int == 1)
            #expect(byDay["2026-11-02"]?["rooms_assigned"] as? Int == 8)

            // One agent: the same figures as the agents report over that day.
            let amyDay = days(try await call("GET", "\(daemon.base)/api/v1/reports/daily?from=2026-11-02&to=2026-11-02&agent=\(s.amy.id)", token: s.sueToken))
            #expect(amyDay["2026-11-02"]?["rooms_assigned"] as? Int == 4)
            #expect(amyDay["2026-11-02"]?["rooms_resolved"] as? Int == 2)
            #expect(number(amyDay["2026-11-02"]?["first_response_avg_seconds"]) == 80)  // 30, 60, 150
            #expect(number(amyDay["2026-11-02"]?["resolution_avg_seconds"]) == 370)  // 540, 200

            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/daily?tz=Mars/Olympus", token: s.sueToken).status == 422)
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/daily?from=2024-01-01&to=2026-01-01", token: s.sueToken).status == 422)
        }
    }

    @Test("an agent's own page: their row and series; another agent's series is 403")
    func own() async throws {
        try await reports.withScenario { daemon, s in
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/daily", token: s.amyToken).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/daily?agent=\(s.ben.id)", token: s.amyToken).status == 403)
            let mine = try await call("GET", "\(daemon.base)/api/v1/reports/daily?agent=me&from=2026-11-02&to=2026-11-02", token: s.amyToken)
            #expect(mine.status == 200)
            #expect(days(mine)["2026-11-02"]?["rooms_assigned"] as? Int == 4)
            let page = try await call("GET", "\(daemon.base)/api/v1/reports/me?from=2026-11-01&to=2026-11-03", token: s.amyToken)
            #expect(page.status == 200, "\(page.text)")
            let row = try #require(page["agent"] as? [String: Any])
            #expect(row["rooms_assigned"] as? Int == 4)
            #expect(row["rooms_resolved"] as? Int == 3)
            #expect(number(row["first_response_avg_seconds"]) == 80)
            #expect((page["days"] as? [Any])?.count == 3)
            #expect(days(page)["2026-11-02"]?["outbound"] as? Int == 5, "what she sent that day: r1 ×2, r2 350, r3 760 and 1250")
        }
    }
}
