import Foundation
import OmnichatCore
@testable import OmnichatServer
import Hummingbird
import Testing

/// omnichatd on a loopback port, a real SQLite file, and a local fake of the
/// Telegram Bot API reached through libcurl.
@Suite("End to end: Telegram", .serialized, .bothEngines)
struct EndToEndTests {
    func withDaemon(
        configure: (inout DaemonConfiguration) -> Void = { _ in },
        _ body: (TestDaemon, FakeTelegram) async throws -> Void
    ) async throws {
        let fake = FakeTelegram()
        try await fake.start()
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL)], configure: configure)
        try await daemon.start()
        do {
            try await body(daemon, fake)
        } catch {
            await daemon.stop()
            await fake.stop()
            daemon.cleanUp()
            throw error
        }
        await daemon.stop()
        await fake.stop()
        daemon.cleanUp()
    }

    @Test("update in, agent signs in, sees the room, replies; the fake receives sendMessage")
    func conversation() async throws {
        try await withDaemon { daemon, fake in
            let (agent, token) = try await daemon.signIn(email: "ann@example.com")

            let webhook = try await daemon.postUpdate(fixture("telegram/text.json"))
            #expect(webhook.status == 200)

            var roomID: Int64 = 0
            try await eventually("the room to be assigned") {
                let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?channel=tg", token: token)
                guard let list = rooms["rooms"] as? [[String: Any]], let room = list.first else { return false }
                roomID = room["id"].asID ?? 0
                return room["status"] as? String == "assigned"
                    && (room["assignee"] as? [String: Any])?["id"].asID == agent.id
            }
            let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?channel=tg&status=assigned", token: token)
            let room = try #require((rooms["rooms"] as? [[String: Any]])?.first)
            #expect(room["channel"] as? String == "tg")
            #expect((room["contact"] as? [String: Any])?["name"] as? String == "Test Firstname Test Lastname")
            #expect(room["last_message_at"] is String)
            #expect(rooms["next_cursor"] is NSNull)
            let otherChannel = try await call("GET", "\(daemon.base)/api/v1/rooms?channel=elsewhere", token: token)
            #expect((otherChannel["rooms"] as? [Any])?.isEmpty == true)

            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: token)
            let inbound = try #require((history["messages"] as? [[String: Any]])?.first)
            #expect(inbound["direction"] as? String == "inbound")
            #expect(inbound["type"] as? String == "text")
            #expect(inbound["text"] as? String == "/start")

            let reply = try await call(
                "POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["type": "text", "text": "Hi! How can I help?"], token: token)
            #expect(reply.status == 201)
            let sent = try #require(reply["message"] as? [String: Any])
            #expect(sent["direction"] as? String == "outbound")
            #expect((sent["delivery"] as? [String: Any])?["status"] as? String == "pending")

            try await eventually("sendMessage at the fake") { !fake.calls(to: "sendMessage").isEmpty }
            let call0 = try #require(fake.calls(to: "sendMessage").first)
            #expect(call0.path == "/bot123456:TEST-token/sendMessage")
            #expect(call0.json["chat_id"] as? Int == 1111111)
            #expect(call0.json["text"] as? String == "Hi! How can I help?")

            try await eventually("the reply to show as delivered") {
                let messages = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: token)
                let last = (messages["messages"] as? [[String: Any]])?.last
                return (last?["delivery"] as? [String: Any])?["status"] as? String == "delivered"
            }
            #expect(fake.calls(to: "sendMessage").count == 1)

            let resolved = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", token: token)
            #expect(resolved.status == 200)
            #expect((resolved["room"] as? [String: Any])?["status"] as? String == "resolved")
        }
    }

    @Test("a wrong or missing secret is refused with 401 and nothing is stored")
    func wrongSecret() async throws {
        try await withDaemon { daemon, _ in
            let wrong = try await daemon.postUpdate(fixture("telegram/text.json"), secret: "not-the-secret")
            #expect(wrong.status == 401)
            #expect((wrong["error"] as? [String: Any])?["code"] as? String == "bad_signature")
            let missing = try await daemon.postUpdate(fixture("telegram/text.json"), secret: nil)
            #expect(missing.status == 401)
            #expect(try await daemon.store.countMessages() == 0)
            // The same update with the right secret is then accepted: nothing was marked seen.
            #expect(try await daemon.postUpdate(fixture("telegram/text.json")).status == 200)
            #expect(try await daemon.store.countMessages() == 1)
        }
    }

    @Test("the same update twice: 200 twice, one message")
    func duplicate() async throws {
        try await withDaemon { daemon, _ in
            let first = try await daemon.postUpdate(telegramUpdate(500))
            let second = try await daemon.postUpdate(telegramUpdate(500))
            #expect(first.status == 200)
            #expect(second.status == 200)
            #expect(first["stored"] as? Int == 1)
            #expect(second["duplicates"] as? Int == 1)
            #expect(try await daemon.store.countMessages() == 1)
        }
    }

    @Test("bad requests: oversized 413, malformed 400 with nothing stored, unknown channel 404")
    func badRequests() async throws {
        try await withDaemon(configure: { $0.maxBodyBytes = 4096 }) { daemon, _ in
            let big = try await daemon.postUpdate(telegramUpdate(1, text: String(repeating: "x", count: 10_000)))
            #expect(big.status == 413)
            #expect((big["error"] as? [String: Any])?["code"] as? String == "too_large")

            let malformed = try await daemon.postUpdate(Data("{\"update_id\": 5, \"message\": ".utf8))
            #expect(malformed.status == 400)
            #expect(((malformed["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
            let notAnUpdate = try await daemon.postUpdate(Data(#"{"hello":"world"}"#.utf8))
            #expect(notAnUpdate.status == 400)
            #expect(((notAnUpdate["error"] as? [String: Any])?["message"] as? String)?.contains("update_id") == true)

            let unknown = try await daemon.postUpdate(telegramUpdate(2), channel: "nope")
            #expect(unknown.status == 404)
            #expect(((unknown["error"] as? [String: Any])?["message"] as? String)?.contains("nope") == true)
            #expect(try await daemon.store.countMessages() == 0)
        }
    }

    @Test("429 with retry_after 1, then 200: delivered exactly once, after the hint")
    func rateLimited() async throws {
        try await withDaemon { daemon, fake in
            fake.respond([(429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 1","parameters":{"retry_after":1}}"#)])
            let (_, token) = try await daemon.signIn(email: "bo@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1))
            let roomID = try await assignedRoom(daemon, token)
            let reply = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "patience"], token: token)
            #expect(reply.status == 201)
            try await eventually("two calls at the fake") { fake.calls(to: "sendMessage").count >= 2 }
            let calls = fake.calls(to: "sendMessage")
            #expect(calls[0].at.duration(to: calls[1].at) >= .milliseconds(950))
            try await eventually("delivered") {
                let message = try await lastMessage(daemon, token, roomID)
                return (message["delivery"] as? [String: Any])?["status"] as? String == "delivered"
            }
            let message = try await lastMessage(daemon, token, roomID)
            #expect((message["delivery"] as? [String: Any])?["attempts"] as? Int == 2)
            try await Task.sleep(for: .milliseconds(500))
            #expect(fake.calls(to: "sendMessage").count == 2, "no third call after delivery")
        }
    }

    @Test("a permanent refusal marks the reply failed with the network's reason")
    func permanentFailure() async throws {
        try await withDaemon { daemon, fake in
            fake.respond([(403, #"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#)])
            let (_, token) = try await daemon.signIn(email: "cy@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1))
            let roomID = try await assignedRoom(daemon, token)
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "hello?"], token: token)
            try await eventually("failed") {
                let message = try await lastMessage(daemon, token, roomID)
                return (message["delivery"] as? [String: Any])?["status"] as? String == "failed"
            }
            let delivery = try #require(try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])
            #expect(delivery["error"] as? String == "Forbidden: bot was blocked by the user")
            #expect(fake.calls(to: "sendMessage").count == 1)

            // Dead letters: listed for supervisors, retried on demand (the user unblocked the bot).
            let messageID = try #require(try await lastMessage(daemon, token, roomID)["id"].asID)
            #expect(try await call("GET", "\(daemon.base)/api/v1/deliveries", token: token).status == 403)
            let (_, supervisor) = try await daemon.signIn(email: "sup@example.com", role: .supervisor, online: false)
            let dead = try await call("GET", "\(daemon.base)/api/v1/deliveries?channel=tg", token: supervisor)
            let letters = try #require(dead["deliveries"] as? [[String: Any]])
            #expect(letters.count == 1)
            #expect(letters.first?["message_id"].asID == messageID)
            #expect(letters.first?["error"] as? String == "Forbidden: bot was blocked by the user")
            let retried = try await call("POST", "\(daemon.base)/api/v1/messages/\(messageID)/retry", token: token)
            #expect(retried.status == 200)
            try await eventually("delivered after the retry") {
                (try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "delivered"
            }
            #expect(fake.calls(to: "sendMessage").count == 2)
            #expect(try await call("POST", "\(daemon.base)/api/v1/messages/\(messageID)/retry", token: token).status == 409)
            #expect((try await call("GET", "\(daemon.base)/api/v1/deliveries", token: supervisor)["deliveries"] as? [Any])?.isEmpty == true)
        }
    }

    @Test("server errors are retried with backoff up to max_attempts, then marked failed")
    func givesUp() async throws {
        try await withDaemon(configure: { $0.deliveryMaxAttempts = 3 }) { daemon, fake in
            fake.respond(Array(repeating: (500, #"{"ok":false,"error_code":500,"description":"Internal Server Error"}"#), count: 10))
            let (_, token) = try await daemon.signIn(email: "di@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1))
            let roomID = try await assignedRoom(daemon, token)
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "x"], token: token)
            try await eventually("failed") {
                let message = try await lastMessage(daemon, token, roomID)
                return (message["delivery"] as? [String: Any])?["status"] as? String == "failed"
            }
            let delivery = try #require(try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])
            #expect(delivery["attempts"] as? Int == 3)
            #expect((delivery["error"] as? String)?.contains("Internal Server Error") == true)
            #expect(fake.calls(to: "sendMessage").count == 3)
        }
    }

    @Test("a button tap is stored as a postback and answered with answerCallbackQuery")
    func callbackAnswered() async throws {
        try await withDaemon { daemon, fake in
            let response = try await daemon.postUpdate(fixture("telegram/callback-query.json"))
            #expect(response.status == 200)
            try await eventually("answerCallbackQuery") { !fake.calls(to: "answerCallbackQuery").isEmpty }
            #expect(fake.calls(to: "answerCallbackQuery").first?.json["callback_query_id"] as? String == "4382bfdwdsb323b2d9")
        }
    }

    @Test("long replies arrive in order as several messages")
    func longReplySplits() async throws {
        try await withDaemon { daemon, fake in
            let (_, token) = try await daemon.signIn(email: "ed@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1))
            let roomID = try await assignedRoom(daemon, token)
            let text = (1...3).map { "part \($0) " + String(repeating: "y", count: 3000) }.joined(separator: "\n")
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": text], token: token)
            try await eventually("three sendMessage calls") { fake.calls(to: "sendMessage").count == 3 }
            let parts = fake.calls(to: "sendMessage").map { $0.json["text"] as? String ?? "" }
            #expect(parts.joined() == text)
            #expect(parts.map { $0.prefix(6) } == ["part 1", "part 2", "part 3"])
        }
    }

    @Test("roles: agents see and answer only their rooms; errors are JSON with the right status")
    func access() async throws {
        try await withDaemon { daemon, _ in
            let (_, annToken) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 1)
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1))
            let annRoom = try await assignedRoom(daemon, annToken)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(2, chat: 2))
            let boRoom = try await assignedRoom(daemon, boToken)
            #expect(annRoom != boRoom)

            let forbidden = try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", json: ["text": "mine?"], token: boToken)
            #expect(forbidden.status == 403)
            #expect((forbidden["error"] as? [String: Any])?["code"] as? String == "forbidden")
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", token: boToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/resolve", token: boToken).status == 403)
            let boRooms = try await call("GET", "\(daemon.base)/api/v1/rooms", token: boToken)
            #expect((boRooms["rooms"] as? [[String: Any]])?.map { $0["id"].asID } == [boRoom])

            let (_, supervisorToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let all = try await call("GET", "\(daemon.base)/api/v1/rooms", token: supervisorToken)
            #expect((all["rooms"] as? [Any])?.count == 2)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", token: supervisorToken).status == 200)

            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms").status == 401)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms", token: "oc_forged").status == 401)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/rm_missing/messages", token: supervisorToken).status == 404)
            let badLogin = try await call("POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "ann@example.com", "password": "wrong"])
            #expect(badLogin.status == 401)
            #expect(try await call("POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "ann@example.com"]).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", json: ["type": "text", "text": ""], token: annToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", json: ["type": "image"], token: annToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", json: ["type": "hologram", "text": "x"], token: annToken).status == 422)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": "yes"], token: annToken).status == 422)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": 1], token: annToken).status == 422)
            #expect(try await call("GET", "\(daemon.base)/api/v1/rooms?status=sleeping", token: annToken).status == 422)
            let image = try await call(
                "POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages",
                json: ["type": "image", "url": "https://example.com/a.png", "text": "see"], token: annToken)
            #expect(image.status == 201)
            #expect((image["message"] as? [String: Any])?["url"] as? String == "https://example.com/a.png")

            let logout = try await call("POST", "\(daemon.base)/api/v1/auth/logout", token: annToken)
            #expect(logout.status == 204)
            #expect(try await call("GET", "\(daemon.base)/api/v1/me", token: annToken).status == 401)
        }
    }

    @Test("allocation: least busy first; nobody free means waiting, oldest served first when capacity frees")
    func allocation() async throws {
        try await withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 1)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com", maxOpenRooms: 1, online: false)
            for chat in 1...3 {
                _ = try await daemon.postUpdate(telegramUpdate(chat, chat: Int64(chat)))
                try await Task.sleep(for: .milliseconds(30))
            }
            try await eventually("ann to have one room") {
                let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms", token: annToken)
                return (rooms["rooms"] as? [Any])?.count == 1
            }
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let waiting = try await call("GET", "\(daemon.base)/api/v1/rooms?status=waiting", token: adminToken)
            let waitingRooms = try #require(waiting["rooms"] as? [[String: Any]])
            #expect(waitingRooms.count == 2)

            // Bo comes online: gets the oldest waiting room (chat 2), not chat 3.
            #expect(try await call("PUT", "\(daemon.base)/api/v1/me/status", json: ["online": true], token: boToken).status == 200)
            try await eventually("bo to get a room") {
                let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms", token: boToken)
                return (rooms["rooms"] as? [Any])?.count == 1
            }
            let boRoom = try #require((try await call("GET", "\(daemon.base)/api/v1/rooms", token: boToken)["rooms"] as? [[String: Any]])?.first)
            #expect((boRoom["contact"] as? [String: Any])?["external_id"] as? String == "2")

            // Ann resolves hers: the last waiting room (chat 3) goes to her.
            let annRoom = try await assignedRoom(daemon, annToken)
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/resolve", token: annToken)
            try await eventually("chat 3 to be assigned to ann") {
                let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?status=assigned", token: annToken)
                let list = rooms["rooms"] as? [[String: Any]] ?? []
                return list.count == 1 && (list[0]["contact"] as? [String: Any])?["external_id"] as? String == "3"
                    && (list[0]["assignee"] as? [String: Any])?["id"].asID == ann.id
            }
            // A new message in the resolved room reopens it; it waits (everyone is full).
            _ = try await daemon.postUpdate(telegramUpdate(10, chat: 1))
            try await eventually("the resolved room to reopen as waiting") {
                let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?status=waiting", token: adminToken)
                return (rooms["rooms"] as? [[String: Any]])?.first?["id"].asID == annRoom
            }
        }
    }

    @Test("a restart does not resend what was delivered, and routes what waited")
    func restart() async throws {
        let fake = FakeTelegram()
        try await fake.start()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let channels = ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL)]

        let first = try TestDaemon(directory: directory, channels: channels)
        try await first.start()
        let (_, token) = try await first.signIn(email: "ann@example.com")
        _ = try await first.postUpdate(telegramUpdate(1))
        let roomID = try await assignedRoom(first, token)
        _ = try await call("POST", "\(first.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "once"], token: token)
        try await eventually("delivered") { fake.calls(to: "sendMessage").count == 1 }
        try await eventually("recorded as delivered") {
            (try await lastMessage(first, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "delivered"
        }
        await first.stop()

        let second = try TestDaemon(directory: directory, channels: channels)
        try await second.start()
        try await Task.sleep(for: .milliseconds(600))
        #expect(fake.calls(to: "sendMessage").count == 1)
        let messages = try await call("GET", "\(second.base)/api/v1/rooms/\(roomID)/messages", token: token)
        #expect((messages["messages"] as? [Any])?.count == 2)
        await second.stop()
        await fake.stop()
    }

    @Test("an agent fetches an inbound attachment through the media route (getFile, then the file)")
    func media() async throws {
        try await withDaemon(configure: { $0.maxMediaBytes = 64 }) { daemon, fake in
            fake.defaultAnswer = { path, _ in
                if path.hasSuffix("/getFile") { return .init(status: 200, body: #"{"ok":true,"result":{"file_path":"documents/file_7.pdf"}}"#) }
                if path.hasSuffix("/big.bin") { return .init(status: 200, body: String(repeating: "B", count: 500), contentType: "application/octet-stream") }
                if path.contains("/file/bot") { return .init(status: 200, body: "%PDF-1.4 fake", contentType: "application/pdf") }
                return .init(status: 200, body: #"{"ok":true,"result":{"message_id":1}}"#)
            }
            let (_, token) = try await daemon.signIn(email: "ann@example.com")
            _ = try await daemon.postUpdate(fixture("telegram/document.json"))
            let roomID = try await assignedRoom(daemon, token)
            let document = try await lastMessage(daemon, token, roomID)
            #expect(document["type"] as? String == "file")
            #expect(document["file_name"] as? String == "Testfile.pdf")
            let id = try #require(document["id"].asID)

            let media = try await call("GET", "\(daemon.base)/api/v1/messages/\(id)/media", token: token)
            #expect(media.status == 200)
            #expect(media.text == "%PDF-1.4 fake")
            #expect(media.headers.first { $0.name.lowercased() == "content-type" }?.value == "application/pdf")
            // Not an image on the list: a download, never sniffed, sandboxed.
            #expect(media.headers.first { $0.name.lowercased() == "content-disposition" }?.value == "attachment; filename=\"Testfile.pdf\"")
            #expect(media.headers.first { $0.name.lowercased() == "x-content-type-options" }?.value == "nosniff")
            #expect(media.headers.first { $0.name.lowercased() == "content-security-policy" }?.value.hasPrefix("sandbox") == true)
            #expect(APIRoutes.mediaHeaders(type: "image/png", fileName: nil)[.contentDisposition] == "inline")
            #expect(APIRoutes.mediaHeaders(type: "text/html; charset=utf-8", fileName: "x\".html")[.contentDisposition] == "attachment; filename=\"x.html\"")
            #expect(fake.calls(to: "getFile").first?.json["file_id"] as? String == "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX")
            #expect(fake.calls.last?.path == "/file/bot123456:TEST-token/documents/file_7.pdf")

            #expect(try await call("GET", "\(daemon.base)/api/v1/messages/\(id)/media").status == 401)
            #expect(try await call("GET", "\(daemon.base)/api/v1/messages/msg_missing/media", token: token).status == 404)
            let (_, other) = try await daemon.signIn(email: "bo@example.com", online: false)
            #expect(try await call("GET", "\(daemon.base)/api/v1/messages/\(id)/media", token: other).status == 403)

            // A text message has nothing to fetch; a file over the cap is refused with 413.
            _ = try await daemon.postUpdate(telegramUpdate(77))
            let text = try await lastMessage(daemon, token, roomID)
            #expect(try await call("GET", "\(daemon.base)/api/v1/messages/\(text["id"].asID!)/media", token: token).status == 404)
            fake.respond([(200, #"{"ok":true,"result":{"file_path":"big.bin"}}"#)])
            let big = try await call("GET", "\(daemon.base)/api/v1/messages/\(id)/media", token: token)
            #expect(big.status == 413)
        }
    }

    @Test("health, readiness and Prometheus metrics")
    func operations() async throws {
        try await withDaemon { daemon, _ in
            #expect(try await call("GET", "\(daemon.base)/healthz").status == 200)
            #expect(try await call("GET", "\(daemon.base)/readyz").status == 200)
            _ = try await daemon.postUpdate(telegramUpdate(1))
            _ = try await daemon.postUpdate(telegramUpdate(1))
            _ = try await daemon.postUpdate(telegramUpdate(2), secret: "bad")
            let metrics = try await call("GET", "\(daemon.base)/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains(#"omnichat_webhooks_total{channel="tg",outcome="accepted"} 1"#))
            #expect(metrics.text.contains(#"omnichat_webhooks_total{channel="tg",outcome="duplicate"} 1"#))
            #expect(metrics.text.contains(#"omnichat_webhooks_total{channel="tg",outcome="unauthorized"} 1"#))
            #expect(metrics.text.contains("omnichat_queue_depth"))
            #expect(!metrics.text.contains("TEST-token"))
            // Through a proxy (X-Forwarded-For), the scraper is not this machine: refused without a token.
            let proxied = try await call("GET", "\(daemon.base)/metrics", headers: [("X-Forwarded-For", "203.0.113.5")])
            #expect(proxied.status == 403 && proxied.text.contains("metrics_token"))
        }
        try await withDaemon(configure: { $0.metricsToken = "scrape-me-7" }) { daemon, _ in
            let forwarded: [(name: String, value: String)] = [("X-Forwarded-For", "203.0.113.5")]
            #expect(try await call("GET", "\(daemon.base)/metrics", headers: forwarded).status == 403)
            #expect(try await call("GET", "\(daemon.base)/metrics", token: "wrong", headers: forwarded).status == 403)
            let scraped = try await call("GET", "\(daemon.base)/metrics", token: "scrape-me-7", headers: forwarded)
            #expect(scraped.status == 200 && scraped.text.contains("omnichat_queue_depth"))
            #expect(!scraped.text.contains("scrape-me-7"))
        }
        // metrics_listen: a second address serves /metrics freely; the main port keeps its rules.
        try await withDaemon(configure: { $0.metricsListen = "127.0.0.1:0" }) { daemon, _ in
            try await eventually("the metrics listener is bound") { daemon.daemon.metricsListener.withLock { $0 } != 0 }
            let port = daemon.daemon.metricsListener.withLock { $0 }
            #expect(port != daemon.port)
            let forwarded: [(name: String, value: String)] = [("X-Forwarded-For", "203.0.113.5")]
            let scraped = try await call("GET", "http://127.0.0.1:\(port)/metrics", headers: forwarded)
            #expect(scraped.status == 200 && scraped.text.contains("omnichat_queue_depth"))
            #expect(try await call("GET", "http://127.0.0.1:\(port)/healthz").status == 200)
            #expect(try await call("GET", "http://127.0.0.1:\(port)/api/v1/me").status == 404, "only the operations routes")
            #expect(try await call("GET", "\(daemon.base)/metrics", headers: forwarded).status == 403)
        }
        for bad in ["9464", "localhost", "127.0.0.1:99999", "example.com:9464"] {
            var configuration = DaemonConfiguration()
            configuration.metricsListen = bad
            #expect(throws: ConfigurationError.self, "\(bad)") { try configuration.validate(source: "test") }
        }
    }
}

/// The id of the single room assigned to the token's user, once assigned.
func assignedRoom(_ daemon: TestDaemon, _ token: String) async throws -> Int64 {
    var id: Int64?
    try await eventually("a room assigned to the agent") {
        let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?status=assigned", token: token)
        id = (rooms["rooms"] as? [[String: Any]])?.first?["id"].asID
        return id != nil
    }
    return id!
}

func lastMessage(_ daemon: TestDaemon, _ token: String, _ roomID: Int64) async throws -> [String: Any] {
    let messages = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: token)
    return (messages["messages"] as? [[String: Any]])?.last ?? [:]
}
