import Crypto
import Foundation
import OmnichatCore
import OmnichatServer
import Testing

/// Routing through the real server: custom allocation, bots, transfers,
/// divisions, settings, against local HTTP servers standing in for the
/// merchant's services.
@Suite("End to end: routing", .serialized, .bothEngines)
struct RoutingEndToEndTests {
    func withDaemon(
        channel: (String) -> String = { TestDaemon.telegramChannel(apiBase: $0) },
        _ body: (TestDaemon, FakeNetwork, FakeNetwork) async throws -> Void
    ) async throws {
        let network = FakeNetwork()
        try await network.start()
        let merchant = FakeNetwork()  // the merchant's allocation service, bot and resolve hooks
        merchant.defaultAnswer = { _, _ in .init(status: 200, body: "{}") }
        try await merchant.start()
        var text = channel(network.baseURL)
        text = text.replacingOccurrences(of: "MERCHANT", with: merchant.baseURL)
        let daemon = try TestDaemon(channels: ["tg": text])
        try await daemon.start()
        do {
            try await body(daemon, network, merchant)
        } catch {
            await daemon.stop(); await network.stop(); await merchant.stop(); daemon.cleanUp()
            throw error
        }
        await daemon.stop(); await network.stop(); await merchant.stop(); daemon.cleanUp()
    }

    func apiKey(_ daemon: TestDaemon, scope: APIKey.Scope) async throws -> String {
        let secret = Authenticator.newAPIKey()
        _ = try await daemon.store.createAPIKey(name: "\(scope.rawValue) service", scope: scope, keyHash: Authenticator.tokenHash(secret))
        return secret
    }

    func rooms(_ daemon: TestDaemon, _ token: String, _ query: String = "") async throws -> [[String: Any]] {
        try await call("GET", "\(daemon.base)/api/v1/rooms\(query)", token: token)["rooms"] as? [[String: Any]] ?? []
    }

    @Test("custom allocation: the webhook gets the exact payload, the service assigns through assign_agent")
    func customAllocation() async throws {
        try await withDaemon { daemon, _, merchant in
            let (admin, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (bo, _) = try await daemon.signIn(email: "bo@example.com")
            _ = admin
            let settings = try await call(
                "PATCH", "\(daemon.base)/api/v1/settings",
                json: ["custom_allocation": ["enabled": true, "webhook_url": "\(merchant.baseURL)/allocate", "fallback": "wait", "deadline_seconds": 30, "secret": "alloc-secret"]],
                token: adminToken)
            #expect(settings.status == 200)
            let read = try await call("GET", "\(daemon.base)/api/v1/settings", token: adminToken)
            let custom = try #require(read["custom_allocation"] as? [String: Any])
            #expect(custom["enabled"] as? Bool == true)
            #expect(custom["webhook_url"] as? String == "\(merchant.baseURL)/allocate")
            #expect(custom["secret"] == nil, "the secret is never shown")
            #expect(custom["secret_set"] as? Bool == true)
            #expect(try await call("GET", "\(daemon.base)/api/v1/settings", token: annToken).status == 403)

            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 555, name: "Cleo"))
            try await eventually("the allocation webhook call") { !merchant.calls(to: "allocate").isEmpty }
            let hook = try #require(merchant.calls(to: "allocate").first)
            let payload = hook.json
            let roomID = try #require(Int64(payload["room_id"] as? String ?? ""))
            #expect(payload["app_id"] as? String == "omnichat")
            #expect(payload["source"] as? String == "telegram")
            #expect(payload["email"] as? String == "555")
            #expect(payload["avatar_url"] as? String == "")
            #expect(payload["extras"] as? String == "{}")
            #expect(payload["name"] as? String == "Cleo")
            #expect(payload["channel_id"] as? String == "tg")
            #expect([ann.id, bo.id].contains((payload["candidate_agent"] as? [String: Any])?["id"].asID ?? 0), "the candidate is an agent row")
            // Signed like the custom channel.
            let timestamp = try #require(hook.header("X-Omnichat-Timestamp"))
            let mac = HMAC<SHA256>.authenticationCode(
                for: Data("\(timestamp).".utf8) + hook.body, using: SymmetricKey(data: Data("alloc-secret".utf8)))
            #expect(hook.header("X-Omnichat-Signature") == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
            // The automatic rule did not assign it.
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await daemon.store.room(id: roomID)?.status == .waiting)

