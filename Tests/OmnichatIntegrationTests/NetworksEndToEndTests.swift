import Crypto
import Foundation
import OmnichatCore
import OmnichatServer
import Testing

/// What one network sends and expects, for the end-to-end run below.
struct NetworkCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// The drop-in, given the fake API's base URL.
    var dropIn: @Sendable (String) -> String
    /// A signed inbound request carrying `text` from customer `customer`, with a unique event id.
    var inbound: @Sendable (_ text: String, _ customer: String, _ event: Int) -> (Data, [(name: String, value: String)])
    /// The path suffix of the send call, and how to read the text out of it.
    var sendPath: String
    var sentText: @Sendable (FakeNetwork.Call) -> String?
    var ok: FakeNetwork.Answer
    var retry: FakeNetwork.Answer
    var permanent: FakeNetwork.Answer
    var permanentReason: String

    var testDescription: String { name }
}

func hmacHex(_ key: String, _ data: Data) -> String {
    HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Data(key.utf8))).map { String(format: "%02x", $0) }.joined()
}

func hmacBase64(_ key: String, _ data: Data) -> String {
    Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Data(key.utf8)))).base64EncodedString()
}

func jsonData(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

let networkCases: [NetworkCase] = [
    NetworkCase(
        name: "messenger",
        dropIn: { "kind = \"messenger\"\npage_access_token = \"PAGE-TOKEN-123\"\napp_secret = \"meta-secret\"\nverify_token = \"verify-me\"\napi_base = \"\($0)\"\n" },
        inbound: { text, customer, event in
            let body = jsonData([
                "object": "page",
                "entry": [["id": "PAGE1", "time": 1_700_000_000_000, "messaging": [[
                    "sender": ["id": customer], "recipient": ["id": "PAGE1"], "timestamp": Int(Date().timeIntervalSince1970 * 1000),
                    "message": ["mid": "m_in_\(event)", "text": text],
                ]]]],
            ])
            return (body, [("X-Hub-Signature-256", "sha256=" + hmacHex("meta-secret", body)), ("Content-Type", "application/json")])
        },
        sendPath: "/me/messages",
        sentText: { (($0.json["message"] as? [String: Any])?["text"] as? String) },
        ok: .init(status: 200, body: #"{"recipient_id":"USER","message_id":"m_out_1"}"#),
        retry: .init(status: 500, body: #"{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2}}"#),
        permanent: .init(status: 400, body: #"{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551}}"#),
        permanentReason: "not available"),
    NetworkCase(
        name: "whatsapp",
        dropIn: {
            "kind = \"whatsapp\"\naccess_token = \"WA-TOKEN-123\"\nphone_number_id = \"106540352242922\"\napp_secret = \"meta-secret\"\nverify_token = \"verify-me\"\napi_base = \"\($0)\"\n"
        },
        inbound: { text, customer, event in
            let body = jsonData([
                "object": "whatsapp_business_account",
                "entry": [["id": "WABA", "changes": [["field": "messages", "value": [
                    "messaging_product": "whatsapp",
                    "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                    "contacts": [["profile": ["name": "Sheena"], "wa_id": customer]],
                    "messages": [["from": customer, "id": "wamid.in\(event)", "timestamp": String(Int(Date().timeIntervalSince1970)), "type": "text", "text": ["body": text]]],
                ] as [String: Any]]]]],
            ])
            return (body, [("X-Hub-Signature-256", "sha256=" + hmacHex("meta-secret", body)), ("Content-Type", "application/json")])
        },
        sendPath: "/106540352242922/messages",
        sentText: { (($0.json["text"] as? [String: Any])?["body"] as? String) },
        ok: .init(status: 200, body: #"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.out1"}]}"#),
        retry: .init(status: 429, body: #"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429}}"#),
        permanent: .init(status: 400, body: #"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#),
        permanentReason: "Invalid parameter"),
    NetworkCase(
        name: "line",
        dropIn: { "kind = \"line\"\nchannel_access_token = \"LINE-TOKEN-123\"\nchannel_secret = \"line-secret\"\napi_base = \"\($0)\"\ndata_api_base = \"\($0)\"\n" },
        inbound: { text, customer, event in
            let body = jsonData([
                "destination": "Ubot",
                "events": [[
                    "type": "message", "mode": "active", "timestamp": Int(Date().timeIntervalSince1970 * 1000),
                    "source": ["type": "user", "userId": customer], "webhookEventId": "01HEVENT\(event)",
                    "deliveryContext": ["isRedelivery": false], "replyToken": "reply-token-\(event)",
                    "message": ["id": "\(event)", "type": "text", "text": text, "quoteToken": "q"],
                ] as [String: Any]],
            ])
            return (body, [("X-Line-Signature", hmacBase64("line-secret", body)), ("Content-Type", "application/json")])
        },
        sendPath: "/v2/bot/message/",
        sentText: { (($0.json["messages"] as? [[String: Any]])?.first?["text"] as? String) },
        ok: .init(status: 200, body: #"{"sentMessages":[{"id":"461230966842064897","quoteToken":"q"}]}"#),
        retry: .init(status: 500, body: #"{"message":"Internal server error"}"#),
        permanent: .init(status: 400, body: #"{"message":"The request body has 1 error(s)","details":[{"message":"must be specified","property":"messages[0].text"}]}"#),
        permanentReason: "request body"),
    NetworkCase(
        name: "custom",
        dropIn: { "kind = \"custom\"\nsecret = \"custom-secret\"\nwebhook_url = \"\($0)/hook\"\n" },
        inbound: { text, customer, event in
            let body = jsonData(["event_id": "evt-\(event)", "user": ["id": customer, "name": "Dana"], "message": ["type": "text", "text": text]])
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signature = "sha256=" + hmacHex("custom-secret", Data("\(timestamp).".utf8) + body)
            return (body, [("X-Omnichat-Timestamp", timestamp), ("X-Omnichat-Signature", signature), ("Content-Type", "application/json")])
        },
        sendPath: "/hook",
        sentText: { (($0.json["message"] as? [String: Any])?["text"] as? String) },
        ok: .init(status: 200, body: "{}"),
        retry: .init(status: 503, body: #"{"error":"busy"}"#, headers: [("Retry-After", "1")]),
        permanent: .init(status: 422, body: #"{"error":{"code":"unknown_user","message":"no such user"}}"#),
        permanentReason: "422"),
]

@Suite("End to end: every network", .serialized, .bothEngines)
struct NetworksEndToEndTests {
    @Test("signed non-ASCII message in, agent reply out through libcurl with a retry, then a permanent failure", arguments: networkCases)
    func roundTrip(_ network: NetworkCase) async throws {
        let fake = FakeNetwork()
        let ok = network.ok
        fake.defaultAnswer = { _, _ in ok }
        try await fake.start()
        let daemon = try TestDaemon(channels: [network.name: network.dropIn(fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }

        let (_, token) = try await daemon.signIn(email: "ann@example.com")
        let text = "Café ☕ 你好, où est ma commande ?"
        let (body, headers) = network.inbound(text, "cust-42", 1)
        let accepted = try await call("POST", "\(daemon.base)/webhooks/\(network.name)", body: body, headers: headers)
        #expect(accepted.status == 200, "\(accepted.text)")
        // A changed byte breaks the signature: refused, nothing stored.
        var tampered = body
        tampered[tampered.count / 2] ^= 0x01
        let refused = try await call("POST", "\(daemon.base)/webhooks/\(network.name)", body: tampered, headers: headers)
        #expect(refused.status == 401)
        // The same delivery again: acknowledged, not doubled.
        #expect(try await call("POST", "\(daemon.base)/webhooks/\(network.name)", body: body, headers: headers).status == 200)

        let roomID = try await assignedRoom(daemon, token)
        let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", token: token)
        let messages = try #require(history["messages"] as? [[String: Any]])
        #expect(messages.count == 1)
        #expect(messages.first?["text"] as? String == text)

        // First reply: the network fails once (retried), then accepts.
        fake.respond(answers: [network.retry])
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "Merci, c'est parti 🚚"], token: token)
        try await eventually("the reply delivered") {
            (try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "delivered"
        }
        let sends = fake.calls.filter { $0.path.contains(network.sendPath) }
        #expect(sends.count == 2, "one failure, one success")
        #expect(sends.allSatisfy { network.sentText($0) == "Merci, c'est parti 🚚" })
        #expect((try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["attempts"] as? Int == 2)

        // Second reply: refused for good, the reason shown to the agent.
        fake.respond(answers: [network.permanent])
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "Hello?"], token: token)
        try await eventually("the reply failed") {
            (try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "failed"
        }
        let delivery = try #require(try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])
        let reason = delivery["error"] as? String ?? ""
        #expect(reason.contains(network.permanentReason), "reason: \(reason)")
        #expect(!reason.contains("TOKEN-123") && !reason.contains("secret"))
        #expect(fake.calls.filter { $0.path.contains(network.sendPath) }.count == 3)

        let metrics = try await call("GET", "\(daemon.base)/metrics")
        #expect(!metrics.text.contains("TOKEN-123"))
        await daemon.stop()
        await fake.stop()
    }

    @Test("LINE: the first reply uses the fresh reply token, a retry pushes with one retry key")
    func lineReplyThenPush() async throws {
        let line = networkCases[2]
        let fake = FakeNetwork()
        let ok = line.ok
        fake.defaultAnswer = { _, _ in ok }
        try await fake.start()
        let daemon = try TestDaemon(channels: ["line": line.dropIn(fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "ann@example.com")
        let (body, headers) = line.inbound("hi", "Uline1", 7)
        _ = try await call("POST", "\(daemon.base)/webhooks/line", body: body, headers: headers)
        let roomID = try await assignedRoom(daemon, token)
        fake.respond(answers: [.init(status: 400, body: #"{"message":"Invalid reply token"}"#)])
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "hello"], token: token)
        try await eventually("delivered by push") {
            (try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "delivered"
        }
        let calls = fake.calls
        #expect(calls.map { URL(string: "http://x\($0.path)")!.lastPathComponent } == ["reply", "push"])
        #expect(calls[0].json["replyToken"] as? String == "reply-token-7")
        #expect(calls[1].json["to"] as? String == "Uline1")
        #expect(calls[1].header("X-Line-Retry-Key")?.count == 36)
        #expect(calls[1].header("Authorization") == "Bearer LINE-TOKEN-123")
        await daemon.stop()
        await fake.stop()
    }

    @Test("Meta: the GET verify handshake answers the challenge, 403 on a wrong token")
    func metaHandshake() async throws {
        let daemon = try TestDaemon(channels: ["fb": networkCases[0].dropIn("http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let good = try await call("GET", "\(daemon.base)/webhooks/fb?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
        #expect(good.status == 200)
        #expect(good.text == "1158201444")
        let bad = try await call("GET", "\(daemon.base)/webhooks/fb?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
        #expect(bad.status == 403)
        await daemon.stop()
    }

    @Test("WhatsApp: statuses move the reply forward (read without delivered) and a failed status shows its reason")
    func whatsappStatuses() async throws {
        let wa = networkCases[1]
        let fake = FakeNetwork()
        let ok = wa.ok
        fake.defaultAnswer = { _, _ in ok }
        try await fake.start()
        let daemon = try TestDaemon(channels: ["wa": wa.dropIn(fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "ann@example.com")
        let (body, headers) = wa.inbound("hi", "16505551234", 1)
        _ = try await call("POST", "\(daemon.base)/webhooks/wa", body: body, headers: headers)
        let roomID = try await assignedRoom(daemon, token)
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "on its way"], token: token)
        try await eventually("delivered") {
            (try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])?["status"] as? String == "delivered"
        }
        func status(_ value: String, _ event: Int) -> (Data, [(name: String, value: String)]) {
            let body = jsonData([
                "object": "whatsapp_business_account",
                "entry": [["id": "WABA", "changes": [["field": "messages", "value": [
                    "messaging_product": "whatsapp",
                    "metadata": ["display_phone_number": "15550783881", "phone_number_id": "106540352242922"],
                    "statuses": [["id": "wamid.out1", "status": value, "timestamp": String(1_700_000_000 + event), "recipient_id": "16505551234"]],
                ] as [String: Any]]]]],
            ])
            return (body, [("X-Hub-Signature-256", "sha256=" + hmacHex("meta-secret", body))])
        }
        let read = status("read", 1)
        #expect(try await call("POST", "\(daemon.base)/webhooks/wa", body: read.0, headers: read.1).status == 200)
        let late = status("delivered", 2)
        #expect(try await call("POST", "\(daemon.base)/webhooks/wa", body: late.0, headers: late.1).status == 200)
        let delivery = try #require(try await lastMessage(daemon, token, roomID)["delivery"] as? [String: Any])
        #expect(delivery["status"] as? String == "read")
        #expect(try await daemon.store.countMessages() == 2, "statuses are not messages")
        await daemon.stop()
        await fake.stop()
    }
}
