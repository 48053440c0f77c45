import Foundation
import OmnichatCore
import OmnichatTesting
@testable import OmnichatServer
import Testing

@testable import OmnichatStore

/// The reports over a hand-computed scenario: transitions, messages and
/// presence periods seeded at exact times, every number checked.
@Suite("Reports", .serialized, .bothEngines)
struct ReportTests {
    /// 2026-11-02T10:00:00Z, the scenario's origin.
    static let t0 = iso("2026-11-02T10:00:00Z")
    static func t(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }
    static func iso(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    struct Scenario {
        var amy: User, amyToken: String
        var ben: User
        var cat: User
        var sueToken: String
        var rootToken: String
        var division: Int64
    }

    func withScenario(_ body: (TestDaemon, Scenario) async throws -> Void) async throws {
        let fake = FakeNetwork()
        try await fake.start()
        let line = """
            kind = "line"
            channel_access_token = "line-token"
            channel_secret = "line-secret"
            api_base = "\(fake.baseURL)"
            """
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL), "ln": line])
        try await daemon.start()
        do {
            try await body(daemon, try await seed(daemon))
        } catch {
            await daemon.stop(); await fake.stop(); daemon.cleanUp()
            throw error
        }
        await daemon.stop(); await fake.stop(); daemon.cleanUp()
    }

    /// The scenario (times in seconds from t0 unless written out):
    ///
    /// - r1 (tg): opened 0, assigned amy 60, amy replies 90 and 120, resolved 600.
    /// - r2 (tg): opened 100, assigned amy 200, transferred to ben 300 (amy never
    ///   answered; her message at 350 comes after her assignment), ben replies 420, resolved 1000.
    /// - r3 (tg): opened to a bot 0, the bot replies 10, handover 500, assigned amy 700,
    ///   amy replies 760, resolved 900; reopened 1000, assigned amy 1100, amy replies 1250; still assigned.
    /// - r4 (ln): opened 0, assigned ben 50, ben replies 80; still assigned.
    /// - r5 (tg): opened 2026-10-31T23:00, assigned amy 23:30, amy replies 23:40,
    ///   a customer message at 2026-11-01T00:00 exactly, resolved 2026-11-01T00:30.
    /// - r7, r8 (tg): opened 1990 / 2090, assigned ben 2000 / 2100, ben replies 2010 / 2500; still assigned.
    /// - r6 (tg): opened 2026-11-04T00:00 exactly, assigned amy 01:00, amy replies 01:10.
    /// - presence: amy 2026-10-31T22:00–2026-11-01T01:00 and 2026-11-02T09:00–11:00;
    ///   ben from 2026-11-03T23:00, still online; cat 2026-10-01T08:00–09:00.
    func seed(_ daemon: TestDaemon) async throws -> Scenario {
        let store = daemon.store
        let (amy, amyToken) = try await daemon.signIn(email: "amy@example.com", online: false)
        let (ben, _) = try await daemon.signIn(email: "ben@example.com", online: false)
        let cat = try await store.createUser(NewUser(email: "cat@example.com", name: "Cat \"the, closer\"", role: .agent, passwordHash: "x"))
        let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let (_, rootToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
        let division = try await store.createDivision(name: "Night shift")
        _ = try await store.setUserDivisions(userID: cat.id, divisionIDs: [division.id])
        let t = Self.t
        let labels = RoomLabels()

        func room(_ label: String, _ status: RoomStatus, _ assignee: User? = nil, opened: Date, channel: String = "tg", bot: Bool = false) async throws {
            let id = try await store.seedRoom(id: label, channelID: channel, status: status, assigneeID: assignee?.id, divisionID: nil, createdAt: opened, customerName: "Customer")
            labels.ids[label] = id
            try await store.seedTransition(roomID: id, from: nil, to: bot ? .bot : .waiting, assigneeID: nil, actor: "customer", at: opened)
            try await store.seedMessage(roomID: id, direction: .inbound, senderUserID: nil, text: "hello", at: opened)
        }
        func assign(_ label: String, _ agent: User, from: RoomStatus = .waiting, at: Date) async throws {
            try await store.seedTransition(roomID: labels.ids[label]!, from: from, to: .assigned, assigneeID: agent.id, actor: "routing", at: at)
        }
        func reply(_ label: String, _ agent: User, at: Date) async throws {
            try await store.seedMessage(roomID: labels.ids[label]!, direction: .outbound, senderUserID: agent.id, text: "reply", at: at)
        }
        func resolve(_ label: String, _ agent: User, at: Date) async throws {
            try await store.seedTransition(roomID: labels.ids[label]!, from: .assigned, to: .resolved, assigneeID: agent.id, actor: String(agent.id), at: at)
        }

        try await room("r1", .resolved, amy, opened: t(0))
        try await assign("r1", amy, at: t(60))
        try await reply("r1", amy, at: t(90))
        try await reply("r1", amy, at: t(120))
        try await resolve("r1", amy, at: t(600))

        try await room("r2", .resolved, ben, opened: t(100))
        try await assign("r2", amy, at: t(200))
        try await assign("r2", ben, from: .assigned, at: t(300))
        try await reply("r2", amy, at: t(350))
        try await reply("r2", ben, at: t(420))
        try await resolve("r2", ben, at: t(1000))

        try await room("r3", .assigned, amy, opened: t(0), bot: true)
        try await store.seedMessage(roomID: labels.ids["r3"]!, direction: .outbound, senderUserID: nil, text: "I am a bot", at: t(10))
        try await store.seedTransition(roomID: labels.ids["r3"]!, from: .bot, to: .waiting, assigneeID: nil, actor: "key:1", at: t(500))
        try await assign("r3", amy, at: t(700))
        try await reply("r3", amy, at: t(760))
        try await resolve("r3", amy, at: t(900))
        try await store.seedTransition(roomID: labels.ids["r3"]!, from: .resolved, to: .waiting, assigneeID: nil, actor: "customer", at: t(1000))
        try await store.seedMessage(roomID: labels.ids["r3"]!, direction: .inbound, senderUserID: nil, text: "me again", at: t(1000))
        try await assign("r3", amy, at: t(1100))
        try await reply("r3", amy, at: t(1250))

        try await room("r4", .assigned, ben, opened: t(0), channel: "ln")
        try await assign("r4", ben, at: t(50))
        try await reply("r4", ben, at: t(80))

        try await room("r5", .resolved, amy, opened: Self.iso("2026-10-31T23:00:00Z"))
        try await assign("r5", amy, at: Self.iso("2026-10-31T23:30:00Z"))
        try await reply("r5", amy, at: Self.iso("2026-10-31T23:40:00Z"))
        try await store.seedMessage(roomID: labels.ids["r5"]!, direction: .inbound, senderUserID: nil, text: "thanks", at: Self.iso("2026-11-01T00:00:00Z"))
        try await resolve("r5", amy, at: Self.iso("2026-11-01T00:30:00Z"))

        try await room("r7", .assigned, ben, opened: t(1990))
        try await assign("r7", ben, at: t(2000))
        try await reply("r7", ben, at: t(2010))
        try await room("r8", .assigned, ben, opened: t(2090))
        try await assign("r8", ben, at: t(2100))
        try await reply("r8", ben, at: t(2500))

        try await room("r6", .assigned, amy, opened: Self.iso("2026-11-04T00:00:00Z"))
        try await assign("r6", amy, at: Self.iso("2026-11-04T01:00:00Z"))
        try await reply("r6", amy, at: Self.iso("2026-11-04T01:10:00Z"))

        try await store.seedPresence(userID: amy.id, from: Self.iso("2026-10-31T22:00:00Z"), until: Self.iso("2026-11-01T01:00:00Z"))
        try await store.seedPresence(userID: amy.id, from: Self.iso("2026-11-02T09:00:00Z"), until: Self.iso("2026-11-02T11:00:00Z"))
        try await store.seedPresence(userID: ben.id, from: Self.iso("2026-11-03T23:00:00Z"), until: nil)
        try await store.seedPresence(userID: cat.id, from: Self.iso("2026-10-01T08:00:00Z"), until: Self.iso("2026-10-01T09:00:00Z"))
        return Scenario(amy: amy, amyToken: amyToken, ben: ben, cat: cat, sueToken: sueToken, rootToken: rootToken, division: division.id)
    }

    func report(_ daemon: TestDaemon, _ token: String, _ query: String) async throws -> HTTPResult {
        let result = try await call("GET", "\(daemon.base)/api/v1/reports/agents\(query)", token: token)
        #expect(result.status == 200, "\(query): \(result.text)")
        return result
    }

    func rows(_ result: HTTPResult) -> [Int64: [String: Any]] {
        var out: [Int64: [String: Any]] = [:]
        for row in result["agents"] as? [[String: Any]] ?? [] {
            if let id = (row["agent"] as? [String: Any])?["id"].asID { out[id] = row }
        }
        return out
    }

    func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }

    @Test("agents report over 2026-11-01..03: every number, averages and medians with odd and even counts")
    func agentsReport() async throws {
        try await withScenario { daemon, s in
            let result = try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03")
            #expect(result["from"] as? String == "2026-11-01T00:00:00.000Z")
            #expect(result["to"] as? String == "2026-11-04T00:00:00.000Z", "a date as 'to' includes that whole day")
            let list = try #require(result["agents"] as? [[String: Any]])
            #expect(list.compactMap { ($0["agent"] as? [String: Any])?["id"].asID } == [s.amy.id, s.ben.id, s.cat.id], "agents by name; idle supervisors and admins left out")
            let rows = rows(result)

            let amy = try #require(rows[s.amy.id])
            #expect((amy["agent"] as? [String: Any])?["email"] as? String == "amy@example.com")
            #expect((amy["agent"] as? [String: Any])?["name"] as? String == "amy")
            #expect(amy["rooms_assigned"] as? Int == 4)  // r1 60, r2 200, r3 700, r3 1100
            #expect(amy["rooms_resolved"] as? Int == 3)  // r1, r3 (900), r5 (00:30)
            #expect(amy["messages_sent"] as? Int == 5)  // r1 ×2, r2 350, r3 760, r3 1250
            #expect(number(amy["first_response_avg_seconds"]) == 80)  // 30, 60, 150
            #expect(number(amy["first_response_median_seconds"]) == 60)
            #expect(number(amy["resolution_avg_seconds"]) == 1446.667)  // (540 + 200 + 3600) / 3
            #expect(amy["open_rooms"] as? Int == 2)  // r3, r6: open now
            #expect(amy["online_seconds"] as? Int == 10_800)  // 1 h of the first period, the 2 h one

            let ben = try #require(rows[s.ben.id])
            #expect(ben["rooms_assigned"] as? Int == 4)  // r2 300 (transfer), r4 50, r7, r8
            #expect(ben["rooms_resolved"] as? Int == 1)  // r2
            #expect(ben["messages_sent"] as? Int == 4)
            #expect(number(ben["first_response_avg_seconds"]) == 140)  // 120, 30, 10, 400
            #expect(number(ben["first_response_median_seconds"]) == 75)  // (30 + 120) / 2
            #expect(number(ben["resolution_avg_seconds"]) == 800)  // r2: first assignment 200 (amy) to 1000
            #expect(ben["open_rooms"] as? Int == 3)  // r4, r7, r8
            #expect(ben["online_seconds"] as? Int == 3_600)  // open period: 23:00 to the window's end

            let cat = try #require(rows[s.cat.id])
            #expect(cat["rooms_assigned"] as? Int == 0)
            #expect(cat["rooms_resolved"] as? Int == 0)
            #expect(cat["messages_sent"] as? Int == 0)
            #expect(cat["first_response_avg_seconds"] is NSNull)
            #expect(cat["first_response_median_seconds"] is NSNull)
            #expect(cat["resolution_avg_seconds"] is NSNull)
            #expect(cat["open_rooms"] as? Int == 0)
            #expect(cat["online_seconds"] as? Int == 0)

            // Admins may read it too; agents may not.
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/agents?from=2026-11-01&to=2026-11-03", token: s.rootToken).status == 200)
            let forbidden = try await call("GET", "\(daemon.base)/api/v1/reports/agents", token: s.amyToken)
            #expect(forbidden.status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/channels", token: s.amyToken).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/agents").status == 401)
        }
    }

    @Test("window boundaries: from is included, to is excluded; date-times with offsets")
    func boundaries() async throws {
        try await withScenario { daemon, s in
            // [t0+60, t0+300): amy's r1 assignment exactly at 'from' counts, ben's transfer exactly at 'to' does not.
            let result = try await report(daemon, s.sueToken, "?from=2026-11-02T10:01:00Z&to=2026-11-02T10:05:00.000Z")
            #expect(result["from"] as? String == "2026-11-02T10:01:00.000Z")
            #expect(result["to"] as? String == "2026-11-02T10:05:00.000Z")
            let table = rows(result)
            let amy = try #require(table[s.amy.id])
            #expect(amy["rooms_assigned"] as? Int == 2)  // r1 60, r2 200
            #expect(amy["rooms_resolved"] as? Int == 0)
            #expect(amy["messages_sent"] as? Int == 2)  // 90, 120
            #expect(number(amy["first_response_avg_seconds"]) == 30)  // r2's assignment ended unanswered
            #expect(number(amy["first_response_median_seconds"]) == 30)
            #expect(amy["resolution_avg_seconds"] is NSNull)
            #expect(amy["online_seconds"] as? Int == 240)
            let ben = try #require(table[s.ben.id])
            #expect(ben["rooms_assigned"] as? Int == 0)  // r4 at 50 is before, r2 at 300 is 'to'
            #expect(ben["messages_sent"] as? Int == 1)  // r4 at 80
            #expect(ben["first_response_avg_seconds"] is NSNull)
            #expect(ben["online_seconds"] as? Int == 0)

            // The same window written with offsets (encoded '+', and a raw '+' that arrives as a space).
            let offsetQueries: [String] = ["?from=2026-11-02T17:01:00%2B07:00&to=2026-11-02T17:05:00%2B07:00", "?from=2026-11-02T17:01:00+07:00&to=2026-11-02T10:05:00"]
            for query in offsetQueries {
                let same = try await report(daemon, s.sueToken, query)
                #expect(same["from"] as? String == "2026-11-02T10:01:00.000Z", "\(query)")
                #expect(same["to"] as? String == "2026-11-02T10:05:00.000Z", "\(query)")
                #expect(rows(same)[s.amy.id]?["rooms_assigned"] as? Int == 2)
            }

            // A resolve whose session began before the window: r5's 3600 s from 23:30 the day before.
            let night = rows(try await report(daemon, s.sueToken, "?from=2026-11-01T00:00:00Z&to=2026-11-01T01:00:00Z"))
            #expect(night[s.amy.id]?["rooms_resolved"] as? Int == 1)
            #expect(number(night[s.amy.id]?["resolution_avg_seconds"]) == 3600)
            #expect(night[s.amy.id]?["rooms_assigned"] as? Int == 0)
            #expect(night[s.amy.id]?["messages_sent"] as? Int == 0)
            #expect(night[s.amy.id]?["online_seconds"] as? Int == 3600)

            // The default window: the last seven days, up to now; an open period counts until now.
            let recent = try await report(daemon, s.sueToken, "")
            let to = try #require((recent["to"] as? String).flatMap(Self.parseMillis))
            let from = try #require((recent["from"] as? String).flatMap(Self.parseMillis))
            #expect(abs(to.timeIntervalSinceNow) < 60)
            let span: Double = to.timeIntervalSince(from)
            #expect(abs(span - 604_800) < 0.002)
            let recentRows = rows(recent)
            #expect(recentRows[s.ben.id]?["online_seconds"] as? Int == 7 * 86_400)
            #expect(recentRows[s.amy.id]?["rooms_assigned"] as? Int == 0)
            #expect(recentRows[s.amy.id]?["open_rooms"] as? Int == 2, "open rooms are now, whatever the window")
            // Only 'from': up to now.
            let since = try await report(daemon, s.sueToken, "?from=2026-11-04")
            #expect(rows(since)[s.amy.id]?["rooms_assigned"] as? Int == 1)  // r6

            // Bad dates are 422 naming the parameter.
            let badCases: [(String, String)] = [
                ("?from=2026-13-01", "'from'"), ("?from=2026-02-30", "'from'"), ("?to=yesterday", "'to'"), ("?from=2026-11-02T25:00:00Z", "'from'"), ("?from=2026-02-30T10:00:00Z", "'from'"),
                ("?from=2026-11-03&to=2026-11-01", "'from'"), ("?from=2026-11-02T10:00:00Z&to=2026-11-02T10:00:00Z", "'from'"),
                ("?format=xml", "'format'"), ("?division=div_nope", "'division'"),
            ]
            for (query, field) in badCases {
                let bad = try await call("GET", "\(daemon.base)/api/v1/reports/agents\(query)", token: s.sueToken)
                #expect(bad.status == 422, "\(query)")
                let message = (bad["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.contains(field), "\(query): \(bad.text)")
            }
            let bad = try await call("GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-01&to=nope", token: s.sueToken)
            #expect(bad.status == 422)
            #expect(try await call("GET", "\(daemon.base)/api/v1/reports/channels?from=2024-01-01&to=2026-01-01", token: s.sueToken).status == 422)
        }
    }

    static func parseMillis(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    @Test("division and channel filters")
    func filters() async throws {
        try await withScenario { daemon, s in
            let night = try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03&division=\(s.division)")
            #expect((night["agents"] as? [[String: Any]])?.compactMap { ($0["agent"] as? [String: Any])?["id"].asID } == [s.cat.id])
            let general = try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03&division=div_default")
            #expect(Set(rows(general).keys) == [s.amy.id, s.ben.id], "agents with no division are in the default one")

            let line = rows(try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03&channel=ln"))
            let ben = try #require(line[s.ben.id])
            #expect(ben["rooms_assigned"] as? Int == 1)
            #expect(ben["rooms_resolved"] as? Int == 0)
            #expect(ben["messages_sent"] as? Int == 1)
            #expect(number(ben["first_response_avg_seconds"]) == 30)
            #expect(number(ben["first_response_median_seconds"]) == 30)
            #expect(ben["resolution_avg_seconds"] is NSNull)
            #expect(ben["open_rooms"] as? Int == 1)
            #expect(ben["online_seconds"] as? Int == 3_600, "presence is not per channel")
            let amy = try #require(line[s.amy.id])
            #expect(amy["rooms_assigned"] as? Int == 0)
            #expect(amy["messages_sent"] as? Int == 0)
            #expect(amy["open_rooms"] as? Int == 0)

            let telegram = rows(try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03&channel=tg"))
            #expect(telegram[s.ben.id]?["rooms_assigned"] as? Int == 3)
            #expect(number(telegram[s.ben.id]?["first_response_median_seconds"]) == 120)  // 10, 120, 400
            #expect(telegram[s.ben.id]?["open_rooms"] as? Int == 2)
            #expect(telegram[s.amy.id]?["rooms_assigned"] as? Int == 4)
            let both = rows(try await report(daemon, s.sueToken, "?from=2026-11-01&to=2026-11-03&channel=tg,ln"))
            #expect(both[s.ben.id]?["rooms_assigned"] as? Int == 4)
        }
    }

    @Test("channels report: UTC days × channels with zeros, boundaries, channel filter")
    func channelsReport() async throws {
        try await withScenario { daemon, s in
            let result = try await call("GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-01&to=2026-11-03", token: s.sueToken)
            #expect(result.status == 200)
            #expect(result["from"] as? String == "2026-11-01T00:00:00.000Z")
            let days = try #require(result["days"] as? [[String: Any]])
            let flat = days.map { "\($0["date"] as? String ?? "") \($0["channel"] as? String ?? "") \($0["inbound"] as? Int ?? -1) \($0["outbound"] as? Int ?? -1) \($0["rooms_opened"] as? Int ?? -1)" }
            #expect(
                flat == [
                    "2026-11-01 ln 0 0 0",
                    "2026-11-01 tg 1 0 0",  // r5's message at 00:00 exactly; its opening was the day before
                    "2026-11-02 ln 1 1 1",  // r4
                    "2026-11-02 tg 6 9 6",  // r1 r2 r3 r3(again) r7 r8 in; 2+2+3+1+1 out; 5 rooms + r3 reopened
                    "2026-11-03 ln 0 0 0",
                    "2026-11-03 tg 0 0 0",
                ])
            // r6 opened at 2026-11-04T00:00 exactly: the next window has it.
            let next = try await call("GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-04T00:00:00Z&to=2026-11-04T06:00:00Z&channel=tg", token: s.sueToken)
            let nextDays = try #require(next["days"] as? [[String: Any]])
            #expect(nextDays.count == 1)
            #expect(nextDays.first?["date"] as? String == "2026-11-04")
            #expect(nextDays.first?["channel"] as? String == "tg")
            #expect(nextDays.first?["inbound"] as? Int == 1)
            #expect(nextDays.first?["outbound"] as? Int == 1)
            #expect(nextDays.first?["rooms_opened"] as? Int == 1)
        }
    }

    @Test("CSV: Accept text/csv gives RFC 4180 with a header row; JSON stays the default")
    func csv() async throws {
        try await withScenario { daemon, s in
            let agents = try await call(
                "GET", "\(daemon.base)/api/v1/reports/agents?from=2026-11-01&to=2026-11-03", token: s.sueToken, headers: [("Accept", "text/csv")])
            #expect(agents.status == 200)
            #expect(agents.headers.first { $0.name.lowercased() == "content-type" }?.value == "text/csv; charset=utf-8")
            #expect(
                agents.text
                    == "agent_id,agent_name,agent_email,rooms_assigned,rooms_resolved,messages_sent,first_response_avg_seconds,first_response_median_seconds,resolution_avg_seconds,open_rooms,online_seconds\r\n"
                    + "\(s.amy.id),amy,amy@example.com,4,3,5,80,60,1446.667,2,10800\r\n"
                    + "\(s.ben.id),ben,ben@example.com,4,1,4,140,75,800,3,3600\r\n"
                    + "\(s.cat.id),\"Cat \"\"the, closer\"\"\",cat@example.com,0,0,0,,,,0,0\r\n")

            // Formula injection: an agent named like a formula is text in the admin's spreadsheet.
            _ = try await daemon.store.setName(userID: s.cat.id, name: "=HYPERLINK(\"http://evil.example/\",\"pay\")")
            let injected = try await call(
                "GET", "\(daemon.base)/api/v1/reports/agents?from=2026-11-01&to=2026-11-03&format=csv", token: s.sueToken)
            #expect(injected.text.contains("\(s.cat.id),\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"pay\"\")\",cat@example.com"), "\(injected.text)")
            #expect(!injected.text.contains(",=HYPERLINK") && !injected.text.contains(",\"=HYPERLINK"))
            #expect(ReportRoutes.field("@SUM(A1)") == "'@SUM(A1)" && ReportRoutes.field("+1+2") == "'+1+2" && ReportRoutes.field("\tx") == "'\tx")
            #expect(ReportRoutes.field("-12.5") == "-12.5" && ReportRoutes.field("plain") == "plain", "numbers and text stay as they are")

            let channels = try await call(
                "GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-02&to=2026-11-02", token: s.sueToken,
                headers: [("Accept", "application/json;q=0.5, text/csv")])
            #expect(channels.headers.first { $0.name.lowercased() == "content-type" }?.value == "text/csv; charset=utf-8")
            #expect(channels.text == "date,channel,inbound,outbound,rooms_opened\r\n2026-11-02,ln,1,1,1\r\n2026-11-02,tg,6,9,6\r\n")
            let byQuery = try await call("GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-02&to=2026-11-02&format=csv", token: s.sueToken)
            #expect(byQuery.text == channels.text)

            for accept in ["application/json", "*/*", "application/json, text/csv;q=0.9", "text/csv;q=0, application/json"] {
                let json = try await call(
                    "GET", "\(daemon.base)/api/v1/reports/channels?from=2026-11-02&to=2026-11-02", token: s.sueToken, headers: [("Accept", accept)])
                #expect(json.headers.first { $0.name.lowercased() == "content-type" }?.value.hasPrefix("application/json") == true, "\(accept)")
                #expect((json["days"] as? [Any])?.count == 2)
            }
        }
    }

    @Test("presence periods follow going online and offline through the API")
    func presence() async throws {
        try await withScenario { daemon, s in
            let before = Date()
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": true], token: s.amyToken).status == 200)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": true], token: s.amyToken).status == 200)
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": false], token: s.amyToken).status == 200)
            let periods = try await daemon.store.presencePeriods(userID: s.amy.id)
            #expect(periods.count == 3, "two seeded, one from the API (going online twice opens one)")
            let last = try #require(periods.last)
            #expect(abs(last.0.timeIntervalSince(before)) < 5)
            let end = try #require(last.1)
            #expect(end.timeIntervalSince(last.0) >= 1)
            let today = rows(try await report(daemon, s.sueToken, "?from=\(Self.dayString(before))"))
            #expect((today[s.amy.id]?["online_seconds"] as? Int ?? 0) >= 1)
        }
    }

    static func dayString(_ date: Date) -> String {
        String(ISO8601DateFormatter().string(from: date).prefix(10))
    }

    @Test("sessions and report math")
    func math() {
        #expect(ReportMath.median([3, 1, 2]) == 2)
        #expect(ReportMath.median([4, 1, 3, 2]) == 2.5)
        #expect(ReportMath.median([]) == nil)
        #expect(ReportMath.average([1, 2]) == 1.5)
        #expect(ReportMath.overlap(start: 0, end: 10, from: 5, to: 20) == 5)
        #expect(ReportMath.overlap(start: 0, end: 4, from: 5, to: 20) == 0)
        let d = { (s: Double) in Date(timeIntervalSince1970: s) }
        let sessions = RoomSession.sessions(from: [
            RoomTransition(roomID: 7, channelID: "c", from: nil, to: .bot, assigneeID: nil, actor: "customer", at: d(0)),
            RoomTransition(roomID: 7, channelID: "c", from: .bot, to: .waiting, assigneeID: nil, actor: "bot", at: d(1)),
            RoomTransition(roomID: 7, channelID: "c", from: .waiting, to: .assigned, assigneeID: 1, actor: "routing", at: d(2)),
            RoomTransition(roomID: 7, channelID: "c", from: .assigned, to: .assigned, assigneeID: 2, actor: "a", at: d(3)),
            RoomTransition(roomID: 7, channelID: "c", from: .assigned, to: .assigned, assigneeID: 1, actor: "b", at: d(4)),
            RoomTransition(roomID: 7, channelID: "c", from: .assigned, to: .resolved, assigneeID: 1, actor: "sup", at: d(5)),
            RoomTransition(roomID: 7, channelID: "c", from: .resolved, to: .waiting, assigneeID: nil, actor: "customer", at: d(6)),
        ])
        #expect(sessions == [
            RoomSession(number: 1, startedAt: d(0), endedAt: d(5), agentIDs: [1, 2], resolvedBy: "sup"),
            RoomSession(number: 2, startedAt: d(6)),
        ])
    }
}

/// Test rooms by the names a scenario gives them.
final class RoomLabels: @unchecked Sendable {
    var ids: [String: Int64] = [:]
}
