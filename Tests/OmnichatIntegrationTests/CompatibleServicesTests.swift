import Foundation
import OmnichatCore
import OmnichatServer
import Testing

/// A merchant's service written for Qiscus Multichannel
/// (`Tests/Compat/qiscus_service.py`) runs unchanged against the daemon, on
/// the engine under test: it configures nothing of ours, signs in with
/// `POST /api/v1/auth`, sends its token raw, decodes every webhook strictly.
@Suite("Compatible services", .serialized, .bothEngines)
struct CompatibleServicesTests {
    /// The service as a child process; its port, its state.
    final class Service: @unchecked Sendable {
        let process = Process()
        var port = 0
        var base: String { "http://127.0.0.1:\(port)" }

        init(daemon: String, appID: String, email: String, password: String, secret: String) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", repositoryRoot.appendingPathComponent("Tests/Compat/qiscus_service.py").path, daemon, appID, email, password, secret,
            ]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.standardError
            process.standardInput = FileHandle.nullDevice
            try process.run()
            var line = Data()
            while !line.contains(0x0A) {
                let data = pipe.fileHandleForReading.availableData
                if data.isEmpty { break }
                line += data
            }
            port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        func state() async throws -> [String: Any] {
            try await call("GET", "\(base)/state").json
        }

        func list(_ key: String) async throws -> [[String: Any]] {
            try await state()[key] as? [[String: Any]] ?? []
        }