            let key = try await apiKey(daemon, scope: .allocation)
            let available = try await call("GET", "\(daemon.base)/api/v2/admin/service/available_agents?room_id=\(roomID)", token: key)
            let agents = try #require((available["data"] as? [String: Any])?["agents"] as? [[String: Any]])
            #expect(Set(agents.compactMap { $0["id"].asID }) == [ann.id, bo.id])
            #expect(agents.allSatisfy { $0["is_available"] as? Bool == true && $0["current_customer_count"] as? Int == 0 })
            let unserved = try await call("GET", "\(daemon.base)/api/v2/admin/service/total_unserved", token: key)
            #expect((unserved["data"] as? [String: Any])?["total_unserved"] as? Int == 1)

            // Form-encoded, with the Qiscus header pair, as existing services send it.
            let assigned = try await call(
                "POST", "\(daemon.base)/api/v1/admin/service/assign_agent", body: Data("room_id=\(roomID)&agent_id=\(bo.id)".utf8),
                headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Qiscus-App-Id", "omnichat"), ("Qiscus-Secret-Key", key)])
            #expect(assigned.status == 200, "\(assigned.text)")
            let data = try #require(assigned["data"] as? [String: Any])
            #expect((data["added_agent"] as? [String: Any])?["id"].asID == bo.id)
            #expect((data["service"] as? [String: Any])?["room_id"] as? String == String(roomID))
            #expect(try await daemon.store.room(id: roomID)?.assignee?.id == bo.id)

            // Replacing needs the flag; a read key may not allocate; a wrong app id is refused.
            let replace = try await call("POST", "\(daemon.base)/api/v1/admin/service/assign_agent", json: ["room_id": roomID, "agent_id": ann.id], token: key)
            #expect(replace.status == 409)
            let replaced = try await call(
                "POST", "\(daemon.base)/api/v1/admin/service/assign_agent", json: ["room_id": roomID, "agent_id": ann.id, "replace_latest_agent": true], token: key)
            #expect(replaced.status == 200)
            #expect(try await daemon.store.user(id: bo.id)?.openRooms == 0)
            #expect(try await daemon.store.user(id: ann.id)?.openRooms == 1)
            let readKey = try await apiKey(daemon, scope: .read)
            #expect(try await call("POST", "\(daemon.base)/api/v1/admin/service/assign_agent", json: ["room_id": roomID, "agent_id": bo.id], token: readKey).status == 403)
            #expect(
                try await call(
                    "GET", "\(daemon.base)/api/v2/admin/service/total_unserved",
                    headers: [("Qiscus-App-Id", "someone-else"), ("Qiscus-Secret-Key", key)]
                ).status == 401)

            // Mark as resolved through the service; the resolve webhook is told.
            _ = try await call(
                "PATCH", "\(daemon.base)/api/v1/settings", json: ["mark_as_resolved_webhook_url": "\(merchant.baseURL)/resolved"], token: adminToken)
            let resolved = try await call("POST", "\(daemon.base)/api/v1/admin/service/mark_as_resolved", json: ["room_id": roomID], token: key)
            #expect(resolved.status == 200)
            try await eventually("the mark-as-resolved webhook") { !merchant.calls(to: "resolved").isEmpty }
            #expect(merchant.calls(to: "resolved").first?.json["room_id"].asID == roomID)
            #expect(try await daemon.store.user(id: ann.id)?.openRooms == 0)

