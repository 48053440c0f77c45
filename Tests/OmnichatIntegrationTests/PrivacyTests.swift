import Foundation
import Testing

@testable import OmnichatCore
@testable import OmnichatServer

/// Data-subject requests (export, erasure), retention, and the audit log's
/// filters, export and sign-in records.
@Suite("Privacy and audit", .bothEngines)
struct PrivacyTests {
    static func roomOf(_ daemon: TestDaemon, token: String, chat: Int64) async throws -> [String: Any] {
        var found: [String: Any]?
        try await eventually("the room of chat \(chat)") {
            let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms", token: token)
            found = (rooms["rooms"] as? [[String: Any]])?.first { room in
                ((room["contact"] as? [String: Any])?["external_id"] as? String) == String(chat)
            }
            return found != nil
        }
        return try #require(found)
    }

    static func channelReport(_ daemon: TestDaemon, token: String) async throws -> String {
        let report = try await call("GET", "\(daemon.base)/api/v1/reports/channels?format=csv", token: token)
        #expect(report.status == 200)
        return report.text
    }

    @Test("a customer's data is exported as JSON and erased: content, profile, identifiers, properties and notes go; reports keep their counts")
    func exportAndErase() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, admin) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        let (_, agent) = try await daemon.signIn(email: "agent@example.com", role: .agent, online: false)
        #expect(try await daemon.postUpdate(telegramUpdate(1, chat: 5550001, text: "my card is 4111-1111", name: "Annabel")).status == 200)
        #expect(try await daemon.postUpdate(telegramUpdate(2, chat: 5550001, text: "and my address is Jl. Melati 5", name: "Annabel")).status == 200)
        #expect(try await daemon.postUpdate(telegramUpdate(3, chat: 5550002, text: "someone else", name: "Bob")).status == 200)
        let room = try await Self.roomOf(daemon, token: admin, chat: 5550001)
        let roomID = try #require(room["id"])
        let contactID = try #require((room["contact"] as? [String: Any])?["id"])
        let properties = try await call(
            "PUT", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_properties", json: ["properties": [["key": "ktp", "value": "3171-secret"]]],
            token: admin)
        #expect(properties.status == 200, "\(properties.text)")
        #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/notes", json: ["text": "Annabel is a VIP"], token: admin).status == 201)

        // Export: admins only, everything about her.
        #expect(try await call("GET", "\(daemon.base)/api/v1/contacts/\(contactID)/export", token: agent).status == 403)
        #expect(try await call("GET", "\(daemon.base)/api/v1/contacts/999999/export", token: admin).status == 404)
        let export = try await call("GET", "\(daemon.base)/api/v1/contacts/\(contactID)/export", token: admin)
        #expect(export.status == 200)
        #expect(export.headers.first { $0.name.lowercased() == "content-disposition" }?.value.contains("attachment") == true)
        let exported = export.json
        #expect((exported["contact"] as? [String: Any])?["name"] as? String == "Annabel")
        #expect((exported["contact"] as? [String: Any])?["external_id"] as? String == "5550001")
        #expect((exported["messages"] as? [[String: Any]])?.compactMap { $0["text"] as? String } == ["my card is 4111-1111", "and my address is Jl. Melati 5"])
        #expect((exported["properties"] as? [[String: Any]])?.first?["value"] as? String == "3171-secret")
        #expect((exported["notes"] as? [[String: Any]])?.first?["text"] as? String == "Annabel is a VIP")
        #expect((exported["rooms"] as? [[String: Any]])?.count == 1)

        // Erasure waits for her rooms to be resolved.
        let early = try await call("DELETE", "\(daemon.base)/api/v1/contacts/\(contactID)", token: admin)
        #expect(early.status == 409, "\(early.text)")
        #expect(early.text.contains("\(roomID)"), "names the open room: \(early.text)")
        #expect(try await call("DELETE", "\(daemon.base)/api/v1/contacts/\(contactID)", token: agent).status == 403)
        #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", json: [:], token: admin).status == 200)
        let reportBefore = try await Self.channelReport(daemon, token: admin)
        let countBefore = try await daemon.store.countMessages()

        let erased = try await call("DELETE", "\(daemon.base)/api/v1/contacts/\(contactID)", token: admin)
        #expect(erased.status == 200, "\(erased.text)")
        let counts = try #require(erased["erased"] as? [String: Any])
        #expect(counts["messages"] as? Int == 2 && counts["notes"] as? Int == 1 && counts["properties"] as? Int == 1 && counts["rooms"] as? Int == 1, "\(counts)")

        let after = try await call("GET", "\(daemon.base)/api/v1/contacts/\(contactID)/export", token: admin)
        #expect(after.status == 200)
        for secret in ["Annabel", "5550001", "4111", "Melati", "3171-secret", "VIP"] {
            #expect(!after.text.contains(secret), "'\(secret)' is gone from the export: \(after.text.prefix(400))")
        }
        #expect((after["messages"] as? [[String: Any]])?.count == 2, "the rows stay, without content")
        let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: admin)
        #expect(!history.text.contains("4111") && !history.text.contains("Melati"))
        // Counts stay: the same stored messages, the same channel report.
        #expect(try await daemon.store.countMessages() == countBefore)
        #expect(try await Self.channelReport(daemon, token: admin) == reportBefore)
        // The other customer is untouched.
        let bob = try await Self.roomOf(daemon, token: admin, chat: 5550002)
        let bobHistory = try await call("GET", "\(daemon.base)/api/v1/rooms/\(try #require(bob["id"]))/messages", token: admin)
        #expect(bobHistory.text.contains("someone else"))
        // The audit entry names the contact's number and the counts, nothing personal.
        let audit = try await call("GET", "\(daemon.base)/api/v1/audit?action=contact.erase", token: admin)
        let entry = try #require((audit["entries"] as? [[String: Any]])?.first)
        #expect(entry["target_id"] as? String == "\(contactID)")
        #expect(!audit.text.contains("Annabel") && !audit.text.contains("5550001"))
        // Writing again, she is a new customer in a new room.
        #expect(try await daemon.postUpdate(telegramUpdate(4, chat: 5550001, text: "hello again", name: "Annabel")).status == 200)
        let fresh = try await Self.roomOf(daemon, token: admin, chat: 5550001)
        #expect("\(try #require(fresh["id"]))" != "\(roomID)")
        #expect("\(try #require((fresh["contact"] as? [String: Any])?["id"]))" != "\(contactID)")
        await daemon.stop()
    }

    @Test("retention scrubs old messages, media references, finished deliveries and audit entries in bounded batches; reports keep their counts")
    func retention() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, admin) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        for n in 1...5 {
            #expect(try await daemon.postUpdate(telegramUpdate(n, chat: 7000 + Int64(n), text: "old secret \(n)")).status == 200)
        }
        let room = try await Self.roomOf(daemon, token: admin, chat: 7001)
        let roomID = try #require(room["id"])
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/assign", json: [:], token: admin)
        let reply = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "agent reply"], token: admin)
        #expect(reply.status == 201 || reply.status == 200, "\(reply.text)")
        try await eventually("the reply delivered") { fake.calls(to: "sendMessage").count == 1 }
        // The customer blocks the bot: a notice that names her.
        let blocked = jsonData([
            "update_id": 90,
            "my_chat_member": [
                "chat": ["id": 7001, "type": "private", "first_name": "Secret Sue"], "from": ["id": 7001, "first_name": "Secret Sue"], "date": 1,
                "new_chat_member": ["status": "kicked", "user": ["id": 1, "is_bot": true, "first_name": "Bot"]],
            ] as [String: Any],
        ])
        #expect(try await daemon.postUpdate(blocked).status == 200)
        #expect(try await daemon.store.roomNotices(roomID: try #require(roomID as? Int64 ?? Int64("\(roomID)"))).count == 1)
        let reportBefore = try await Self.channelReport(daemon, token: admin)
        let count = try await daemon.store.countMessages()

        let job = RetentionJob(daemon: daemon.daemon, batchSize: 2)
        // Nothing is old enough yet.
        // (The fixtures' Telegram updates are dated 2023-11-14: a message's time is the network's.)
        let none = await job.sweep(
            RetentionPolicy(messagesDays: 30, deliveryLogsDays: 30, auditLogDays: 30), now: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(none.messages == 0 && none.deliveries == 0 && none.auditEntries == 0)
        // 31 days later: media only first (the text stays), then everything.
        let later = Date().addingTimeInterval(31 * 86_400)
        let media = await job.sweep(RetentionPolicy(mediaDays: 30), now: later)
        #expect(media.messages == 0)
        let kept = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: admin)
        #expect(kept.text.contains("old secret 1"))
        let all = await job.sweep(RetentionPolicy(messagesDays: 30, deliveryLogsDays: 30, auditLogDays: 30), now: later)
        #expect(all.messages == count, "every message, in batches of 2: \(all)")
        #expect(all.deliveries == 1, "the delivered reply's outbox row: \(all)")
        #expect(all.auditEntries >= 1, "the sign-in at least: \(all)")
        let scrubbed = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: admin)
        #expect(!scrubbed.text.contains("old secret") && !scrubbed.text.contains("agent reply"), "\(scrubbed.text.prefix(300))")
        #expect(try await daemon.store.countMessages() == count)
        #expect(try await daemon.store.roomNotices(roomID: try #require(roomID as? Int64 ?? Int64("\(roomID)"))).isEmpty, "the notice naming her went too")
        #expect(try await Self.channelReport(daemon, token: admin) == reportBefore)
        // A second sweep has nothing left to do.
        let again = await job.sweep(RetentionPolicy(messagesDays: 30, deliveryLogsDays: 30, auditLogDays: 30), now: later)
        #expect(again.messages == 0 && again.deliveries == 0, "\(again)")
        await daemon.stop()
    }

    @Test("[retention] is read in days and checked")
    func configuration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("omnichat.toml")
        try "[retention]\nmessages_days = 365\nmedia = 90\ndelivery_logs_days = 30\naudit_log_days = 730\nlive_events_days = 1\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let policy = try DaemonConfiguration.load(file: file.path, environment: [:]).retention
        #expect(policy == RetentionPolicy(messagesDays: 365, mediaDays: 90, liveEventsDays: 1, deliveryLogsDays: 30, auditLogDays: 730))
        #expect(DaemonConfiguration().retention.keepsEverything)
        for bad in ["[retention]\nmessages_days = 0\n", "[retention]\nmessages_days = \"forever\"\n", "[retention]\nchats_days = 3\n"] {
            try bad.write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: ConfigurationError.self, "\(bad)") { try DaemonConfiguration.load(file: file.path, environment: [:]) }
        }
    }

    @Test("sign-ins and failed sign-ins are audited with the address; the log filters by actor, action and time and exports as CSV")
    func auditLog() async throws {
        let daemon = try TestDaemon(channels: [:]) { $0.trustedProxies = ["127.0.0.1"] }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (adminUser, admin) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        let wrong = try await call(
            "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "Admin@example.com", "password": "not-it"],
            headers: [("X-Forwarded-For", "203.0.113.9")])
        #expect(wrong.status == 401)
        let unknown = try await call(
            "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "nobody@example.com", "password": "guess"],
            headers: [("X-Forwarded-For", "203.0.113.10")])
        #expect(unknown.status == 401)
        let created = try await call(
            "POST", "\(daemon.base)/api/v1/agents", json: ["email": "new@example.com", "name": "New", "password": "a-long-password"], token: admin)
        #expect(created.status == 201, "\(created.text)")

        let signIns = try await call("GET", "\(daemon.base)/api/v1/audit?action=auth.", token: admin)
        let entries = try #require(signIns["entries"] as? [[String: Any]], "\(signIns.status) \(signIns.text)")
        #expect(Set(entries.compactMap { $0["action"] as? String }) == ["auth.sign_in", "auth.sign_in_failed"], "\(signIns.text)")
        let failed = entries.filter { $0["action"] as? String == "auth.sign_in_failed" }
        #expect(failed.count == 2)
        let addresses = Set(failed.compactMap { ($0["details"] as? [String: Any])?["address"] as? String })
        #expect(addresses == ["203.0.113.9", "203.0.113.10"])
        #expect(!signIns.text.contains("not-it") && !signIns.text.contains("guess"), "passwords never recorded")
        let success = try #require(entries.first { $0["action"] as? String == "auth.sign_in" })
        #expect(success["actor"] as? String == String(adminUser.id))
        #expect((success["details"] as? [String: Any])?["address"] != nil)

        let byActor = try await call("GET", "\(daemon.base)/api/v1/audit?actor=nobody@example.com", token: admin)
        #expect((byActor["entries"] as? [[String: Any]])?.count == 1, "\(byActor.text)")
        let exact = try await call("GET", "\(daemon.base)/api/v1/audit?action=agent.create", token: admin)
        #expect((exact["entries"] as? [[String: Any]])?.map { $0["action"] as? String } == ["agent.create"], "\(exact.text)")
        let future = try await call("GET", "\(daemon.base)/api/v1/audit?from=2999-01-01", token: admin)
        #expect((future["entries"] as? [[String: Any]])?.isEmpty == true)
        let past = try await call("GET", "\(daemon.base)/api/v1/audit?to=2000-01-01", token: admin)
        #expect((past["entries"] as? [[String: Any]])?.isEmpty == true)
        #expect(try await call("GET", "\(daemon.base)/api/v1/audit?from=yesterday", token: admin).status == 422)

        let csv = try await call("GET", "\(daemon.base)/api/v1/audit?action=auth.", token: admin, headers: [("Accept", "text/csv")])
        #expect(csv.status == 200)
        let lines = csv.text.split(separator: "\r\n")
        #expect(lines.first == "id,at,actor,actor_role,action,target_type,target_id,details")
        #expect(lines.count == 1 + entries.count, "\(csv.text)")
        #expect(csv.text.contains("203.0.113.9"))
        await daemon.stop()
    }
}