        /// Killed, not waited for (Foundation's `waitUntilExit` can hang here on Linux).
        func stop() {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    static let customChannel = """
        kind = "custom"
        secret = "shop-secret"
        webhook_url = "http://127.0.0.1:9/outbound"
        """

    /// The brief's customer, through the custom channel, signed.
    static func customerWrites(_ daemon: TestDaemon, event: String, text: String) async throws -> HTTPResult {
        let body = jsonData([
            "event_id": event,
            "user": [
                "id": "randompertama@mail.com", "name": "Random Pertama", "email": "randompertama@mail.com",
                "avatar_url": "https://cdn.example.com/avatars/random.png",
            ],
            "message": ["type": "text", "text": text],
            "extras": ["a": "s"],
        ])
        let timestamp = String(Int(Date().timeIntervalSince1970))
        return try await call(
            "POST", "\(daemon.base)/webhooks/shop", body: body,
            headers: [
                ("Content-Type", "application/json"), ("X-Omnichat-Timestamp", timestamp),
                ("X-Omnichat-Signature", "sha256=" + hmacHex("shop-secret", Data("\(timestamp).".utf8) + body)),
            ])
    }

    @Test("an allocation service, a resolve consumer and a new-session consumer written for the hosted product work unchanged")
    func servicesRunUnchanged() async throws {
        let daemon = try TestDaemon(channels: ["shop": Self.customChannel])
        try await daemon.start()
        defer { daemon.cleanUp() }
        do {
            try await scenario(daemon)
        } catch {
            await daemon.stop()
            throw error
        }
        await daemon.stop()
    }

    func scenario(_ daemon: TestDaemon) async throws {
        let (admin, adminToken) = try await daemon.signIn(email: "owner@shop.test", role: .admin, online: false)
        let (ann, _) = try await daemon.signIn(email: "ann@shop.test")
        let (bo, _) = try await daemon.signIn(email: "bo@shop.test")
        let service = try Service(
            daemon: daemon.base, appID: "omnichat", email: admin.email, password: "password-\(admin.email)", secret: "s3cr3t")
        defer { service.stop() }
        #expect(service.port > 0, "the service started")

        // Configured through the hosted product's routes, with the token sent raw.
        let raw: [(name: String, value: String)] = [("Authorization", adminToken), ("Qiscus-App-Id", "omnichat")]
        let allocation = try await call(
            "POST", "\(daemon.base)/api/v1/app/webhook/agent_allocation",
            body: Data("webhook_url=\(service.base)/allocate%3Fsecret%3Ds3cr3t&is_webhook_enabled=true".utf8),
            headers: raw + [("Content-Type", "application/x-www-form-urlencoded")])
        #expect(allocation.status == 200, "\(allocation.text)")
        #expect(allocation["status"] as? Int == 200)
        #expect((allocation["data"] as? [String: Any])?["webhook_url"] as? String == "\(service.base)/allocate?secret=s3cr3t")
        let resolved = try await call(
            "POST", "\(daemon.base)/api/v1/app/webhook/mark_as_resolved",
            json: ["webhook_url": "\(service.base)/resolved", "is_webhook_enabled": true], headers: raw)
        #expect(resolved.status == 200, "\(resolved.text)")
        let newSession = try await call(
            "PATCH", "\(daemon.base)/api/v1/settings", json: ["new_session_webhook_url": "\(service.base)/new-session"], token: adminToken)
        #expect(newSession.status == 200)

        // The brief's example, field for field.
        #expect(try await Self.customerWrites(daemon, event: "brief-1", text: "Halo, saya mau konsultasi").status == 200)
        try await eventually("the allocation webhook") { try await !service.list("allocations").isEmpty }
        let first = try #require(try await service.list("allocations").first)
        let roomID = try #require(Int64(first["room_id"] as? String ?? ""))
        #expect(first["app_id"] as? String == "omnichat")
        #expect(first["source"] as? String == "shop", "a custom channel's source is its id")
        #expect(first["email"] as? String == "randompertama@mail.com")
        #expect(first["avatar_url"] as? String == "https://cdn.example.com/avatars/random.png")
        #expect(first["extras"] as? String == #"{"a":"s"}"#)
        #expect(first["name"] as? String == "Random Pertama")
        #expect(first["is_new_session"] as? Bool == true && first["is_resolved"] as? Bool == false)
        #expect(first["latest_service"] is NSNull, "the customer's first session")
        let candidate = try #require(first["candidate_agent"] as? [String: Any])
        #expect([ann.id, bo.id].contains(candidate["id"].asID ?? 0) && candidate["type_as_string"] as? String == "agent")

        // The service signed in, listed agents, assigned one with a form body.
        try await eventually("the service's assignment") { try await !service.list("assignments").isEmpty }
        let assignment = try #require(try await service.list("assignments").first)
        let serviceState = try await service.state()
        #expect(assignment["status"] as? Int == 200, "\(serviceState)")
        let agentID = try #require(assignment["agent_id"].asID)
        #expect(assignment["added_agent_id"].asID == agentID)
        #expect(try await daemon.store.room(id: roomID)?.assignee?.id == agentID)
        let agent = try #require(try await daemon.store.user(id: agentID))

        // Customer properties, as the hosted product's user_info sets them.
        let key = try await RoutingEndToEndTests().apiKey(daemon, scope: .allocation)
        let info = try await call(
            "POST", "\(daemon.base)/api/v1/qiscus/room/\(roomID)/user_info",
            json: ["user_properties": [["key": "doctor", "value": "dr. Sari"], ["key": "member", "value": "gold"]]], token: key)
        #expect(info.status == 200, "\(info.text)")

        // Resolved by the allocation service (form, the Qiscus header pair), with notes.
        let done = try await call(
            "POST", "\(daemon.base)/api/v1/admin/service/mark_as_resolved", body: Data("room_id=\(roomID)&notes=served%20well".utf8),
            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Qiscus-App-Id", "omnichat"), ("Qiscus-Secret-Key", key)])
        #expect(done.status == 200, "\(done.text)")
        #expect(((done["data"] as? [String: Any])?["service"] as? [String: Any])?["room_id"] as? String == String(roomID))
        try await eventually("the resolve webhook") {
            let state = try await service.state()
            if let errors = state["errors"] as? [String], !errors.isEmpty { Issue.record("the service refused: \(errors)") }
            return !(state["resolved"] as? [Any] ?? []).isEmpty
        }
        let consumer = try #require(try await service.list("resolved").first)
        #expect(consumer["room_id"].asID == roomID)
        #expect(consumer["source"] as? String == "shop")
        #expect(consumer["notes"] as? String == "served well")
        #expect(consumer["user_id"] as? String == "randompertama@mail.com")
        #expect(consumer["resolved_by_email"] as? String == agent.email, "a key resolved it: the room's agent is named")
        #expect(consumer["additional_info"] as? [String: String] == ["doctor": "dr. Sari", "member": "gold"])

        // The customer comes back: a new session, with the previous one as latest_service.
        #expect(try await Self.customerWrites(daemon, event: "brief-2", text: "Saya kembali").status == 200)
        try await eventually("the second allocation webhook") { try await service.list("allocations").count == 2 }
        let second = try await service.list("allocations")[1]
        #expect(second["room_id"] as? String == String(roomID))
        #expect(second["is_new_session"] as? Bool == true)
        #expect((second["latest_service"] as? [String: Any])?["room_id"] as? String == String(roomID))
        #expect((second["latest_service"] as? [String: Any])?["is_resolved"] as? Bool == true)
        let extras = try #require((second["extras"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any])
        #expect(extras["a"] as? String == "s" && (extras["additional_info"] as? [[String: String]])?.count == 2)
        try await eventually("two new-session webhooks") { try await service.list("sessions").count == 2 }
        #expect(try await service.list("sessions").allSatisfy { $0["id"].asID == roomID && $0["id_str"] as? String == String(roomID) })
        let errors = try await service.state()["errors"] as? [String] ?? []
        #expect(errors.isEmpty, "the service's strict decoding: \(errors)")
    }

    @Test("POST /api/v1/auth takes JSON, forms and multipart; the token works raw or as Bearer; errors carry the hosted product's envelope")
    func signIn() async throws {
        let daemon = try TestDaemon(channels: ["shop": Self.customChannel])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (sue, _) = try await daemon.signIn(email: "sue@shop.test", role: .supervisor, online: false)
        let password = "password-\(sue.email)"
        let url = "\(daemon.base)/api/v1/auth"
        let viaJSON = try await call("POST", url, json: ["email": sue.email, "password": password])
        let viaForm = try await call(
            "POST", url, body: Data("email=\(sue.email)&password=\(password)".utf8), headers: [("Content-Type", "application/x-www-form-urlencoded")])
        let boundary = "----omnichat-test"
        let multipart = "--\(boundary)\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\(sue.email)\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n\(password)\r\n--\(boundary)--\r\n"
        let viaMultipart = try await call(
            "POST", url, body: Data(multipart.utf8), headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")])
        for answer in [viaJSON, viaForm, viaMultipart] {
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer["status"] as? Int == 200)
            let user = try #require((answer["data"] as? [String: Any])?["user"] as? [String: Any])
            #expect(user["id"].asID == sue.id && user["email"] as? String == sue.email)
            #expect(user["type"] as? Int == 3 && user["type_as_string"] as? String == "supervisor")
            let token = try #require(user["authentication_token"] as? String)
            #expect((((answer["data"] as? [String: Any])?["details"] as? [String: Any])?["sdk_user"] as? [String: Any])?["token"] as? String == token)
            // Raw, with or without Qiscus-App-Id, and as Bearer.
            for headers in [[("Authorization", token)], [("Authorization", token), ("Qiscus-App-Id", "omnichat")], [("Authorization", "Bearer \(token)")]] {
                let me = try await call("GET", "\(daemon.base)/api/v1/me", headers: headers)
                #expect(me.status == 200 && (me["user"] as? [String: Any])?["id"].asID == sue.id)
            }
        }
        // Same roles: a supervisor's raw token cannot change the webhook settings.
        let token = try #require(((viaJSON["data"] as? [String: Any])?["user"] as? [String: Any])?["authentication_token"] as? String)
        let refused = try await call(
            "POST", "\(daemon.base)/api/v1/app/webhook/mark_as_resolved", json: ["webhook_url": "http://127.0.0.1:9/x"], headers: [("Authorization", token)])
        #expect(refused.status == 403)
        #expect(refused["status"] as? Int == 403 && (refused["errors"] as? [String: Any])?["message"] is String && refused["error"] is [String: Any])

        let wrong = try await call("POST", url, json: ["email": sue.email, "password": "nope-nope"])
        #expect(wrong.status == 401 && wrong["status"] as? Int == 401)
        let missing = try await call("POST", url, json: ["email": sue.email])
        #expect(missing.status == 422 && (missing["errors"] as? [String: Any])?["message"] as? String == "'email' and 'password' are required")
        // Throttled like login.
        var statuses: [Int] = []
        for _ in 0..<8 { statuses.append(try await call("POST", url, json: ["email": "nobody@shop.test", "password": "wrong-password"]).status) }
        #expect(statuses.contains(429), "\(statuses)")
        // An endpoint of the hosted product we do not have says so.
        let office = try await call("GET", "\(daemon.base)/api/v1/admin/office_hours", headers: [("Authorization", token)])
        #expect(office.status == 404)
        #expect(((office["error"] as? [String: Any])?["message"] as? String)?.contains("does not support") == true)
        await daemon.stop()
    }

    @Test("a bot written for the hosted product: its webhook shape, POST /{app_id}/bot, POST /bot/{room_id}/activate")
    func bot() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        let channel = """
            kind = "custom"
            secret = "shop-secret"
            webhook_url = "\(fake.baseURL)/outbound"

            [bot]
            webhook_url = "\(fake.baseURL)/bot-hook"
            secret = "bot-secret"
            format = "qiscus"
            """
        let daemon = try TestDaemon(channels: ["shop": channel])
        try await daemon.start()
        defer { daemon.cleanUp() }
        do {
            try await botScenario(daemon, fake)
        } catch {
            await daemon.stop(); await fake.stop()
            throw error
        }
        await daemon.stop(); await fake.stop()
    }

    func botScenario(_ daemon: TestDaemon, _ fake: FakeNetwork) async throws {
        let (_, _) = try await daemon.signIn(email: "ann@shop.test")
        let key = try await RoutingEndToEndTests().apiKey(daemon, scope: .bot)
        #expect(try await Self.customerWrites(daemon, event: "bot-1", text: "Mau pesan").status == 200)
        try await eventually("the bot webhook") { !fake.calls(to: "bot-hook").isEmpty }
        let hook = try #require(fake.calls(to: "bot-hook").first).json
        let payload = try #require(hook["payload"] as? [String: Any])
        let room = try #require(payload["room"] as? [String: Any])
        let message = try #require(payload["message"] as? [String: Any])
        let roomID = try #require(Int64(room["id"] as? String ?? ""))
        #expect(room["id_str"] as? String == String(roomID))
        #expect(message["text"] as? String == "Mau pesan" && message["type"] as? String == "text" && message["id"].asID != nil)
        #expect((payload["from"] as? [String: Any])?["email"] as? String == "randompertama@mail.com")
        #expect(try await daemon.store.room(id: roomID)?.status == .bot)

        // The bot answers the hosted product's way; the reply reaches the network.
        let auth: [(name: String, value: String)] = [("Qiscus-App-Id", "omnichat"), ("Qiscus-Secret-Key", key)]
        let posted = try await call(
            "POST", "\(daemon.base)/omnichat/bot", json: ["sender_email": "bot@shop.test", "message": "Halo! Mau pesan apa?", "type": "text", "room_id": String(roomID)],
            headers: auth)
        #expect(posted.status == 200, "\(posted.text)")
        #expect(((posted["data"] as? [String: Any])?["comment"] as? [String: Any])?["id"].asID != nil)
        try await eventually("the bot's reply at the network") { fake.calls(to: "outbound").contains { ($0.json["message"] as? [String: Any])?["text"] as? String == "Halo! Mau pesan apa?" } }
        #expect(try await call("POST", "\(daemon.base)/other-app/bot", json: ["message": "x", "room_id": roomID], headers: auth).status == 404)
        #expect(try await call("POST", "\(daemon.base)/omnichat/bot", json: ["message": "x", "type": "carousel", "room_id": roomID], headers: auth).status == 422)

        // The rich types: buttons (postbacks as quick replies, links as lines), a carousel (a message per card).
        let buttons = try await call(
            "POST", "\(daemon.base)/omnichat/bot",
            json: [
                "room_id": roomID, "type": "buttons",
                "payload": [
                    "text": "Pilih satu",
                    "buttons": [
                        ["label": "Pizza", "type": "postback", "payload": ["payload": "PIZZA"]],
                        ["label": "Menu", "type": "link", "payload": ["url": "https://shop.test/menu"]],
                    ],
                ],
            ], headers: auth)
        #expect(buttons.status == 200, "\(buttons.text)")
        try await eventually("the buttons at the network") {
            fake.calls(to: "outbound").contains { ($0.json["message"] as? [String: Any])?["text"] as? String == "Pilih satu\nMenu: https://shop.test/menu" }
        }
        let sentButtons = try #require(fake.calls(to: "outbound").last?.json["message"] as? [String: Any])
        #expect((sentButtons["quick_replies"] as? [[String: String]]) == [["title": "Pizza", "payload": "PIZZA"]])
        let carousel = try await call(
            "POST", "\(daemon.base)/omnichat/bot",
            json: [
                "room_id": roomID, "type": "carousel",
                "payload": ["cards": [
                    ["title": "Margherita", "description": "Rp 50.000", "image": "https://shop.test/m.jpg", "buttons": [["label": "Pesan", "type": "postback", "payload": ["payload": "ORDER-M"]]]],
                    ["title": "Pepperoni", "text": "Pedas"],
                ]],
            ], headers: auth)
        #expect(carousel.status == 200, "\(carousel.text)")
        #expect(((carousel["data"] as? [String: Any])?["comments"] as? [[String: Any]])?.count == 2)
        try await eventually("both cards at the network, in order") {
            fake.calls(to: "outbound").contains { ($0.json["message"] as? [String: Any])?["text"] as? String == "Pepperoni\nPedas" }
        }
        let cards = fake.calls(to: "outbound").suffix(2).compactMap { $0.json["message"] as? [String: Any] }
        #expect(cards.first?["type"] as? String == "image" && cards.first?["url"] as? String == "https://shop.test/m.jpg")
        #expect(cards.first?["text"] as? String == "Margherita\nRp 50.000")
        #expect((cards.first?["quick_replies"] as? [[String: String]]) == [["title": "Pesan", "payload": "ORDER-M"]])
        let badLink = try await call(
            "POST", "\(daemon.base)/omnichat/bot",
            json: ["room_id": roomID, "type": "card", "payload": ["title": "x", "image": "javascript:alert(1)"]], headers: auth)
        #expect(badLink.status == 422 && badLink.text.contains("payload.image"))
        let unknown = try await call("POST", "\(daemon.base)/omnichat/bot", json: ["room_id": roomID, "type": "hologram", "message": "x"], headers: auth)
        #expect(unknown.status == 422 && unknown.text.contains("hologram"))

        // The bot steps aside: the room goes to the agents; it cannot take it back.
        let off = try await call(
            "POST", "\(daemon.base)/bot/\(roomID)/activate", body: Data("is_active=false".utf8),
            headers: auth + [("Content-Type", "application/x-www-form-urlencoded")])
        #expect(off.status == 200 && (off["data"] as? [String: Any])?["is_bot_active"] as? Bool == false, "\(off.text)")
        try await eventually("the room with an agent") { try await daemon.store.room(id: roomID)?.status == .assigned }
        let on = try await call(
            "POST", "\(daemon.base)/bot/\(roomID)/activate", body: Data("is_active=true".utf8),
            headers: auth + [("Content-Type", "application/x-www-form-urlencoded")])
        #expect(on.status == 409 && on["status"] as? Int == 409)
        let late = try await call("POST", "\(daemon.base)/omnichat/bot", json: ["message": "still here", "room_id": roomID], headers: auth)
        #expect(late.status == 409, "the room left the bot")
    }

    @Test("agents, divisions, rooms, tags and the service routes answer in the hosted product's shapes")
    func routes() async throws {
        let daemon = try TestDaemon(channels: ["shop": Self.customChannel, "tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (ann, _) = try await daemon.signIn(email: "ann@shop.test", channels: ["shop"])
        let (bo, _) = try await daemon.signIn(email: "bo@shop.test", online: false)
        let (_, supToken) = try await daemon.signIn(email: "sup@shop.test", role: .supervisor, online: false)
        let sales = try await daemon.store.createDivision(name: "Sales")
        _ = try await daemon.store.setUserDivisions(userID: bo.id, divisionIDs: [sales.id])
        let key = try await RoutingEndToEndTests().apiKey(daemon, scope: .allocation)
        let auth: [(name: String, value: String)] = [("Qiscus-App-Id", "omnichat"), ("Qiscus-Secret-Key", key)]
        func get(_ path: String) async throws -> HTTPResult { try await call("GET", "\(daemon.base)\(path)", headers: auth) }
        func post(_ path: String, _ form: String) async throws -> HTTPResult {
            try await call("POST", "\(daemon.base)\(path)", body: Data(form.utf8), headers: auth + [("Content-Type", "application/x-www-form-urlencoded")])
        }

        let v2 = try await get("/api/v2/admin/agents?limit=2&page=1")
        #expect(v2.status == 200 && v2["status"] as? Int == 200)
        let rows = try #require((v2["data"] as? [String: Any])?["agents"] as? [[String: Any]])
        #expect(rows.count == 2 && (v2["meta"] as? [String: Any])?["total_count"] as? Int == 3 && (v2["meta"] as? [String: Any])?["per_page"] as? Int == 2)
        let annRow = try #require(rows.first { $0["id"].asID == ann.id })
        #expect(annRow["type"] as? Int == 2 && annRow["type_as_string"] as? String == "agent" && annRow["is_available"] as? Bool == true)
        #expect((annRow["user_channels"] as? [[String: Any]])?.map { $0["name"] as? String } == ["shop"])
        #expect((annRow["user_channels"] as? [[String: Any]])?.first?["id"].asID != nil, "channels have integer ids")
        #expect((annRow["user_roles"] as? [[String: Any]])?.first?["name"] as? String == "agent")
        let searched = try await get("/api/v2/admin/agents?search=BO%40")
        #expect(((searched["data"] as? [String: Any])?["agents"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [bo.id])

        let v1 = try await get("/api/v1/admin/agents?page=1&limit=10")
        let page = try #require((v1["data"] as? [String: Any])?["agents"] as? [String: Any])
        #expect(page["total"] as? Int == 3 && (page["data"] as? [[String: Any]])?.allSatisfy { $0["total_resolved"] is String } == true)
        let byIDs = try await get("/api/v1/admin/agents/get_by_ids?ids[]=\(ann.id)&ids[]=\(bo.id)")
        #expect(Set((byIDs["data"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID }) == [ann.id, bo.id])
        let byDivision = try await get("/api/v2/admin/agents/by_division?division_ids[]=\(sales.id)")
        #expect(((byDivision["data"] as? [String: Any])?["agents"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [bo.id])
        let divisions = try await get("/api/v2/divisions")
        #expect(((divisions["data"] as? [String: Any])?["divisions"] as? [[String: Any]])?.contains { $0["id"].asID == sales.id && $0["name"] as? String == "Sales" } == true)

        // A room: available agents (GET and POST), other agents, allocate, remove, tags, rooms.
        #expect(try await CompatibleServicesTests.customerWrites(daemon, event: "r-1", text: "hello").status == 200)
        var roomID: Int64 = 0
        try await eventually("the room assigned to Ann") {
            roomID = try await daemon.store.rooms(RoomFilter(channelIDs: ["shop"])).items.first?.id ?? 0
            return try await daemon.store.room(id: roomID)?.assignee?.id == ann.id
        }
        let available = try await post("/api/v2/admin/service/available_agents", "room_id=\(roomID)&limit=5")
        #expect(((available["data"] as? [String: Any])?["agents"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [ann.id])
        let others = try await get("/api/v2/admin/service/other_agents?room_id=\(roomID)")
        #expect(((others["data"] as? [String: Any])?["agents"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [bo.id])
        let removed = try await post("/api/v1/admin/service/remove_agent", "room_id=\(roomID)&agent_id=\(ann.id)")
        #expect(removed.status == 200, "\(removed.text)")
        #expect(((removed["data"] as? [String: Any])?["agent"] as? [String: Any])?["id"].asID == ann.id)
        let notHers = try await post("/api/v1/admin/service/remove_agent", "room_id=\(roomID)&agent_id=\(bo.id)")
        #expect(notHers.status == 409 && notHers["status"] as? Int == 409)
        let chosen = try await post("/api/v1/admin/service/allocate_agent", "room_id=\(roomID)")
        #expect(((chosen["data"] as? [String: Any])?["agent"] as? [String: Any])?["id"].asID == ann.id)
        let placed = try await post("/api/v1/admin/service/allocate_assign_agent", "room_id=\(roomID)")
        #expect(placed.status == 200, "\(placed.text)")
        #expect(try await daemon.store.room(id: roomID)?.assignee?.id == ann.id)
        let tagged = try await call("POST", "\(daemon.base)/api/v1/room_tag/create", json: ["room_id": roomID, "tag": "VIP"], headers: auth)
        #expect(tagged.status == 200 && ((tagged["data"] as? [String: Any])?["tags"] as? [[String: String]]) == [["name": "vip"]])
        let list = try await get("/api/v2/customer_rooms?channels=shop&serve_status=served")
        let listed = try #require((list["data"] as? [String: Any])?["customer_rooms"] as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["id"].asID == roomID && listed[0]["room_id"] as? String == String(roomID) && listed[0]["source"] as? String == "shop")
        let unserved = try await get("/api/v2/customer_rooms?serve_status=unserved")
        #expect(((unserved["data"] as? [String: Any])?["customer_rooms"] as? [[String: Any]])?.isEmpty == true)
        let one = try await get("/api/v2/customer_rooms/\(roomID)")
        #expect(((one["data"] as? [String: Any])?["customer_room"] as? [String: Any])?["user_avatar_url"] as? String == "https://cdn.example.com/avatars/random.png")
        #expect(try await get("/api/v2/customer_rooms/999999").status == 404)
        #expect(try await post("/api/v1/admin/service/assign_agent", "room_id=\(roomID)&agent_id=\(bo.id)&max_agent=0").status == 422)

        // Our own customer properties route; a supervisor's session.
        let put = try await call(
            "PUT", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_properties", json: ["properties": [["key": "plan", "value": "gold"]]], token: supToken)
        #expect(put.status == 200 && (put["properties"] as? [[String: String]]) == [["key": "plan", "value": "gold"]])
        let bad = try await call(
            "PUT", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_properties", json: ["properties": [["key": "", "value": "x"]]], token: supToken)
        #expect(bad.status == 422)
        let read = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_properties", token: supToken)
        #expect((read["properties"] as? [[String: String]]) == [["key": "plan", "value": "gold"]])
        // The inbox search finds the room by a property's value and by the customer's email.
        for query in ["GOLD", "randompertama@"] {
            let found = try await call("GET", "\(daemon.base)/api/v1/rooms?q=\(query)&status=assigned", token: supToken)
            #expect((found["rooms"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [roomID], "q=\(query)")
        }
        let none = try await call("GET", "\(daemon.base)/api/v1/rooms?q=platinum&status=assigned", token: supToken)
        #expect((none["rooms"] as? [[String: Any]])?.isEmpty == true)
        // The agent resolves their own room through the hosted product's agent route.
        let annAuth = try await call("POST", "\(daemon.base)/api/v1/auth", json: ["email": ann.email, "password": "password-\(ann.email)"])
        let annToken = try #require(((annAuth["data"] as? [String: Any])?["user"] as? [String: Any])?["authentication_token"] as? String)
        let mine = try await call(
            "POST", "\(daemon.base)/api/v1/agent/service/mark_as_resolved", json: ["room_id": String(roomID)], headers: [("Authorization", annToken)])
        #expect(mine.status == 200, "\(mine.text)")
        #expect(try await daemon.store.room(id: roomID)?.status == .resolved)
        await daemon.stop()
    }

    @Test("customer_rooms pages both ways: cursor_after to older rooms, cursor_before back to newer ones")
    func customerRoomCursors() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let key = try await RoutingEndToEndTests().apiKey(daemon, scope: .allocation)
        let auth: [(name: String, value: String)] = [("Qiscus-App-Id", "omnichat"), ("Qiscus-Secret-Key", key)]
        func encoded(_ cursor: String?) throws -> String {
            try #require(cursor).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        }
        func page(_ query: String) async throws -> (ids: [Int64], after: String?, before: String?) {
            let answer = try await call("GET", "\(daemon.base)/api/v2/customer_rooms?channels=tg&limit=2\(query)", headers: auth)
            #expect(answer.status == 200, "\(answer.text)")
            let rows = (answer["data"] as? [String: Any])?["customer_rooms"] as? [[String: Any]] ?? []
            let meta = answer["meta"] as? [String: Any] ?? [:]
            return (rows.compactMap { $0["id"].asID }, meta["cursor_after"] as? String, meta["cursor_before"] as? String)
        }
        for n in 1...5 {
            #expect(try await daemon.postUpdate(telegramUpdate(n, chat: Int64(9000 + n))).status == 200)
            try await Task.sleep(for: .milliseconds(15))  // distinct last-message times
        }
        try await eventually("five rooms") { try await daemon.store.rooms(RoomFilter(channelIDs: ["tg"])).items.count == 5 }
        let all = try await daemon.store.rooms(RoomFilter(channelIDs: ["tg"])).items.map(\.id)

        let first = try await page("")
        #expect(first.ids == Array(all[0..<2]))
        #expect(first.before == nil, "nothing newer than the first page")
        let second = try await page("&cursor_after=\(try encoded(first.after))")
        #expect(second.ids == Array(all[2..<4]))
        let third = try await page("&cursor_after=\(try encoded(second.after))")
        #expect(third.ids == [all[4]])
        #expect(third.after == nil, "nothing older than the last page")
        // Back again: the page before the third is the second, and before that the first.
        let back = try await page("&cursor_before=\(try encoded(third.before))")
        #expect(back.ids == second.ids)
        let backAgain = try await page("&cursor_before=\(try encoded(back.before))")
        #expect(backAgain.ids == first.ids)
        #expect(backAgain.before == nil, "the newest page says so")
        #expect(backAgain.after != nil)

        let both = try await call("GET", "\(daemon.base)/api/v2/customer_rooms?cursor_after=\(try encoded(first.after))&cursor_before=\(try encoded(first.after))", headers: auth)
        #expect(both.status == 422 && both.text.contains("cursor_before"))
        let bad = try await call("GET", "\(daemon.base)/api/v2/customer_rooms?cursor_before=nonsense", headers: auth)
        #expect((400..<500).contains(bad.status), "\(bad.status) \(bad.text)")
        await daemon.stop()
    }
}