            // A receiver refusing with an error page that echoes secrets: the dead letter keeps the status only.
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 556, name: "Dora"))
            try await eventually("Dora's allocation webhook") { merchant.calls(to: "allocate").contains { $0.json["name"] as? String == "Dora" } }
            let doraID = try #require(Int64(merchant.calls(to: "allocate").last { $0.json["name"] as? String == "Dora" }?.json["room_id"] as? String ?? ""))
            #expect(try await call("POST", "\(daemon.base)/api/v1/admin/service/assign_agent", json: ["room_id": doraID, "agent_id": ann.id], token: key).status == 200)
            merchant.respond([(403, #"{"error":"bad token","echo":"Authorization: Bearer merchant-internal-secret-42"}"#)])
            let doraResolved = try await call("POST", "\(daemon.base)/api/v1/admin/service/mark_as_resolved", json: ["room_id": doraID], token: key)
            #expect(doraResolved.status == 200, "\(doraResolved.text)")
            var letters: [[String: Any]] = []
            try await eventually("the refused webhook as a dead letter") {
                letters = try await call("GET", "\(daemon.base)/api/v1/deliveries", token: adminToken)["deliveries"] as? [[String: Any]] ?? []
                return letters.contains { $0["room_id"].asID == doraID }
            }
            let letter = try #require(letters.first { $0["room_id"].asID == doraID })
            #expect(letter["error"] as? String == "the webhook answered HTTP 403")
            #expect(!"\(letters)".contains("merchant-internal-secret-42"))
        }
    }

    @Test("custom allocation falls back to automatic after the deadline")
    func deadlineFallback() async throws {
        try await withDaemon { daemon, _, merchant in
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (ann, _) = try await daemon.signIn(email: "ann@example.com")
            let patch = try await call(
                "PATCH", "\(daemon.base)/api/v1/settings",
                json: ["custom_allocation": ["enabled": true, "webhook_url": "\(merchant.baseURL)/allocate", "fallback": "automatic", "deadline_seconds": 1]],
                token: adminToken)
            #expect(patch.status == 200)
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 9))
            try await eventually("the webhook call") { !merchant.calls(to: "allocate").isEmpty }
            let roomID = try #require(Int64(merchant.calls(to: "allocate").first?.json["room_id"] as? String ?? ""))
            try await eventually(timeout: .seconds(5), "automatic allocation after the deadline") {
                try await daemon.store.room(id: roomID)?.assignee?.id == ann.id
            }
            let trail = try await daemon.store.transitions(roomID: roomID)
            #expect(trail.map(\.to) == [.waiting, .assigned])
            #expect(trail.last?.actor == "routing")
            // Bad settings are refused with a reason.
            let bad = try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["custom_allocation": ["fallback": "maybe"]], token: adminToken)
            #expect(bad.status == 422)
            // Unknown fields are ignored; a raised default capacity applies at once.
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["nonsense": 1], token: adminToken).status == 200)
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["default_max_open_rooms": 0], token: adminToken).status == 422)
            let raised = try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["default_max_open_rooms": 25], token: adminToken)
            #expect(raised["default_max_open_rooms"] as? Int == 25)
        }
    }

    @Test("bot first: the bot gets each message, answers, hands over to a division; humans take it from there")
    func botHandover() async throws {
        try await withDaemon(channel: { api in
            TestDaemon.telegramChannel(apiBase: api) + "\n[bot]\nwebhook_url = \"MERCHANT/bot\"\nsecret = \"bot-secret\"\n"
        }) { daemon, network, merchant in
            let (_, supervisorToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let division = try await call("POST", "\(daemon.base)/api/v1/divisions", json: ["name": "Billing"], token: supervisorToken)
            #expect(division.status == 201)
            let billingID = try #require((division["division"] as? [String: Any])?["id"].asID)
            let (general, _) = try await daemon.signIn(email: "gen@example.com")
            let (billing, billingToken) = try await daemon.signIn(email: "bill@example.com")
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/agents/\(billing.id)", json: ["divisions": [billingID]], token: supervisorToken).status == 200)

            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 42, text: "I was charged twice"))
            try await eventually("the bot to get the message") { !merchant.calls(to: "bot").isEmpty }
            let first = try #require(merchant.calls(to: "bot").first)
            let roomID = try #require(first.json["room_id"].asID)
            #expect((first.json["message"] as? [String: Any])?["text"] as? String == "I was charged twice")
            #expect(first.header("X-Omnichat-Signature")?.hasPrefix("sha256=") == true)
            #expect(try await daemon.store.room(id: roomID)?.status == .bot)

            let bot = try await apiKey(daemon, scope: .bot)
            let reply = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "Let me find a human."], token: bot)
            #expect(reply.status == 201)
            try await eventually("the bot's reply at the network") { network.calls(to: "sendMessage").count == 1 }

            let handover = try await call(
                "POST", "\(daemon.base)/api/v1/rooms/\(roomID)/handover", json: ["division": "Billing", "note": "double charge"], token: bot)
            #expect(handover.status == 200)
            try await eventually("the billing agent to get the room") { try await daemon.store.room(id: roomID)?.assignee?.id == billing.id }
            #expect(try await daemon.store.user(id: general.id)?.openRooms == 0, "the general agent is not in Billing")

            // Humans have it now: the bot gets nothing more and may not post.
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 42, text: "hello?"))
            try await Task.sleep(for: .milliseconds(300))
            #expect(merchant.calls(to: "bot").count == 1)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "me again"], token: bot).status == 409)
            // Agents see the bot's part of the conversation.
            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: billingToken)
            #expect((history["messages"] as? [[String: Any]])?.map { $0["text"] as? String } == ["I was charged twice", "Let me find a human.", "hello?"])

            // Resolved: the next session starts with the bot again.
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", token: billingToken).status == 200)
            _ = try await daemon.postUpdate(telegramUpdate(3, chat: 42, text: "one more thing"))
            try await eventually("the bot to get the new session") { merchant.calls(to: "bot").count == 2 }
            #expect(try await daemon.store.room(id: roomID)?.status == .bot)
        }
    }

    @Test("transfer to an agent or a division, reassignment past capacity only with force, offline returns rooms")
    func transfers() async throws {
        try await withDaemon { daemon, _, _ in
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 5)
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1))
            let roomID = try await assignedRoom(daemon, annToken)
            let (bo, boToken) = try await daemon.signIn(email: "bo@example.com", maxOpenRooms: 1)

            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/transfer", json: ["agent_id": bo.id], token: boToken).status == 403)
            let moved = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/transfer", json: ["agent_id": bo.id], token: annToken)
            #expect(moved.status == 200)
            #expect(try await daemon.store.room(id: roomID)?.assignee?.id == bo.id)
            #expect(try await daemon.store.user(id: ann.id)?.openRooms == 0)
            #expect(try await daemon.store.user(id: bo.id)?.openRooms == 1)

            // Bo is full: a second room cannot be transferred or assigned to him without force.
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 2))
            let second = try await assignedRoom(daemon, annToken)
            let refused = try await call("POST", "\(daemon.base)/api/v1/rooms/\(second)/transfer", json: ["agent_id": bo.id], token: annToken)
            #expect(refused.status == 409)
            #expect(((refused["error"] as? [String: Any])?["message"] as? String)?.contains("capacity") == true)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(second)/assign", json: ["agent_id": bo.id], token: annToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(second)/assign", json: ["agent_id": bo.id], token: adminToken).status == 409)
            let forced = try await call("POST", "\(daemon.base)/api/v1/rooms/\(second)/assign", json: ["agent_id": bo.id, "force": true], token: adminToken)
            #expect(forced.status == 200)
            #expect(try await daemon.store.user(id: bo.id)?.openRooms == 2)

            // Back to a division's queue: Ann (free) gets it again.
            let divisions = try await call("GET", "\(daemon.base)/api/v1/divisions", token: boToken)
            let general = try #require((divisions["divisions"] as? [[String: Any]])?.first { $0["is_default"] as? Bool == true }?["id"].asID)
            let back = try await call("POST", "\(daemon.base)/api/v1/rooms/\(second)/transfer", json: ["division_id": general], token: boToken)
            #expect(back.status == 200)
            try await eventually("ann to get the room back") { try await daemon.store.room(id: second)?.assignee?.id == ann.id }

            // With offline_returns_rooms, going offline hands the rooms back; Ann takes them.
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["offline_returns_rooms": true], token: adminToken).status == 200)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": false], token: boToken).status == 200)
            try await eventually("bo's room to move to ann") { try await daemon.store.room(id: roomID)?.assignee?.id == ann.id }
            #expect(try await daemon.store.user(id: bo.id)?.openRooms == 0)
        }
    }

    @Test("a reopened room goes back to its previous agent; the event bus sees every change")
    func previousAgentAndEvents() async throws {
        try await withDaemon { daemon, _, _ in
            let events = daemon.daemon.events.subscribe()
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, _) = try await daemon.signIn(email: "bo@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 7))
            var roomID: Int64 = 0
            try await eventually("an assignment") {
                let rooms = try await daemon.store.rooms(RoomFilter(statuses: [.assigned])).items
                roomID = rooms.first?.id ?? 0
                return !roomID.isEmpty
            }
            let first = try #require(try await daemon.store.room(id: roomID)?.assignee?.id)
            let token = first == ann.id ? annToken : try await call(
                "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "bo@example.com", "password": "password-bo@example.com"])["token"] as! String
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", token: token).status == 200)
            // Give the other agent an idle advantage: the least-busy rule alone would pick either.
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 7))
            try await eventually("the reopened room to be assigned") { try await daemon.store.room(id: roomID)?.status == .assigned }
            #expect(try await daemon.store.room(id: roomID)?.assignee?.id == first)
            #expect(try await daemon.store.room(id: roomID)?.session == 2)

            var seen: [String] = []
            for await transition in events where transition.roomID == roomID {
                seen.append("\(transition.from?.rawValue ?? "new")>\(transition.to.rawValue)")
                if seen.count == 5 { break }
            }
            #expect(seen == ["new>waiting", "waiting>assigned", "assigned>resolved", "resolved>waiting", "waiting>assigned"])
        }
    }

    @Test("a default bot from settings takes new sessions of channels that name no bot")
    func defaultBot() async throws {
        try await withDaemon { daemon, _, merchant in
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let refused = try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["default_bot": ["enabled": true]], token: adminToken)
            #expect(refused.status == 422)
            let patch = try await call(
                "PATCH", "\(daemon.base)/api/v1/settings",
                json: ["default_bot": ["enabled": true, "webhook_url": "\(merchant.baseURL)/default-bot", "secret": "s3"]], token: adminToken)
            #expect(patch.status == 200)
            #expect((patch["default_bot"] as? [String: Any])?["secret_set"] as? Bool == true)
            #expect((patch["default_bot"] as? [String: Any])?["secret"] == nil)
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 77, text: "hi bot"))
            try await eventually("the default bot to get the message") { !merchant.calls(to: "default-bot").isEmpty }
            let roomID = try #require(merchant.calls(to: "default-bot").first?.json["room_id"].asID)
            #expect(try await daemon.store.room(id: roomID)?.status == .bot)
        }
    }

    @Test("the default capacity set in settings applies without a restart, and raising it serves the queue")
    func defaultCapacitySetting() async throws {
        try await withDaemon { daemon, _, _ in
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["default_max_open_rooms": 1], token: adminToken).status == 200)
            let (ann, _) = try await daemon.signIn(email: "ann@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1))
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 2))
            try await eventually("one room each way") {
                let open = try await daemon.store.user(id: ann.id)?.openRooms
                let waiting = try await daemon.store.countRooms(status: .waiting)
                return open == 1 && waiting == 1
            }
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/settings", json: ["default_max_open_rooms": 2], token: adminToken).status == 200)
            try await eventually("the waiting room served") { try await daemon.store.user(id: ann.id)?.openRooms == 2 }
            let read = try await call("GET", "\(daemon.base)/api/v1/settings", token: adminToken)
            #expect(read["default_max_open_rooms"] as? Int == 2)
        }
    }

    @Test("a channel's drop-in names its division: only that division's agents get its rooms")
    func channelDivision() async throws {
        try await withDaemon(channel: { TestDaemon.telegramChannel(apiBase: $0) + "\ndivision = \"VIP\"\n" }) { daemon, _, _ in
            let vip = try await daemon.store.createDivision(name: "VIP")
            let (general, _) = try await daemon.signIn(email: "gen@example.com")
            let (concierge, _) = try await daemon.signIn(email: "vip@example.com", online: false)
            _ = try await daemon.store.setUserDivisions(userID: concierge.id, divisionIDs: [vip.id])
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 3))
            try await Task.sleep(for: .milliseconds(300))
            let waiting = try await daemon.store.waitingRooms(limit: 5)
            #expect(waiting.count == 1, "the general agent is online but not in VIP")
            #expect(waiting.first?.divisionID == vip.id)
            #expect(try await daemon.store.user(id: general.id)?.openRooms == 0)
            let login = try await call("POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "vip@example.com", "password": "password-vip@example.com"])
            _ = try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": true], token: login["token"] as? String)
            try await eventually("the VIP agent to get it") { try await daemon.store.room(id: waiting[0].id)?.assignee?.id == concierge.id }
        }
    }
}
