import Foundation
import OmnichatCore
import OmnichatTesting
import OmnichatServer
import Testing

@testable import OmnichatStore

/// The inbox through the real server: room filters and search, unread counts
/// and read marks, internal notes, tags, the room detail's customer and sessions.
@Suite("Inbox", .serialized, .bothEngines)
struct InboxTests {
    func withDaemon(_ body: (TestDaemon, FakeNetwork) async throws -> Void) async throws {
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
            try await body(daemon, fake)
        } catch {
            await daemon.stop(); await fake.stop(); daemon.cleanUp()
            throw error
        }
        await daemon.stop(); await fake.stop(); daemon.cleanUp()
    }

    func rooms(_ daemon: TestDaemon, _ token: String, _ query: String = "") async throws -> [[String: Any]] {
        let result = try await call("GET", "\(daemon.base)/api/v1/rooms\(query)", token: token)
        #expect(result.status == 200, "GET /rooms\(query): \(result.text)")
        return result["rooms"] as? [[String: Any]] ?? []
    }

    func ids(_ daemon: TestDaemon, _ token: String, _ query: String = "") async throws -> [Int64] {
        try await rooms(daemon, token, query).compactMap { $0["id"].asID }
    }

    func status(_ daemon: TestDaemon, _ token: String, _ query: String) async throws -> Int {
        try await call("GET", "\(daemon.base)/api/v1/rooms\(query)", token: token).status
    }

    func errorMessage(_ result: HTTPResult) -> String {
        (result["error"] as? [String: Any])?["message"] as? String ?? ""
    }

    /// A customer message; waits until its room exists and returns the room id.
    func customerWrites(_ daemon: TestDaemon, update: Int, chat: Int64, text: String, name: String, as token: String) async throws -> Int64 {
        let result = try await daemon.postUpdate(telegramUpdate(update, chat: chat, text: text, name: name))
        #expect(result.status == 200)
        var id: Int64?
        try await eventually("the room of chat \(chat)") {
            let list = try await rooms(daemon, token)
            id = list.first { ($0["contact"] as? [String: Any])?["external_id"] as? String == String(chat) }?["id"].asID
            return id != nil
        }
        return id!
    }

    func waitForStatus(_ daemon: TestDaemon, _ token: String, _ roomID: Int64, _ status: String, assignee: Int64? = nil) async throws {
        try await eventually("room \(roomID) to be \(status)") {
            let room = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)", token: token)["room"] as? [String: Any]
            return room?["status"] as? String == status
                && (assignee == nil || (room?["assignee"] as? [String: Any])?["id"].asID == assignee)
        }
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// Four Telegram rooms (two for ann, one for bo, one waiting in another
    /// division), a LINE room seeded in the store, and a supervisor.
    struct Fixture {
        var ann: User, annToken: String
        var bo: User, boToken: String
        var sue: User, sueToken: String
        var r1: Int64, r2: Int64, r3: Int64, r4: Int64, r5: Int64
        var billing: Int64
    }

    func fixture(_ daemon: TestDaemon) async throws -> Fixture {
        let (sue, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
        let r1 = try await customerWrites(daemon, update: 1, chat: 1, text: "Where is my PARCEL?", name: "Alice", as: sueToken)
        try await waitForStatus(daemon, sueToken, r1, "assigned", assignee: ann.id)
        let r2 = try await customerWrites(daemon, update: 2, chat: 2, text: "I want my money back", name: "Bruno", as: sueToken)
        try await waitForStatus(daemon, sueToken, r2, "assigned", assignee: ann.id)
        let (bo, boToken) = try await daemon.signIn(email: "bo@example.com")
        let r3 = try await customerWrites(daemon, update: 3, chat: 3, text: "hello there", name: "ÉLODIE", as: sueToken)
        try await waitForStatus(daemon, sueToken, r3, "assigned", assignee: bo.id)
        for token in [annToken, boToken] {
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": false], token: token).status == 200)
        }
        let r4 = try await customerWrites(daemon, update: 4, chat: 4, text: "Привет, 50% off?", name: "Dmitri", as: sueToken)
        let billing = try await daemon.store.createDivision(name: "Billing")
        let moved = try await call("POST", "\(daemon.base)/api/v1/rooms/\(r4)/transfer", json: ["division_id": billing.id], token: sueToken)
        #expect(moved.status == 200)
        // A LINE room, older than the others.
        let r5 = try await daemon.store.seedRoom(id: "line5", channelID: "ln", status: .waiting, assigneeID: nil, divisionID: nil, createdAt: Date(timeIntervalSince1970: 1_600_000_000), customerName: "Lin")
        try await daemon.store.seedTransition(roomID: r5, from: nil, to: .waiting, assigneeID: nil, actor: "customer", at: Date(timeIntervalSince1970: 1_600_000_000))
        try await daemon.store.seedMessage(roomID: r5, direction: .inbound, senderUserID: nil, text: "konnichiwa", at: Date(timeIntervalSince1970: 1_600_000_000))
        return Fixture(ann: ann, annToken: annToken, bo: bo, boToken: boToken, sue: sue, sueToken: sueToken, r1: r1, r2: r2, r3: r3, r4: r4, r5: r5, billing: billing.id)
    }

    @Test("filters: kind, assignee, division, unread, q, tag, alone and combined; the rest is still there")
    func filters() async throws {
        try await withDaemon { daemon, _ in
            let f = try await fixture(daemon)
            let everyone = try await ids(daemon, f.sueToken)
            #expect(Set(everyone) == [f.r1, f.r2, f.r3, f.r4, f.r5])
            #expect(everyone.last == f.r5, "still sorted by last activity, the seeded LINE room is the oldest")

            // kind
            #expect(try await ids(daemon, f.sueToken, "?kind=line") == [f.r5])
            #expect(Set(try await ids(daemon, f.sueToken, "?kind=telegram")) == [f.r1, f.r2, f.r3, f.r4])
            #expect(Set(try await ids(daemon, f.sueToken, "?kind=telegram,line")) == Set(everyone))
            #expect(Set(try await ids(daemon, f.sueToken, "?kind=TELEGRAM&kind=line")) == Set(everyone))
            #expect(try await ids(daemon, f.sueToken, "?kind=messenger").isEmpty, "a known kind with no channel")
            #expect(try await ids(daemon, f.sueToken, "?kind=line&channel=tg").isEmpty, "kind and channel intersect")
            #expect(try await ids(daemon, f.sueToken, "?kind=line&channel=tg,ln") == [f.r5])

            // assignee
            #expect(Set(try await ids(daemon, f.annToken, "?assignee=me")) == [f.r1, f.r2])
            #expect(Set(try await ids(daemon, f.annToken)) == [f.r1, f.r2])
            #expect(Set(try await ids(daemon, f.sueToken, "?assignee=none")) == [f.r4, f.r5])
            #expect(try await ids(daemon, f.sueToken, "?assignee=\(f.bo.id)") == [f.r3])
            #expect(try await ids(daemon, f.sueToken, "?assignee=me").isEmpty)
            #expect(try await status(daemon, f.annToken, "?assignee=none") == 403)
            #expect(try await status(daemon, f.annToken, "?assignee=\(f.bo.id)") == 403)
            #expect(try await ids(daemon, f.annToken, "?assignee=\(f.ann.id)").count == 2)

            // division (rooms without one are in the default division)
            #expect(try await ids(daemon, f.sueToken, "?division=\(f.billing)") == [f.r4])
            #expect(Set(try await ids(daemon, f.sueToken, "?division=div_default")) == [f.r1, f.r2, f.r3, f.r5])

            // q: message text and customer name/username, case-insensitive beyond ASCII, wildcards literal
            #expect(try await ids(daemon, f.sueToken, "?q=parcel") == [f.r1])
            #expect(try await ids(daemon, f.sueToken, "?q=Where%20IS") == [f.r1])
            #expect(try await ids(daemon, f.sueToken, "?q=bruno") == [f.r2])
            #expect(try await ids(daemon, f.sueToken, "?q=\(Self.encoded("élodie"))") == [f.r3])
            #expect(try await ids(daemon, f.sueToken, "?q=\(Self.encoded("ПРИВЕТ"))") == [f.r4])
            #expect(try await ids(daemon, f.sueToken, "?q=\(Self.encoded("50%"))") == [f.r4])
            #expect(try await ids(daemon, f.sueToken, "?q=\(Self.encoded("%"))") == [f.r4])
            #expect(try await ids(daemon, f.sueToken, "?q=\(Self.encoded("_"))").isEmpty)
            #expect(try await ids(daemon, f.sueToken, "?q=lin") == [f.r5], "the seeded customer's name")
            #expect(try await ids(daemon, f.annToken, "?q=hello").isEmpty, "agents search their own rooms only")
            #expect(Set(try await ids(daemon, f.sueToken, "?q=%20")) == Set(everyone), "a blank q is no filter")

            // unread (per caller), then tags
            #expect(Set(try await ids(daemon, f.annToken, "?unread=true")) == [f.r1, f.r2])
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(f.r1)/read", token: f.annToken).status == 204)
            #expect(try await ids(daemon, f.annToken, "?unread=true") == [f.r2])
            #expect(try await ids(daemon, f.annToken, "?unread=false") == [f.r1])
            #expect(Set(try await ids(daemon, f.sueToken, "?unread=true")) == Set(everyone), "read marks are per user")
            let tagged = try await call("PUT", "\(daemon.base)/api/v1/rooms/\(f.r1)/tags", json: ["tags": ["VIP"]], token: f.annToken)
            #expect(tagged.status == 200)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/\(f.r3)/tags", json: ["tags": ["vip", "refund"]], token: f.sueToken).status == 200)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/\(f.r4)/tags", json: ["tags": ["refund"]], token: f.sueToken).status == 200)
            #expect(Set(try await ids(daemon, f.sueToken, "?tag=vip")) == [f.r1, f.r3])
            #expect(Set(try await ids(daemon, f.sueToken, "?tag=refund")) == [f.r3, f.r4])
            #expect(Set(try await ids(daemon, f.sueToken, "?tag=VIP,refund")) == [f.r1, f.r3, f.r4], "several tags: any of them")
            #expect(try await ids(daemon, f.annToken, "?tag=refund").isEmpty)

            // combined
            #expect(try await ids(daemon, f.sueToken, "?tag=vip&assignee=\(f.ann.id)&status=assigned") == [f.r1])
            #expect(try await ids(daemon, f.sueToken, "?tag=refund&assignee=none&division=\(f.billing)&kind=telegram") == [f.r4])
            #expect(try await ids(daemon, f.sueToken, "?tag=refund&assignee=none&kind=line").isEmpty)
            #expect(try await ids(daemon, f.annToken, "?unread=true&q=money&kind=telegram&status=assigned") == [f.r2])
            #expect(try await ids(daemon, f.annToken, "?unread=true&q=parcel").isEmpty)
            #expect(try await ids(daemon, f.sueToken, "?q=hello&tag=vip&unread=true&channel=tg") == [f.r3])

            // pagination with a filter
            let first = try await call("GET", "\(daemon.base)/api/v1/rooms?kind=telegram&limit=3", token: f.sueToken)
            let firstPage = (first["rooms"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID }
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try await ids(daemon, f.sueToken, "?kind=telegram&limit=3&cursor=\(Self.encoded(cursor))")
            #expect(firstPage.count == 3)
            #expect(Set(firstPage + second) == [f.r1, f.r2, f.r3, f.r4])

            // each listed room: unread_count, last_message, tags, and the keys it had
            let listed = try #require(try await rooms(daemon, f.annToken, "?tag=vip").first)
            #expect(listed["unread_count"] as? Int == 0)
            #expect(listed["tags"] as? [String] == ["vip"])
            let last = try #require(listed["last_message"] as? [String: Any])
            #expect(last["direction"] as? String == "inbound")
            #expect(last["type"] as? String == "text")
            #expect(last["text"] as? String == "Where is my PARCEL?")
            #expect(last["id"].asID != nil && last["created_at"] is String)
            for key in ["id", "channel", "status", "assignee", "contact", "last_message_at", "waiting_since", "created_at", "division_id", "session"] {
                #expect(listed[key] != nil, "the room keeps '\(key)'")
            }
        }
    }

    @Test("bad filter values are 422 naming the parameter")
    func badFilters() async throws {
        try await withDaemon { daemon, _ in
            let (_, token) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let cases: [(String, String)] = [
                ("?kind=fax", "'kind'"),
                ("?unread=maybe", "'unread'"),
                ("?division=div_nope", "'division'"),
                ("?assignee=usr_nope", "'assignee'"),
                ("?assignee=me,none", "'assignee'"),
                ("?q=\(String(repeating: "x", count: 201))", "'q'"),
                ("?tag=\(String(repeating: "t", count: 41))", "'tag'"),
                ("?status=sleeping", "status"),
                ("?limit=0", "'limit'"),
            ]
            for (query, field) in cases {
                let result = try await call("GET", "\(daemon.base)/api/v1/rooms\(query)", token: token)
                #expect(result.status == 422, "\(query)")
                #expect((result["error"] as? [String: Any])?["code"] as? String == "invalid_request")
                #expect(errorMessage(result).contains(field), "\(query): \(errorMessage(result))")
            }
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms?cursor=nonsense", token: token).status == 422)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms?kind=line", token: nil).status == 401)
        }
    }

    @Test("unread counts follow each user's read mark; read up to a message or the newest; agents own rooms only")
    func readMarks() async throws {
        try await withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
            let room = try await customerWrites(daemon, update: 1, chat: 7, text: "one", name: "Cy", as: sueToken)
            try await waitForStatus(daemon, sueToken, room, "assigned", assignee: ann.id)
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 7, text: "two"))
            _ = try await daemon.postUpdate(telegramUpdate(3, chat: 7, text: "three"))
            func unread(_ token: String) async throws -> Int? {
                try await rooms(daemon, token).first { $0["id"].asID == room }?["unread_count"] as? Int
            }
            try await eventually("three messages") { try await unread(annToken) == 3 }
            #expect(try await unread(sueToken) == 3)

            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: annToken)
            let messageIDs = (history["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID }
            #expect(messageIDs.count == 3)

            // Up to the first message: two left.
            let read = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": messageIDs[0], "extra": 1], token: annToken)
            #expect(read.status == 204)
            #expect(try await unread(annToken) == 2)
            #expect(try await unread(sueToken) == 3, "sue's mark is her own")
            // Marks never move back.
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": messageIDs[1]], token: annToken).status == 204)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": messageIDs[0]], token: annToken).status == 204)
            #expect(try await unread(annToken) == 1)
            // Our own reply is not unread; no body means up to the newest.
            let posted = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/messages", json: ["text": "on it"], token: annToken)
            #expect(posted.status == 201)
            #expect((posted["message"] as? [String: Any])?["sender_name"] as? String == "ann")
            let listed = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: sueToken)
            let names = (listed["messages"] as? [[String: Any]] ?? []).map { $0["sender_name"] as? String }
            #expect(names == [nil, nil, nil, "ann"], "each reply names its sender; customers' messages none: \(names)")
            #expect(try await unread(annToken) == 1)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", token: annToken).status == 204)
            #expect(try await unread(annToken) == 0)
            let detail = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)", token: annToken)
            #expect((detail["room"] as? [String: Any])?["unread_count"] as? Int == 0)
            // A new customer message is unread again.
            _ = try await daemon.postUpdate(telegramUpdate(4, chat: 7, text: "four"))
            try await eventually("the fourth message unread") { try await unread(annToken) == 1 }
            #expect(try await unread(sueToken) == 4)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: [String: Any](), token: sueToken).status == 204)
            #expect(try await unread(sueToken) == 0)
            #expect(try await unread(annToken) == 1)

            // Errors
            let other = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", token: boToken)
            #expect(other.status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/rm_missing/read", token: sueToken).status == 404)
            let foreign = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": "msg_elsewhere"], token: annToken)
            #expect(foreign.status == 422)
            #expect(errorMessage(foreign).contains("'message_id'"))
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": true], token: annToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", json: ["message_id": 999_999], token: annToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/read", body: Data("[1".utf8), token: annToken).status == 400)
        }
    }

    @Test("tab counts: each tab's rooms for the caller, staff tabs for staff only, unread by the caller's mark, narrowed by channel")
    func tabCounts() async throws {
        try await withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 1)
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            func counts(_ token: String, _ query: String = "") async throws -> [String: Int] {
                let answer = try await call("GET", "\(daemon.base)/api/v1/inbox/counts\(query)", token: token)
                #expect(answer.status == 200, "\(answer.text)")
                #expect(answer["cap"] as? Int == 1000)
                return answer["counts"] as? [String: Int] ?? [:]
            }
            // Ann takes the first room (capacity 1); the second waits.
            let first = try await customerWrites(daemon, update: 1, chat: 11, text: "one", name: "Cy", as: sueToken)
            try await waitForStatus(daemon, sueToken, first, "assigned", assignee: ann.id)
            let second = try await customerWrites(daemon, update: 2, chat: 12, text: "two", name: "Di", as: sueToken)
            try await waitForStatus(daemon, sueToken, second, "waiting")
            #expect(try await counts(annToken) == ["mine": 1, "unanswered": 1, "resolved": 0], "an agent gets her own tabs only")
            #expect(try await counts(sueToken) == ["mine": 0, "unanswered": 0, "resolved": 0, "waiting": 1, "all": 2])
            #expect(try await counts(sueToken, "?channel=ln")["all"] == 0, "narrowed by channel")
            // Read: nothing waits on Ann any more; resolved: it moves tabs.
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(first)/read", token: annToken).status == 204)
            #expect(try await counts(annToken)["unanswered"] == 0)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(first)/resolve", token: annToken).status == 200)
            try await waitForStatus(daemon, sueToken, second, "assigned", assignee: ann.id)
            #expect(try await counts(annToken) == ["mine": 1, "unanswered": 1, "resolved": 1])
            #expect(try await counts(sueToken) == ["mine": 0, "unanswered": 0, "resolved": 1, "waiting": 0, "all": 1])
            #expect(try await call("GET", "\(daemon.base)/api/v1/inbox/counts").status == 401)
        }
    }

    @Test("internal notes: stored and listed for the team, never sent to the network")
    func notes() async throws {
        try await withDaemon { daemon, fake in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (sue, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
            let room = try await customerWrites(daemon, update: 1, chat: 9, text: "help", name: "Eve", as: sueToken)
            try await waitForStatus(daemon, sueToken, room, "assigned", assignee: ann.id)

            let created = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/notes", json: ["text": "customer is angry, be nice", "color": "red"], token: annToken)
            #expect(created.status == 201)
            let note = try #require(created["note"] as? [String: Any])
            #expect(note["id"].asID != nil)
            #expect(note["room_id"].asID == room)
            #expect(note["text"] as? String == "customer is angry, be nice")
            #expect(note["created_at"] is String)
            let author = try #require(note["author"] as? [String: Any])
            #expect(author["id"].asID == ann.id)
            #expect(author["name"] as? String == "ann")
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/notes", json: ["text": "noted"], token: sueToken).status == 201)

            let listed = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/notes", token: annToken)
            #expect(listed.status == 200)
            let notes = try #require(listed["notes"] as? [[String: Any]])
            #expect(notes.map { $0["text"] as? String } == ["customer is angry, be nice", "noted"])
            #expect((notes[1]["author"] as? [String: Any])?["id"].asID == sue.id)
            #expect(listed["next_cursor"] is NSNull)
            let page = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/notes?limit=1", token: sueToken)
            let cursor = try #require(page["next_cursor"] as? String)
            let rest = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/notes?limit=1&cursor=\(cursor)", token: sueToken)
            #expect((rest["notes"] as? [[String: Any]])?.first?["text"] as? String == "noted")

            // Not in the conversation, not in the outbox: a real reply afterwards is the only thing the network sees.
            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: annToken)
            #expect((history["messages"] as? [Any])?.count == 1)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/messages", json: ["text": "Hello Eve"], token: annToken).status == 201)
            try await eventually("the reply at the network") { fake.calls(to: "sendMessage").count == 1 }
            try await Task.sleep(for: .milliseconds(200))
            #expect(fake.calls.count == 1)
            #expect(fake.calls(to: "sendMessage").map { $0.json["text"] as? String } == ["Hello Eve"])
            #expect(!fake.calls.contains { String(decoding: $0.body, as: UTF8.self).contains("angry") })
            let rooms = try await rooms(daemon, annToken)
            #expect(((rooms.first?["last_message"] as? [String: Any])?["text"] as? String) == "Hello Eve")

            // A mention tells that teammate on their own stream, nobody else and never the author.
            let boStream = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(boToken)"])
            let annStream = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(annToken)"])
            defer { boStream.close(); annStream.close() }
            try await eventually("both streams") { daemon.daemon.live.subscriberCount >= 2 }
            let mention = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/notes", json: ["text": "@Bo, can you check this? cc @ann."], token: annToken)
            #expect(mention.status == 201)
            try await eventually("bo is told") { boStream.events.contains { $0.type == "note.mention" } }
            let told = try #require(boStream.events.first { $0.type == "note.mention" })
            #expect(told.payload["room_id"].asID == room && told.payload["author_name"] as? String == "ann")
            #expect(told.payload["user_id"].asID == (try await daemon.store.credentials(email: "bo@example.com"))?.0.id)
            #expect((told.payload["text"] as? String)?.hasPrefix("@Bo, can you check") == true)
            try await Task.sleep(for: .milliseconds(200))
            #expect(!annStream.events.contains { $0.type == "note.mention" }, "the author is not told about their own mention")

            // Access and validation
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/notes", token: boToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/notes", json: ["text": "x"], token: boToken).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/rm_missing/notes", token: sueToken).status == 404)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/rm_missing/notes", json: ["text": "x"], token: sueToken).status == 404)
            for body: [String: Any] in [["text": "   "], [:], ["text": 3], ["text": String(repeating: "n", count: 10_001)]] {
                let bad = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/notes", json: body, token: annToken)
                #expect(bad.status == 422)
                #expect(errorMessage(bad).contains("'text'"))
            }
        }
    }

    @Test("tags: normalised, replaced, validated; the room comes back with them")
    func tags() async throws {
        try await withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
            let room = try await customerWrites(daemon, update: 1, chat: 5, text: "hi", name: "Flo", as: sueToken)
            try await waitForStatus(daemon, sueToken, room, "assigned", assignee: ann.id)

            let put = try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": ["VIP", " refund ", "vip", "Ünïcode"]], token: annToken)
            #expect(put.status == 200)
            let tagged = try #require(put["room"] as? [String: Any])
            #expect(tagged["tags"] as? [String] == ["refund", "vip", "ünïcode"])
            #expect(tagged["id"].asID == room)
            #expect(tagged["status"] as? String == "assigned")
            #expect(try await ids(daemon, sueToken, "?tag=\(Self.encoded("ÜNÏCODE"))") == [room])
            let replaced = try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": ["refund"]], token: sueToken)
            #expect((replaced["room"] as? [String: Any])?["tags"] as? [String] == ["refund"])
            #expect(try await ids(daemon, sueToken, "?tag=vip").isEmpty)
            let forty = String(repeating: "a", count: 40)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": [forty]], token: annToken).status == 200)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": (1...20).map { "t\($0)" }], token: annToken).status == 200)
            let cleared = try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": [String]()], token: annToken)
            #expect((cleared["room"] as? [String: Any])?["tags"] as? [String] == [])

            let invalid: [(Any, String)] = [
                ([forty + "a"], "'tags[0]'"), (["ok", ""], "'tags[1]'"), (["a,b"], "'tags[0]'"), ([7], "'tags[0]'"),
                ((1...21).map { "t\($0)" }, "'tags'"), ("vip", "'tags'"), (NSNull(), "'tags'"),
            ]
            for (value, field) in invalid {
                let bad = try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": value], token: annToken)
                #expect(bad.status == 422, "\(value)")
                #expect(errorMessage(bad).contains(field), "\(value): \(errorMessage(bad))")
            }
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/\(room)/tags", json: ["tags": ["x"]], token: boToken).status == 403)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/rooms/rm_missing/tags", json: ["tags": ["x"]], token: sueToken).status == 404)
        }
    }

    @Test("room detail: the customer and sessions after resolve, reopen and transfer; agents 403/404")
    func detail() async throws {
        try await withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (bo, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
            let room = try await customerWrites(daemon, update: 1, chat: 77, text: "first", name: "Gus", as: sueToken)
            try await waitForStatus(daemon, sueToken, room, "assigned", assignee: ann.id)

            var detail = try #require(try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)", token: annToken)["room"] as? [String: Any])
            var sessions = try #require(detail["sessions"] as? [[String: Any]])
            #expect(sessions.count == 1)
            #expect(sessions[0]["number"] as? Int == 1)
            #expect(sessions[0]["ended_at"] is NSNull)
            #expect(sessions[0]["agents"].asIDs == [ann.id])
            #expect(sessions[0]["resolved_by"] is NSNull)
            let customer = try #require(detail["customer"] as? [String: Any])
            #expect(customer["external_id"] as? String == "77")
            #expect(customer["name"] as? String == "Gus")
            #expect(customer["channel"] as? String == "tg")
            #expect(customer["channel_kind"] as? String == "telegram")
            #expect(customer["id"].asID == (detail["contact"] as? [String: Any])?["id"].asID)
            #expect(customer["username"] is NSNull)

            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/resolve", token: annToken).status == 200)
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 77, text: "again"))
            try await waitForStatus(daemon, sueToken, room, "assigned", assignee: ann.id)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": true], token: boToken).status == 200)
            let moved = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/transfer", json: ["agent_id": bo.id], token: sueToken)
            #expect(moved.status == 200)

            detail = try #require(try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)", token: boToken)["room"] as? [String: Any])
            sessions = try #require(detail["sessions"] as? [[String: Any]])
            #expect(detail["session"] as? Int == 2)
            #expect(sessions.map { $0["number"] as? Int } == [1, 2])
            #expect(sessions[0]["agents"].asIDs == [ann.id])
            #expect(sessions[0]["resolved_by"] as? String == String(ann.id))
            let started = try #require(sessions[0]["started_at"] as? String)
            let ended = try #require(sessions[0]["ended_at"] as? String)
            #expect(started <= ended)
            #expect(ended <= (sessions[1]["started_at"] as? String ?? ""))
            #expect(sessions[1]["agents"].asIDs == [ann.id, bo.id])
            #expect(sessions[1]["ended_at"] is NSNull)
            #expect(sessions[1]["resolved_by"] is NSNull)
            #expect(detail["unread_count"] as? Int == 2)
            #expect(detail["tags"] as? [String] == [])
            #expect(((detail["last_message"] as? [String: Any])?["text"] as? String) == "again")

            // The routing history: every change, named, oldest first.
            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/history", token: boToken)
            #expect(history.status == 200)
            let events = try #require(history["events"] as? [[String: Any]])
            #expect(events.map { $0["kind"] as? String } == ["opened", "assigned", "resolved", "reopened", "assigned", "transferred"], "\(history.text)")
            #expect((events[1]["assignee"] as? [String: Any])?["name"] as? String == "ann")
            #expect(events[2]["actor"] as? String == String(ann.id) && events[2]["actor_name"] as? String == "ann")
            #expect((events[5]["assignee"] as? [String: Any])?["id"].asID == bo.id)
            #expect(events[5]["actor_name"] as? String == "sue")
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/history", token: annToken).status == 403)

            // Ann no longer has the room.
            let forbidden = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)", token: annToken)
            #expect(forbidden.status == 403)
            #expect((forbidden["error"] as? [String: Any])?["code"] as? String == "forbidden")
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/rm_missing", token: annToken).status == 404)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/rm_missing", token: sueToken).status == 404)
        }
    }
}
