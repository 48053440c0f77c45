import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

func lineFixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/line/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

func lineAdapter(secret: String = "test_channel_secret", lifetime: Int = 50) -> LINEAdapter {
    LINEAdapter(
        channelID: "line",
        configuration: LINEConfiguration(
            channelAccessToken: "test-access-token", channelSecret: secret, replyTokenLifetimeSeconds: lifetime))
}

func lineRequest(_ body: Data, signature: String? = nil) -> WebhookRequest {
    var headers: [(name: String, value: String)] = [("Content-Type", "application/json; charset=utf-8")]
    if let signature { headers.append(("X-Line-Signature", signature)) }
    return WebhookRequest(headers: headers, body: body)
}

private func json(_ request: HTTPRequestDescription) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
}

private func header(_ request: HTTPRequestDescription, _ name: String) -> String? {
    request.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
}

@Suite("LINE inbound")
struct LINEInboundTests {
    static let user = "U206d25c2ea6bd87c17655609a1c37cb8"

    @Test(
        "every fixture parses: kind, ids, conversation and raw event",
        arguments: [
            ("text.json", "message", MessageType.text),
            ("redelivered-text.json", "message", .text),
            ("image.json", "message", .image),
            ("file.json", "message", .file),
            ("location.json", "message", .location),
            ("sticker.json", "message", .sticker),
            ("postback.json", "message", .postback),
            ("follow.json", "follow", .unsupported),
            ("unfollow.json", "unfollow", .unsupported),
        ])
    func fixtures(_ name: String, _ kind: String, _ type: MessageType) throws {
        let body = try lineFixture(name)
        let events = try lineAdapter().parse(lineRequest(body))
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == "testwebhookeventid")
        #expect(event.content.type == type)
        #expect(event.kind == (kind == "message" ? .message : .system(kind)))
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_462_629_479.859))
        // The raw payload is the event's own JSON, byte for byte.
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        let first = try #require((object["events"] as? [Any])?.first)
        #expect(try JSONSerialization.jsonObject(with: Data(event.raw.utf8)) as? NSDictionary == first as? NSDictionary)
        #expect(String(decoding: body, as: UTF8.self).contains(event.raw))
        #expect(event.raw.hasPrefix("{") && event.raw.hasSuffix("}"))
        if name == "image.json" {
            #expect(event.conversationID == "Ra8dbf4673c4c812cd491258042226c99")
            #expect(event.contact.externalID == "Ra8dbf4673c4c812cd491258042226c99")
        } else {
            #expect(event.conversationID == Self.user)
            #expect(event.contact.externalID == Self.user)
        }
        if name == "unfollow.json" {
            #expect(event.replyContext == nil)
        } else {
            #expect(event.replyContext == ["reply_token": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "reply_token_at": "1462629479859"])
        }
    }

    @Test(
        "every fixture file verifies over its exact bytes and parses without error",
        arguments: [
            "text.json", "redelivered-text.json", "image.json", "file.json", "location.json", "sticker.json", "postback.json",
            "follow.json", "unfollow.json", "verify-empty.json",
        ])
    func everyFixtureVerifies(_ name: String) throws {
        let body = try lineFixture(name)
        let request = lineRequest(body, signature: Signature.base64("test_channel_secret", body))
        let adapter = lineAdapter()
        try adapter.verify(request)
        let events = try adapter.parse(request)
        #expect(events.count == (name == "verify-empty.json" ? 0 : 1))
        #expect(events.allSatisfy { $0.eventID == "testwebhookeventid" })
    }

    @Test("a redelivered event has the same id and shape as the first delivery")
    func redelivery() throws {
        let first = try #require(try lineAdapter().parse(lineRequest(lineFixture("text.json"))).first)
        let again = try #require(try lineAdapter().parse(lineRequest(lineFixture("redelivered-text.json"))).first)
        #expect(first.eventID == again.eventID)
        #expect(first.content == again.content)
        #expect(first.networkMessageID == again.networkMessageID)
        #expect(first.conversationID == again.conversationID)
        #expect(first.raw != again.raw)  // isRedelivery differs
    }

    @Test func verificationRequestHasNoEvents() throws {
        #expect(try lineAdapter().parse(lineRequest(lineFixture("verify-empty.json"))).isEmpty)
    }

    @Test func contentOfEachKind() throws {
        let adapter = lineAdapter()
        func content(_ name: String) throws -> InboundEvent {
            try #require(try adapter.parse(lineRequest(lineFixture(name))).first)
        }
        let text = try content("text.json")
        #expect(text.content == .text("Hello, world"))
        #expect(text.networkMessageID == "325708")

        let image = try content("image.json")
        #expect(image.content.url == "https://example.com")  // external provider: its URL
        #expect(image.content.mediaID == nil)

        let file = try content("file.json")
        #expect(file.content.fileName == "file.txt")
        #expect(file.content.mediaID == "325708")

        let location = try content("location.json")
        #expect(
            location.content.location
                == GeoLocation(latitude: 35.65910807942215, longitude: 139.70372892916203, title: "my location", address: "Tokyo"))

        let sticker = try content("sticker.json")
        #expect(sticker.content.mediaID == "1/1")
        #expect(sticker.content.text == "Just sticker")

        let postback = try content("postback.json")
        #expect(postback.content.payload == "action=buyItem&itemId=123123&color=red")
        #expect(postback.content.text == "action=buyItem&itemId=123123&color=red")
    }

    @Test("several events in one request, each with its own raw JSON; groups, unsend, unknown types")
    func batch() throws {
        let body = Data(
            """
            {"destination":"U1","events":[
              {"type":"message","webhookEventId":"E1","timestamp":1700000000000,"replyToken":"r1",
               "source":{"type":"group","groupId":"Cgroup","userId":"Uann"},
               "message":{"id":"m1","type":"audio","duration":2000,"contentProvider":{"type":"line"}}},
              {"type":"unsend","webhookEventId":"E2","timestamp":1700000000001,
               "source":{"type":"user","userId":"Uann"},"unsend":{"messageId":"m0"}},
              {"type":"join","webhookEventId":"E3","timestamp":1700000000002,"replyToken":"r3",
               "source":{"type":"room","roomId":"Rroom"}},
              {"type":"messageEdited","webhookEventId":"E4","timestamp":1700000000003,
               "source":{"type":"user","userId":"Uann"}},
              {"type":"message","webhookEventId":"E5","timestamp":1700000000004,
               "source":{"type":"user","userId":"Uann"},"message":{"id":"m5","type":"hologram"}},
              {"type":"activated","webhookEventId":"E6","timestamp":1700000000005},
              {"type":"message","webhookEventId":"E7","timestamp":"not a number","source":{"type":"user","userId":"Uann"},
               "message":{"id":"m7","type":"video","contentProvider":{"type":"external","originalContentUrl":"https://v.example/v.mp4"}}}
            ]}
            """.utf8)
        let received = Date(timeIntervalSince1970: 1_800_000_000)
        let events = try lineAdapter().parse(WebhookRequest(headers: [], body: body, receivedAt: received))
        #expect(events.map(\.eventID) == ["E1", "E2", "E3", "E4", "E5", "E6", "E7"])

        #expect(events[0].conversationID == "Cgroup")
        #expect(events[0].contact.externalID == "Uann")
        #expect(events[0].content == MessageContent(type: .audio, mediaID: "m1"))
        #expect(events[0].raw.contains(#""webhookEventId":"E1""#) && !events[0].raw.contains("E2"))

        #expect(events[1].kind == .system("unsend"))
        #expect(events[1].networkMessageID == "m0")

        #expect(events[2].kind == .system("join"))
        #expect(events[2].conversationID == "Rroom")
        #expect(events[2].replyContext?["reply_token"] == "r3")

        #expect(events[3].kind == .message)  // unknown event type with a conversation: for an agent
        #expect(events[3].content.type == .unsupported)
        #expect(events[4].content.type == .unsupported)  // unknown message type

        #expect(events[5].conversationID == "")  // no source: only recorded
        #expect(events[5].kind == .system("activated"))

        #expect(events[6].content == MessageContent(type: .video, url: "https://v.example/v.mp4"))
        #expect(events[6].occurredAt == received)  // a timestamp of the wrong type is ignored
    }

    @Test(
        "malformed bodies are refused with a reason",
        arguments: [
            ("{not json", "body is not a JSON object"),
            ("", "body is not a JSON object"),
            ("[]", "body is not a JSON object"),
            (#"{"destination":"U1"}"#, "missing field 'events'"),
            (#"{"events":{}}"#, "field 'events' must be an array"),
            (#"{"events":[1]}"#, "events[0] is not an object"),
        ])
    func malformed(_ body: String, _ message: String) {
        #expect(throws: WebhookError(.malformed, message)) { try lineAdapter().parse(lineRequest(Data(body.utf8))) }
    }

    // MARK: Signatures

    @Test(
        "the fixtures README's vectors and LINE's own verify",
        arguments: [
            ("text.json", "test_channel_secret", "6Ld1BP8ASnEFFQJOrYAtvHGIfWJTRLHUzvTuSW4vVxg="),
            ("verify-empty.json", "test_channel_secret", "++8+vgPSptewxdwkw1DaYAUWXQKhRNmYhVgKQu23vMY="),
            ("", "channel_secret", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="),
        ])
    func vectors(_ file: String, _ secret: String, _ signature: String) throws {
        let body = file.isEmpty ? Data("bodybodybodybody".utf8) : try lineFixture(file)
        let adapter = lineAdapter(secret: secret)
        try adapter.verify(lineRequest(body, signature: signature))
        #expect(Signature.base64(secret, body) == signature)

        // Any changed byte fails.
        for index in [0, body.count / 2, body.count - 1] {
            var changed = body
            changed[index] ^= 0x01
            #expect(throws: WebhookError(.unauthorized, "wrong X-Line-Signature header")) {
                try adapter.verify(lineRequest(changed, signature: signature))
            }
        }
        #expect(throws: WebhookError(.unauthorized, "wrong X-Line-Signature header")) {
            try lineAdapter(secret: secret + "x").verify(lineRequest(body, signature: signature))
        }
        #expect(throws: WebhookError(.unauthorized, "missing X-Line-Signature header")) {
            try adapter.verify(lineRequest(body))
        }
        #expect(throws: WebhookError(.unauthorized, "wrong X-Line-Signature header")) {
            try adapter.verify(lineRequest(body, signature: ""))
        }
    }

    @Test("a non-ASCII body is verified over its raw bytes, not a re-encoding")
    func nonASCII() throws {
        // As LINE sends it: UTF-8, not \u-escaped, with its own spacing.
        let body = Data(
            #"{"destination":"U1","events":[{"type":"message","webhookEventId":"E9","timestamp":1700000000000,"source":{"type":"user","userId":"U9"},"message":{"id":"9","type":"text","text":"こんにちは 👋 café"}}]}"#
                .utf8)
        let signature = Signature.base64("test_channel_secret", body)
        let adapter = lineAdapter()
        try adapter.verify(lineRequest(body, signature: signature))
        let event = try #require(try adapter.parse(lineRequest(body, signature: signature)).first)
        #expect(event.content.text == "こんにちは 👋 café")
        // The same JSON re-encoded (escaped) has another signature.
        let object = try JSONSerialization.jsonObject(with: body)
        let reencoded = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        #expect(throws: WebhookError.self) { try adapter.verify(lineRequest(reencoded, signature: signature)) }
    }

    @Test("attachments: LINE-hosted content from the data API with the token; external URLs without it")
    func media() throws {
        let adapter = lineAdapter()
        let hosted = try #require(adapter.media(for: MessageContent(type: .image, mediaID: "325708"), networkMessageID: "325708"))
        #expect(hosted.request.method == "GET")
        #expect(hosted.request.url == "https://api-data.line.me/v2/bot/message/325708/content")
        #expect(header(hosted.request, "Authorization") == "Bearer test-access-token")
        #expect(hosted.next == nil)

        let external = try #require(
            adapter.media(for: MessageContent(type: .video, url: "https://example.com/v.mp4"), networkMessageID: "325709"))
        #expect(external.request.url == "https://example.com/v.mp4")
        #expect(header(external.request, "Authorization") == nil)

        #expect(adapter.media(for: MessageContent(type: .sticker, mediaID: "1/1"), networkMessageID: "1") == nil)
        #expect(adapter.media(for: .text("hi"), networkMessageID: "1") == nil)
    }
}

