import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

/// The worked example of docs/custom-channel.md.
enum CustomExample {
    static let secret = "whsec_2f9c1d7e5a8b4c3d9e0f1a2b3c4d5e6f"
    static let timestamp = "1767225600"
    static let body = #"{"event_id":"evt_0001","user":{"id":"cust-42","name":"Ann Lee"},"message":{"type":"text","text":"Hi, where is my order?"}}"#
    static let signature = "sha256=1a5e1ef84af69724bbe86cd19084cd788b5b126a63e4bb34621087fc47829fb4"
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
}

func customAdapter(skew: Int = 300) -> CustomAdapter {
    CustomAdapter(
        channelID: "acme",
        configuration: CustomConfiguration(
            secret: CustomExample.secret, webhookURL: "https://integrator.example.com/omnichat/outbound", maxClockSkewSeconds: skew))
}

/// A request signed as an integrator would, received at `receivedAt`.
func customRequest(
    _ body: String, timestamp: String? = CustomExample.timestamp, signature: String? = nil, secret: String = CustomExample.secret,
    receivedAt: Date = CustomExample.now
) -> WebhookRequest {
    let data = Data(body.utf8)
    var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
    if let timestamp { headers.append(("X-Omnichat-Timestamp", timestamp)) }
    let signed = signature ?? OmnichatWebhookSignature.signature(secret: secret, timestamp: timestamp ?? "", body: data)
    if !signed.isEmpty { headers.append(("X-Omnichat-Signature", signed)) }
    return WebhookRequest(headers: headers, body: data, receivedAt: receivedAt)
}

private func bodyObject(_ request: HTTPRequestDescription) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
}

private func header(_ request: HTTPRequestDescription, _ name: String) -> String? {
    request.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
}

@Suite("Custom channel inbound")
struct CustomInboundTests {
    let adapter = customAdapter()