@Suite("LINE outbound")
struct LINEOutboundTests {
    static let user = "U206d25c2ea6bd87c17655609a1c37cb8"
    static let now = Date(timeIntervalSince1970: 1_700_000_100)

    let adapter = lineAdapter()

    /// A reply context issued `age` seconds before `now`.
    func context(age: TimeInterval) -> [String: String] {
        ["reply_token": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "reply_token_at": String(Int64((Self.now.timeIntervalSince1970 - age) * 1000))]
    }

    func render(_ content: MessageContent, context: [String: String]? = nil, id: Int64 = 101) throws -> [HTTPRequestDescription] {
        try adapter.render(OutboundMessage(conversationID: Self.user, content: content, messageID: id, replyContext: context, now: Self.now))
    }

    @Test func replyGolden() throws {
        let requests = try render(.text("Hello from an agent"), context: context(age: 10))
        #expect(requests.map(\.url) == ["https://api.line.me/v2/bot/message/reply"])
        #expect(header(requests[0], "X-Line-Retry-Key") == nil)
        try Golden.check("line-reply", requests)
    }

    @Test("without a fresh token: push, with a retry key that is the same on every re-render")
    func pushGolden() throws {
        let requests = try render(.text("Hello from an agent"))
        #expect(requests.map(\.url) == ["https://api.line.me/v2/bot/message/push"])
        try Golden.check("line-push", requests)
        let key = try #require(header(requests[0], "X-Line-Retry-Key"))
        #expect(key == HMACSHA256.uuid(seed: "101#0"))
        #expect(key.count == 36)
        #expect(try render(.text("Hello from an agent")) == requests)  // a retry sends the very same call
        let other = try #require(try render(.text("Hello"), id: 102).first)
        #expect(header(other, "X-Line-Retry-Key") != key)
    }