    @Test("the documented worked example verifies and parses")
    func workedExample() throws {
        #expect(OmnichatWebhookSignature.signature(secret: CustomExample.secret, timestamp: CustomExample.timestamp, body: Data(CustomExample.body.utf8)) == CustomExample.signature)
        let request = customRequest(CustomExample.body, signature: CustomExample.signature)
        try adapter.verify(request)
        let events = try adapter.parse(request)
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == "evt_0001")
        #expect(event.conversationID == "cust-42")
        #expect(event.contact == ContactProfile(externalID: "cust-42", displayName: "Ann Lee"))
        #expect(event.content == .text("Hi, where is my order?"))
        #expect(event.kind == .message)
        #expect(event.raw == CustomExample.body)
        #expect(event.occurredAt == CustomExample.now)
    }

    @Test("signature round trip; uppercase hex is accepted")
    func roundTrip() throws {
        let body = #"{"event_id":"e-ü","user":{"id":"u1"},"message":{"type":"text","text":"こんにちは"}}"#
        try adapter.verify(customRequest(body))
        let upper = OmnichatWebhookSignature.signature(secret: CustomExample.secret, timestamp: CustomExample.timestamp, body: Data(body.utf8)).uppercased()
        try adapter.verify(customRequest(body, signature: upper))
    }

    @Test func wrongSignatures() {
        let body = CustomExample.body
        let wrong = WebhookError(.unauthorized, "wrong X-Omnichat-Signature header")
        #expect(throws: wrong) { try adapter.verify(customRequest(body, secret: "another secret")) }
        #expect(throws: wrong) { try adapter.verify(customRequest(body + " ", signature: CustomExample.signature)) }
        #expect(throws: wrong) { try adapter.verify(customRequest(body, signature: "sha256=" + String(repeating: "0", count: 64))) }
        #expect(throws: wrong) { try adapter.verify(customRequest(body, signature: String(CustomExample.signature.dropLast()))) }
        // Signed with another timestamp than the one sent.
        let other = OmnichatWebhookSignature.signature(secret: CustomExample.secret, timestamp: "1767225601", body: Data(body.utf8))
        #expect(throws: wrong) { try adapter.verify(customRequest(body, signature: other)) }
        #expect(throws: WebhookError(.unauthorized, "X-Omnichat-Signature must be 'sha256=' followed by the hex digest")) {
            try adapter.verify(customRequest(body, signature: String(CustomExample.signature.dropFirst(7))))
        }
    }

    @Test("a timestamp more than 300 s away, either way, is refused and the distance named")
    func clock() throws {
        let body = CustomExample.body
        try adapter.verify(customRequest(body, receivedAt: CustomExample.now.addingTimeInterval(300)))
        try adapter.verify(customRequest(body, receivedAt: CustomExample.now.addingTimeInterval(-300)))
        #expect(throws: WebhookError(.unauthorized, "timestamp is 412 s away from now (at most 300 s allowed)")) {
            try adapter.verify(customRequest(body, receivedAt: CustomExample.now.addingTimeInterval(412)))  // stale
        }
        #expect(throws: WebhookError(.unauthorized, "timestamp is 301 s away from now (at most 300 s allowed)")) {
            try adapter.verify(customRequest(body, receivedAt: CustomExample.now.addingTimeInterval(-301)))  // from the future
        }
        try customAdapter(skew: 600).verify(customRequest(body, receivedAt: CustomExample.now.addingTimeInterval(412)))
        for bad in ["", "abc", "-5", "1767225600.5", "17672256000000"] {
            #expect(throws: WebhookError(.unauthorized, "X-Omnichat-Timestamp must be a Unix time in whole seconds")) {
                try adapter.verify(customRequest(body, timestamp: bad))
            }
        }
    }

    @Test func missingHeaders() {
        #expect(throws: WebhookError(.unauthorized, "missing X-Omnichat-Timestamp header")) {
            try adapter.verify(customRequest(CustomExample.body, timestamp: nil, signature: CustomExample.signature))
        }
        #expect(throws: WebhookError(.unauthorized, "missing X-Omnichat-Signature header")) {
            try adapter.verify(customRequest(CustomExample.body, signature: ""))
        }
    }

    @Test("errors never reveal the expected signature")
    func noLeak() {
        let expected = CustomExample.signature.dropFirst(7)
        do {
            try adapter.verify(customRequest(CustomExample.body, signature: "sha256=00"))
        } catch {
            #expect(!error.message.contains(expected))
        }
    }

    @Test(
        "each message type maps onto the common type",
        arguments: [
            (#"{"type":"image","url":"https://x.example/a.png","text":"look"}"#, MessageContent(type: .image, text: "look", url: "https://x.example/a.png")),
            (#"{"type":"file","url":"https://x.example/f.pdf","file_name":"f.pdf","mime_type":"application/pdf"}"#,
             MessageContent(type: .file, url: "https://x.example/f.pdf", fileName: "f.pdf", mimeType: "application/pdf")),
            (#"{"type":"audio","url":"http://x.example/a.ogg"}"#, MessageContent(type: .audio, url: "http://x.example/a.ogg")),
            (#"{"type":"video","url":"https://x.example/v.mp4"}"#, MessageContent(type: .video, url: "https://x.example/v.mp4")),
            (#"{"type":"sticker","url":"https://x.example/s.webp","text":"😀"}"#, MessageContent(type: .sticker, text: "😀", url: "https://x.example/s.webp")),
            (#"{"type":"location","location":{"latitude":35.68,"longitude":139.76,"title":"Shop","address":"Tokyo"}}"#,
             MessageContent(type: .location, location: GeoLocation(latitude: 35.68, longitude: 139.76, title: "Shop", address: "Tokyo"))),
            (#"{"type":"contact","contact":{"phone_number":"+81 90 0000 0000","name":"Ken"}}"#,
             MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 90 0000 0000", name: "Ken"))),
            (#"{"type":"postback","payload":"answer:yes"}"#, MessageContent(type: .postback, text: "answer:yes", payload: "answer:yes")),
            (#"{"type":"postback","payload":"answer:yes","text":"Yes"}"#, MessageContent(type: .postback, text: "Yes", payload: "answer:yes")),
            (#"{"type":"hologram","text":"beam me up"}"#, MessageContent(type: .unsupported, text: "beam me up")),
            (#"{"type":"unsupported"}"#, MessageContent(type: .unsupported)),
        ])
    func kinds(_ message: String, _ expected: MessageContent) throws {
        let body = #"{"event_id":"e1","user":{"id":"u1"},"message":\#(message),"extras":{"order":"A-1","tags":["vip"]}}"#
        let event = try #require(try adapter.parse(customRequest(body)).first)
        #expect(event.content == expected)
        #expect(event.raw.contains(#""extras":{"order":"A-1","tags":["vip"]}"#))
    }

    @Test(
        "malformed bodies are refused, naming the field",
        arguments: [
            ("{not json", "body is not valid JSON"),
            ("[1]", "body is not a JSON object"),
            ("{}", "missing field 'event_id'"),
            (#"{"event_id":"","user":{"id":"u"},"message":{"type":"text","text":"x"}}"#, "field 'event_id' must not be empty"),
            (#"{"event_id":7,"user":{"id":"u"},"message":{"type":"text","text":"x"}}"#, "field 'event_id' must be a string"),
            (#"{"event_id":"e","message":{"type":"text","text":"x"}}"#, "missing field 'user'"),
            (#"{"event_id":"e","user":{},"message":{"type":"text","text":"x"}}"#, "missing field 'user.id'"),
            (#"{"event_id":"e","user":{"id":42},"message":{"type":"text","text":"x"}}"#, "field 'user.id' must be a string"),
            (#"{"event_id":"e","user":"u","message":{"type":"text","text":"x"}}"#, "field 'user' must be an object"),
            (#"{"event_id":"e","user":{"id":""},"message":{"type":"text","text":"x"}}"#, "field 'user.id' must not be empty"),
            (#"{"event_id":"e","user":{"id":"u"}}"#, "missing field 'message'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"text":"x"}}"#, "missing field 'message.type'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"text"}}"#, "missing field 'message.text'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"text","text":""}}"#, "field 'message.text' must not be empty"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"image"}}"#, "missing field 'message.url'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"image","url":"ftp://x/y"}}"#, "field 'message.url' must be an http:// or https:// URL"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"location"}}"#, "missing field 'message.location'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"location","location":{"latitude":"35","longitude":1}}}"#,
             "field 'message.location.latitude' must be a number"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"location","location":{"latitude":95,"longitude":1}}}"#,
             "field 'message.location.latitude' must be between -90 and 90"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"contact","contact":{}}}"#, "missing field 'message.contact.phone_number'"),
            (#"{"event_id":"e","user":{"id":"u"},"message":{"type":"postback"}}"#, "missing field 'message.payload'"),
            (#"{"events":{}}"#, "field 'events' must be an array"),
            (#"{"events":[{"event_id":"a","user":{"id":"u"},"message":{"type":"text","text":"x"}},{"event_id":"b","user":{"id":"u"},"message":{"type":"text"}}]}"#,
             "missing field 'events[1].message.text'"),
            (#"{"events":[{"event_id":"a","user":{"id":5},"message":{"type":"text","text":"x"}}]}"#, "field 'events[0].user.id' must be a string"),
        ])
    func malformed(_ body: String, _ message: String) {
        #expect(throws: WebhookError(.malformed, message)) { try adapter.parse(customRequest(body)) }
    }

    @Test("a batch: up to 100 events in order, each with its own raw JSON")
    func batch() throws {
        let items = (0..<3).map { #"{"event_id":"b\#($0)", "user":{"id":"u\#($0 % 2)"},"message":{"type":"text","text":"n\#($0)"}}"# }
        let body = "{\"events\": [\n  " + items.joined(separator: ",\n  ") + "\n]}"
        let events = try adapter.parse(customRequest(body))
        #expect(events.map(\.eventID) == ["b0", "b1", "b2"])
        #expect(events.map(\.conversationID) == ["u0", "u1", "u0"])
        #expect(events.map(\.raw) == items)
        #expect(try adapter.parse(customRequest(#"{"events":[]}"#)).isEmpty)

        let hundred = "{\"events\":[" + (0..<100).map { #"{"event_id":"x\#($0)","user":{"id":"u"},"message":{"type":"text","text":"t"}}"# }.joined(separator: ",") + "]}"
        #expect(try adapter.parse(customRequest(hundred)).count == 100)
        let tooMany = "{\"events\":[" + (0..<101).map { #"{"event_id":"x\#($0)","user":{"id":"u"},"message":{"type":"text","text":"t"}}"# }.joined(separator: ",") + "]}"
        #expect(throws: WebhookError(.malformed, "field 'events' holds 101 events; at most 100 are allowed per request")) {
            try adapter.parse(customRequest(tooMany))
        }
    }

    @Test func rawSlicesSurviveEscapesAndNesting() throws {
        let item = #"{"event_id":"q\"]}","user":{"id":"u","name":"A [b] {c}"},"message":{"type":"text","text":"\\\"x\""},"extras":{"a":[1,{"b":null}],"t":true}}"#
        let body = #"{"note":"events","events":["# + item + "," + item.replacingOccurrences(of: #"q\"]}"#, with: "z") + "]}"
        let events = try adapter.parse(customRequest(body))
        #expect(events.count == 2)
        #expect(events[0].raw == item)
        #expect(events[0].eventID == #"q"]}"#)
        #expect(events[0].content.text == #"\"x""#)
    }
}

@Suite("Custom channel outbound")
struct CustomOutboundTests {
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    let adapter = customAdapter()

    func render(_ content: MessageContent, sender: String? = "Ann (Support)") throws -> [HTTPRequestDescription] {
        try adapter.render(
            OutboundMessage(conversationID: "cust-42", content: content, messageID: 101, senderName: sender, now: Self.now))
    }

    @Test func textGolden() throws {
        let requests = try render(.text("It ships today!", quickReplies: [QuickReply(title: "Thanks"), QuickReply(title: "Track it", payload: "track")]))
        try Golden.check("custom-text", requests)
        // The signature is over "<timestamp>.<body>", as the integrator checks it.
        let request = try #require(requests.first)
        #expect(header(request, "X-Omnichat-Timestamp") == "1767225600")
        let verifier = customRequest(String(decoding: request.body, as: UTF8.self), signature: header(request, "X-Omnichat-Signature"))
        try adapter.verify(verifier)
        let body = try bodyObject(request)
        #expect(body["event_id"] as? String == HMACSHA256.uuid(seed: "101#0"))
        #expect(body["sent_at"] as? String == "2026-01-01T00:00:00Z")
        #expect(try render(.text("It ships today!", quickReplies: [QuickReply(title: "Thanks"), QuickReply(title: "Track it", payload: "track")])) == requests)
    }

    @Test func imageGolden() throws {
        try Golden.check("custom-image", try render(MessageContent(type: .image, text: "Our menu", url: "https://example.com/menu.png")))
    }

    @Test func fileGolden() throws {
        try Golden.check(
            "custom-file",
            try render(MessageContent(type: .file, url: "https://example.com/invoice.pdf", fileName: "invoice.pdf", mimeType: "application/pdf"), sender: nil))
    }

    @Test func locationGolden() throws {
        try Golden.check(
            "custom-location",
            try render(MessageContent(type: .location, location: GeoLocation(latitude: 35.6591, longitude: 139.7037, title: "Shop", address: "Tokyo"))))
    }

    @Test func contactAndStickerGolden() throws {
        try Golden.check(
            "custom-contact-sticker",
            try render(MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 3 0000 0000", name: "Shop")))
                + render(MessageContent(type: .sticker, url: "https://example.com/s.webp", mediaID: "446/1988")))
    }

    @Test("every type is sent as itself: nothing is degraded")
    func native() throws {
        for type in MessageType.allCases {
            let request = try #require(try render(MessageContent(type: type, text: "t", url: "https://example.com/x")).first)
            let message = try #require(try bodyObject(request)["message"] as? [String: Any])
            #expect(message["type"] as? String == type.rawValue)
            #expect(message["text"] as? String == "t")
        }
        #expect(adapter.capabilities.supportedOutbound == Set(MessageType.allCases))
        #expect(adapter.capabilities.textLimit == 65_536)
        #expect(adapter.capabilities.maxQuickReplies == 100)
    }

    @Test("text over 65,536 UTF-16 units: several parts, each its own event id, buttons on the last")
    func split() throws {
        let text = String(repeating: "abcd ", count: 30_000)  // 150,000 characters
        let requests = try render(MessageContent(type: .image, text: text, url: "https://example.com/a.png", quickReplies: [QuickReply(title: "OK")]))
        #expect(requests.count == 3)
        let messages = try requests.map { try #require(try bodyObject($0)["message"] as? [String: Any]) }
        #expect(messages.map { $0["type"] as? String } == ["image", "text", "text"])
        #expect(messages.compactMap { $0["text"] as? String }.joined() == text)
        #expect(messages.map { ($0["quick_replies"] as? [Any])?.count } == [0, 0, 1])
        let ids = try requests.map { try bodyObject($0)["event_id"] as? String }
        #expect(ids == (0..<3).map { HMACSHA256.uuid(seed: "101#\($0)") })
    }

    @Test func classification() {
        func response(_ status: Int, _ body: String = "", headers: [(name: String, value: String)] = []) -> HTTPResponseDescription {
            HTTPResponseDescription(status: status, headers: headers, body: Data(body.utf8))
        }
        #expect(adapter.classify(response(200, #"{"id":"ext-77"}"#)) == .delivered(networkMessageID: "ext-77"))
        #expect(adapter.classify(response(201, #"{"id":77}"#)) == .delivered(networkMessageID: "77"))
        #expect(adapter.classify(response(204)) == .delivered(networkMessageID: nil))
        #expect(adapter.classify(response(200, "OK")) == .delivered(networkMessageID: nil))
        #expect(adapter.classify(response(429, "", headers: [("Retry-After", "12")])) == .retry(after: .seconds(12), reason: "rate limited: HTTP 429"))
        #expect(adapter.classify(response(503, #"{"error":{"code":"down","message":"maintenance"}}"#, headers: [("retry-after", "30")]))
            == .retry(after: .seconds(30), reason: "server error: HTTP 503: maintenance"))
        #expect(adapter.classify(response(500, "boom")) == .retry(after: nil, reason: "server error: HTTP 500: boom"))
        #expect(adapter.classify(response(404, #"{"error":{"code":"unknown_user","message":"no user cust-42"}}"#)) == .permanent(reason: "HTTP 404: no user cust-42"))
        #expect(adapter.classify(response(400, #"{"error":"bad field"}"#)) == .permanent(reason: "HTTP 400: bad field"))
        #expect(adapter.classify(response(422, #"{"message":"nope"}"#)) == .permanent(reason: "HTTP 422: nope"))
        #expect(adapter.classify(response(401)) == .permanent(reason: "HTTP 401"))
        #expect(adapter.classify(response(301)) == .permanent(reason: "HTTP 301"))
        guard case .permanent(let long) = adapter.classify(response(400, String(repeating: "e", count: 1000))) else {
            Issue.record("not permanent")
            return
        }
        #expect(long.count == 300)
    }
}

@Suite("Custom channel configuration")
struct CustomConfigurationTests {
    func settings(_ values: [String: SettingValue]) -> ChannelSettings {
        ChannelSettings(file: "adapters.d/acme.toml", values: values)
    }

    static let required: [String: SettingValue] = ["secret": .string("s3cret"), "webhook_url": .string("https://x.example/hook/")]

    @Test func valid() throws {
        let s = settings(CustomConfigurationTests.required.merging(["max_clock_skew_seconds": .int(60)]) { $1 })
        let config = try CustomConfiguration(settings: s)
        #expect(config.webhookURL == "https://x.example/hook/")  // kept as written
        #expect(config.maxClockSkewSeconds == 60)
        #expect(s.unreadKeys.isEmpty)
        #expect(try CustomConfiguration(settings: settings(CustomConfigurationTests.required)).maxClockSkewSeconds == 300)
        #expect(BuiltinAdapters.all.contains { $0.kind == "custom" })
    }

    @Test(
        "errors name the file, the key and the problem",
        arguments: [
            ([String: SettingValue](), "secret", "is required"),
            (["secret": .string("")], "secret", "must not be empty"),
            (["secret": .string("s")], "webhook_url", "is required"),
            (["secret": .string("s"), "webhook_url": .string("mailto:a@b")], "webhook_url", "must be an http:// or https:// URL"),
            (["secret": .string("s"), "webhook_url": .bool(true)], "webhook_url", "expected a string"),
            (CustomConfigurationTests.required.merging(["max_clock_skew_seconds": .int(0)]) { $1 }, "max_clock_skew_seconds", "must be between 1 and 3600"),
            (CustomConfigurationTests.required.merging(["max_clock_skew_seconds": .double(1.5)]) { $1 }, "max_clock_skew_seconds", "expected an integer"),
        ])
    func invalid(_ values: [String: SettingValue], _ key: String, _ problem: String) {
        do {
            _ = try CustomConfiguration(settings: settings(values))
            Issue.record("accepted an invalid configuration")
        } catch let error as ConfigurationError {
            #expect(error.file == "adapters.d/acme.toml")
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