    @Test("a stale (or undated) reply token is not used: the reply is pushed")
    func staleToken() throws {
        #expect(try render(.text("x"), context: context(age: 49)).map(\.url).first?.hasSuffix("/reply") == true)
        #expect(try render(.text("x"), context: context(age: 50)).map(\.url).first?.hasSuffix("/push") == true)
        #expect(try render(.text("x"), context: context(age: 3600)).map(\.url).first?.hasSuffix("/push") == true)
        #expect(try render(.text("x"), context: ["reply_token": "t"]).map(\.url).first?.hasSuffix("/push") == true)
        let never = lineAdapter(lifetime: 0)
        let pushed = try never.render(OutboundMessage(conversationID: "U1", content: .text("x"), replyContext: context(age: 0), now: Self.now))
        #expect(pushed.map(\.url) == ["https://api.line.me/v2/bot/message/push"])
    }

    @Test("text over 5000 UTF-16 units is split in order into message objects of one call")
    func splitGolden() throws {
        let paragraph = String(repeating: "word ", count: 600)  // 3000 characters
        let text = (0..<3).map { "§\($0) " + paragraph }.joined(separator: "\n")
        let requests = try render(.text(text, quickReplies: [QuickReply(title: "OK")]), context: context(age: 1))
        #expect(requests.count == 1)
        let messages = try #require(try json(requests[0])["messages"] as? [[String: Any]])
        #expect(messages.count == 3)
        #expect(messages.compactMap { $0["text"] as? String }.joined() == text)
        #expect(messages.allSatisfy { ($0["text"] as? String ?? "").utf16.count <= 5000 })
        #expect(messages.map { $0["quickReply"] != nil } == [false, false, true])
        try Golden.check("line-split", requests)
    }

    @Test("more than five message objects: several calls; only the first may reply, the others push with their own keys")
    func moreThanFiveGolden() throws {
        let text = (0..<6).map { "§\($0) " + String(repeating: "x", count: 4990) }.joined(separator: "\n")
        let requests = try render(.text(text), context: context(age: 1))
        #expect(requests.map { URL(string: $0.url)?.lastPathComponent } == ["reply", "push"])
        let counts = try requests.map { try #require(try json($0)["messages"] as? [Any]).count }
        #expect(counts == [5, 1])
        #expect(header(requests[1], "X-Line-Retry-Key") == HMACSHA256.uuid(seed: "101#1"))
        try Golden.check("line-six-messages", requests)
        // Pushed throughout once the token is gone: same calls, first one keyed #0.
        let pushed = try render(.text(text))
        #expect(pushed.map { URL(string: $0.url)?.lastPathComponent } == ["push", "push"])
        #expect(header(pushed[0], "X-Line-Retry-Key") == HMACSHA256.uuid(seed: "101#0"))
        #expect(pushed[1] == requests[1])
    }

    @Test func quickRepliesGolden() throws {
        let replies = [
            QuickReply(title: "Yes"), QuickReply(title: "No", payload: "answer:no"),
            QuickReply(title: "A label that is far too long for LINE", payload: "long"),
        ]
        try Golden.check("line-quick-replies", try render(.text("Pick one", quickReplies: replies)))
    }

    @Test("over 13 quick replies: a numbered list in the text instead")
    func tooManyQuickReplies() throws {
        let replies = (1...14).map { QuickReply(title: "Option \($0)") }
        let request = try #require(try render(.text("Pick one", quickReplies: replies)).first)
        let messages = try #require(try json(request)["messages"] as? [[String: Any]])
        #expect(messages.count == 1)
        #expect(messages[0]["quickReply"] == nil)
        let text = try #require(messages[0]["text"] as? String)
        #expect(text.hasPrefix("Pick one\n\n1. Option 1\n2. Option 2"))
        #expect(text.hasSuffix("14. Option 14"))
    }

    @Test func imageGolden() throws {
        try Golden.check(
            "line-image",
            try render(
                MessageContent(type: .image, text: "Our menu", url: "https://example.com/menu.png", quickReplies: [QuickReply(title: "Thanks")])))
    }

    @Test("an image over plain http cannot be shown by LINE: it is sent as a link")
    func httpImage() throws {
        let request = try #require(try render(MessageContent(type: .image, text: "Menu", url: "http://example.com/menu.png")).first)
        let messages = try #require(try json(request)["messages"] as? [[String: Any]])
        #expect(messages.count == 1)
        #expect(messages[0]["type"] as? String == "text")
        #expect(messages[0]["text"] as? String == "Menu\nhttp://example.com/menu.png")
    }

    @Test("LINE cannot send files: a link")
    func fileGolden() throws {
        try Golden.check(
            "line-file-link", try render(MessageContent(type: .file, url: "https://example.com/invoice.pdf", fileName: "invoice.pdf")))
    }

    @Test("video, audio, contact become text; location and sticker are native", arguments: [
        (MessageContent(type: .video, url: "https://example.com/v.mp4"), "text", "https://example.com/v.mp4"),
        (MessageContent(type: .audio, url: "https://example.com/a.m4a", fileName: "a.m4a"), "text", "a.m4a: https://example.com/a.m4a"),
        (MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 3 0000 0000", name: "Shop")), "text", "Shop +81 3 0000 0000"),
        (MessageContent(type: .sticker, mediaID: "446/1988"), "sticker", nil),
        (MessageContent(type: .sticker, mediaID: "not-a-sticker"), "text", "(sticker)"),
        (MessageContent(type: .location, location: GeoLocation(latitude: 35.6, longitude: 139.7)), "location", nil),
    ])
    func kinds(_ content: MessageContent, _ type: String, _ text: String?) throws {
        let request = try #require(try render(content).first)
        let messages = try #require(try json(request)["messages"] as? [[String: Any]])
        #expect(messages.first?["type"] as? String == type)
        if let text { #expect(messages.first?["text"] as? String == text) }
        if type == "sticker" {
            #expect(messages.first?["packageId"] as? String == "446")
            #expect(messages.first?["stickerId"] as? String == "1988")
        }
        if type == "location" {
            #expect(messages.first?["title"] as? String == "Location")
            #expect(messages.first?["address"] as? String == "35.6, 139.7")
        }
    }

    @Test func locationGolden() throws {
        try Golden.check(
            "line-location",
            try render(
                MessageContent(
                    type: .location, text: "Our shop",
                    location: GeoLocation(latitude: 35.65910807942215, longitude: 139.70372892916203, title: "Omnichat Shop", address: "Tokyo"))))
    }

    @Test func classification() {
        func response(_ status: Int, _ body: String = "{}", headers: [(name: String, value: String)] = []) -> HTTPResponseDescription {
            HTTPResponseDescription(status: status, headers: headers, body: Data(body.utf8))
        }
        #expect(adapter.classify(response(200, #"{"sentMessages":[{"id":"461230966842064897","quoteToken":"q"}]}"#)) == .delivered(networkMessageID: "461230966842064897"))
        #expect(adapter.classify(response(200)) == .delivered(networkMessageID: nil))
        #expect(adapter.classify(response(200, "")) == .delivered(networkMessageID: nil))
        #expect(
            adapter.classify(response(409, #"{"message":"The retry key is already accepted"}"#, headers: [("x-line-accepted-request-id", "abc")]))
                == .delivered(networkMessageID: nil))
        #expect(adapter.classify(response(409, #"{"message":"Conflict"}"#)) == .permanent(reason: "Conflict"))
        #expect(
            adapter.classify(response(429, #"{"message":"The API rate limit has been exceeded. Try again later."}"#, headers: [("Retry-After", "7")]))
                == .retry(after: .seconds(7), reason: "rate limited: The API rate limit has been exceeded. Try again later."))
        #expect(adapter.classify(response(429, "")) == .retry(after: nil, reason: "rate limited: HTTP 429"))
        #expect(adapter.classify(response(500, #"{"message":"Internal error"}"#)) == .retry(after: nil, reason: "server error: Internal error"))
        #expect(adapter.classify(response(503, "<html/>")) == .retry(after: nil, reason: "server error: HTTP 503"))
        #expect(
            adapter.classify(response(400, #"{"message":"Invalid reply token"}"#))
                == .retry(after: .zero, reason: "reply token expired; will push"))
        #expect(
            adapter.classify(response(400, #"{"message":"The request body has 1 error(s)","details":[{"message":"May not be empty","property":"messages[0].text"}]}"#))
                == .permanent(reason: "The request body has 1 error(s) (messages[0].text: May not be empty)"))
        #expect(adapter.classify(response(401, #"{"message":"Authentication failed"}"#)) == .permanent(reason: "Authentication failed"))
        #expect(adapter.classify(response(403, "")) == .permanent(reason: "HTTP 403"))
    }

    @Test func capabilities() {
        let c = adapter.capabilities
        #expect(c.textLimit == 5000)
        #expect(c.maxQuickReplies == 13)
        #expect(c.consumesReplyContext)
        #expect(c.supportedOutbound == [.text, .image, .location, .sticker])
    }

    @Test func webhookEndpointRegistration() throws {
        let request = try #require(adapter.webhookRegistration(url: "https://chat.example.com/webhooks/line"))
        #expect(request.method == "PUT")
        #expect(request.url == "https://api.line.me/v2/bot/channel/webhook/endpoint")
        #expect(try json(request)["endpoint"] as? String == "https://chat.example.com/webhooks/line")
        #expect(header(request, "Authorization") == "Bearer test-access-token")
    }
}

@Suite("LINE configuration")
struct LINEConfigurationTests {
    func settings(_ values: [String: SettingValue]) -> ChannelSettings {
        ChannelSettings(file: "adapters.d/line.toml", values: values)
    }

    static let required: [String: SettingValue] = ["channel_access_token": .string("tok"), "channel_secret": .string("sec")]

    @Test func defaultsAndOverrides() throws {
        let s = settings(Self.required)
        let config = try LINEConfiguration(settings: s)
        #expect(config.apiBase == "https://api.line.me")
        #expect(config.dataAPIBase == "https://api-data.line.me")
        #expect(config.replyTokenLifetimeSeconds == 50)
        #expect(s.unreadKeys.isEmpty)

        let all = settings(
            Self.required.merging([
                "api_base": .string("http://127.0.0.1:8081/"), "data_api_base": .string("http://127.0.0.1:8082"),
                "reply_token_lifetime_seconds": .int(20),
            ]) { $1 })
        let custom = try LINEConfiguration(settings: all)
        #expect(custom.apiBase == "http://127.0.0.1:8081")
        #expect(custom.dataAPIBase == "http://127.0.0.1:8082")
        #expect(custom.replyTokenLifetimeSeconds == 20)
        #expect(all.unreadKeys.isEmpty, "every documented key is read")

        let adapter = try LINEAdapter(channelID: "line", settings: settings(Self.required))
        #expect(adapter.channelID == "line")
        #expect(BuiltinAdapters.all.contains { $0.kind == "line" })
    }

    @Test(
        "errors name the file, the key and the problem",
        arguments: [
            ([String: SettingValue](), "channel_access_token", "is required"),
            (["channel_access_token": .string("tok")], "channel_secret", "is required"),
            (["channel_access_token": .string(""), "channel_secret": .string("s")], "channel_access_token", "must not be empty"),
            (["channel_access_token": .string("a b"), "channel_secret": .string("s")], "channel_access_token", "must not contain spaces"),
            (["channel_access_token": .int(1), "channel_secret": .string("s")], "channel_access_token", "expected a string"),
            (LINEConfigurationTests.required.merging(["api_base": .string("ftp://x")]) { $1 }, "api_base", "must be an http:// or https:// URL"),
            (LINEConfigurationTests.required.merging(["data_api_base": .string("nope")]) { $1 }, "data_api_base", "must be an http:// or https:// URL"),
            (LINEConfigurationTests.required.merging(["reply_token_lifetime_seconds": .string("50")]) { $1 }, "reply_token_lifetime_seconds", "expected an integer"),
            (LINEConfigurationTests.required.merging(["reply_token_lifetime_seconds": .int(-1)]) { $1 }, "reply_token_lifetime_seconds", "must be between 0 and 600"),
        ])
    func invalid(_ values: [String: SettingValue], _ key: String, _ problem: String) {
        do {
            _ = try LINEConfiguration(settings: settings(values))
            Issue.record("accepted an invalid configuration")
        } catch let error as ConfigurationError {
            #expect(error.file == "adapters.d/line.toml")
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
