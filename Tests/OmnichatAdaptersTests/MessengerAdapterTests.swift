import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

func messengerFixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/messenger/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

func messengerAdapter(humanAgentTag: Bool = true) -> MessengerAdapter {
    MessengerAdapter(
        channelID: "fb",
        configuration: MessengerConfiguration(
            pageAccessToken: "EAAGpagetoken123", appSecret: "test_app_secret", verifyToken: "verify-me", humanAgentTag: humanAgentTag))
}

/// A webhook POST as Meta sends it, signed (or not) in `X-Hub-Signature-256`.
func metaRequest(_ body: Data, signature: String?) -> WebhookRequest {
    var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
    if let signature { headers.append(("X-Hub-Signature-256", signature)) }
    return WebhookRequest(headers: headers, body: body)
}

/// Reads an `adapters.d/*.toml.example` the simple way (one `key = value` a line,
/// commented-out keys included), resolving `${NAME}` from `environment`: enough to
/// check that every documented key is one the adapter reads.
func metaExampleSettings(_ file: String, environment: [String: String], filePath: String = #filePath) throws -> (
    kind: String?, active: [String: SettingValue], all: [String: SettingValue]
) {
    let root = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(contentsOf: root.appendingPathComponent("adapters.d/\(file)"), encoding: .utf8)
    var active: [String: SettingValue] = [:]
    var all: [String: SettingValue] = [:]
    var kind: String?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let commented = line.hasPrefix("# ")
        let body = commented ? line.dropFirst(2) : line[...]
        guard let eq = body.range(of: " = ") else { continue }
        let key = String(body[..<eq.lowerBound])
        guard !key.isEmpty, key.allSatisfy({ $0.isLowercase || $0 == "_" }) else { continue }
        let literal = body[eq.upperBound...].trimmingCharacters(in: .whitespaces)
        let value: SettingValue
        if literal == "true" || literal == "false" {
            value = .bool(literal == "true")
        } else if let int = Int(literal) {
            value = .int(int)
        } else {
            #expect(literal.hasPrefix("\"") && literal.hasSuffix("\""), "\(file): \(key) is not a string, integer or boolean")
            var string = String(literal.dropFirst().dropLast())
            while let open = string.range(of: "${"), let close = string[open.upperBound...].firstIndex(of: "}") {
                let name = String(string[open.upperBound..<close])
                string.replaceSubrange(open.lowerBound...close, with: try #require(environment[name], "\(file) needs ${\(name)}"))
            }
            value = .string(string)
        }
        if key == "kind", !commented, case .string(let name) = value { kind = name }
        guard !["kind", "id", "enabled"].contains(key) else { continue }
        all[key] = value
        if !commented { active[key] = value }
    }
    return (kind, active, all)
}

@Suite("Messenger inbound")
struct MessengerInboundTests {
    let adapter = messengerAdapter()

    @Test("every fixture parses into its events, with the kinds and ids Meta gives",
          arguments: [
            ("text-quick-reply.json", "mid.1457764197618:41d102a3e1ae206a38", "message"),
            ("image-attachment.json", "mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c", "message"),
            ("postback.json", "m_MESSAGE-ID", "message"),
            ("delivery.json", "delivery:1254477777772919:1458668856253", "delivered"),
          ])
    func fixtures(_ name: String, _ eventID: String, _ kind: String) throws {
        let body = try messengerFixture(name)
        let events = try adapter.parse(metaRequest(body, signature: nil))
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == eventID)
        #expect(event.conversationID == "1254477777772919")
        #expect(event.contact.externalID == "1254477777772919")
        switch event.kind {
        case .message: #expect(kind == "message")
        case .receipt(let receipt): #expect(receipt.status.rawValue == kind)
        default: Issue.record("unexpected kind \(event.kind)")
        }
        // The one messaging object, byte for byte as sent.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event.raw.utf8)) as? [String: Any])
        #expect((object["sender"] as? [String: String])?["id"] == "1254477777772919")
        #expect(String(decoding: body, as: UTF8.self).contains(event.raw))
        #expect(event.raw.hasPrefix("{") && event.raw.hasSuffix("}"))
    }

    @Test("a quick-reply answer is a postback carrying the text and the payload")
    func quickReply() throws {
        let event = try #require(try adapter.parse(metaRequest(messengerFixture("text-quick-reply.json"), signature: nil)).first)
        #expect(event.content == MessageContent(type: .postback, text: "hello, world!", payload: "<DEVELOPER_DEFINED_PAYLOAD>"))
        #expect(event.networkMessageID == "mid.1457764197618:41d102a3e1ae206a38")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_458_692_752.478))
        #expect(event.kind == .message)
    }

    @Test func imageAttachment() throws {
        let event = try #require(try adapter.parse(metaRequest(messengerFixture("image-attachment.json"), signature: nil)).first)
        #expect(event.content == MessageContent(type: .image, url: "<ATTACHMENT_URL>"))
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_518_479_195.308))
    }

    @Test func postback() throws {
        let event = try #require(try adapter.parse(metaRequest(messengerFixture("postback.json"), signature: nil)).first)
        #expect(event.content == MessageContent(type: .postback, text: "TITLE-FOR-THE-CTA", payload: "USER-DEFINED-PAYLOAD"))
        #expect(event.networkMessageID == "m_MESSAGE-ID")
    }

    @Test("a delivery receipt names the mids and the watermark")
    func delivery() throws {
        let event = try #require(try adapter.parse(metaRequest(messengerFixture("delivery.json"), signature: nil)).first)
        let watermark = Date(timeIntervalSince1970: 1_458_668_856.253)
        #expect(
            event.kind == .receipt(Receipt(status: .delivered, networkMessageIDs: ["mid.1458668856218:ed81099e15d3f4f233"], watermark: watermark)))
        #expect(event.occurredAt == watermark)  // no timestamp in the event: the watermark
    }

    /// A body as Meta batches it: several entries, several events each.
    static let batch = #"""
        {"object":"page","entry":[
         {"id":"P","time":1700000000500,"messaging":[
          {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":1700000000001,"message":{"mid":"m_1","text":"hi"}},
          {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":1700000000002,"message":{"mid":"m_2","attachments":[
            {"type":"image","payload":{"url":"https://cdn.example/a.jpg"}},
            {"type":"video","payload":{"url":"https://cdn.example/b.mp4"}},
            {"type":"fallback","title":"A shared link","payload":{"url":"https://example.com/article"}},
            {"type":"location","title":"Pinned","payload":{"coordinates":{"lat":35.68,"long":139.76}}},
            {"type":"image","payload":{"url":"https://cdn.example/like.png","sticker_id":369239263222822}},
            {"type":"ig_reel","payload":{"url":"https://cdn.example/reel","title":"A reel"}}]}},
          {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":1700000000003,"read":{"watermark":1700000000000}},
          {"sender":{"id":"P"},"recipient":{"id":"U1"},"timestamp":1700000000004,"message":{"mid":"m_echo","is_echo":true,"app_id":1517776481860111,"text":"Sent from the Page inbox"}},
          {"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":1700000000005,"reaction":{"mid":"m_echo","action":"react","emoji":"\u2764\ufe0f","reaction":"love"}}
         ]},
         {"id":"P","time":1700000000600,"messaging":[
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000006,"postback":{"title":"Get Started","payload":"GET_STARTED"}},
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000007,"message_edit":{"mid":"m_9","text":"fixed typo","num_edit":2}},
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000008,"optin":{"type":"notification_messages","payload":"x"}},
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000009,"brand_new_event":{"x":1}},
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000010,"message":"not an object"},
          {"sender":{"id":"U2"},"recipient":{"id":"P"},"timestamp":1700000000011,"delivery":{"watermark":"1700000000010"}},
          42
         ]},
         {"id":"P","time":1700000000700,"standby":[{"sender":{"id":"U3"}}]}
        ]}
        """#

    @Test("a batch gives every event of every entry, in order, each with its own raw bytes")
    func batchOfEvents() throws {
        let events = try adapter.parse(metaRequest(Data(Self.batch.utf8), signature: nil))
        #expect(
            events.map(\.eventID) == [
                "m_1", "m_2", "m_2#1", "m_2#2", "m_2#3", "m_2#4", "m_2#5", "read:U1:1700000000000", "m_echo",
                "reaction:U1:m_echo:react:1700000000005", "postback:U2:1700000000006", "edit:m_9:2", "optin:U2:1700000000008",
                "brand_new_event:U2:1700000000009", "message:U2:1700000000010", "delivery:U2:1700000000010",
                events.last?.eventID ?? "",
            ])
        #expect(events.last?.eventID.hasPrefix("unreadable:") == true)
        #expect(events.last?.raw == "42")

        let byID = Dictionary(events.map { ($0.eventID, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID["m_1"]?.content == .text("hi"))
        #expect(byID["m_1"]?.raw == #"{"sender":{"id":"U1"},"recipient":{"id":"P"},"timestamp":1700000000001,"message":{"mid":"m_1","text":"hi"}}"#)
        #expect(byID["m_2"]?.content == MessageContent(type: .image, url: "https://cdn.example/a.jpg"))
        #expect(byID["m_2#1"]?.content == MessageContent(type: .video, url: "https://cdn.example/b.mp4"))
        #expect(byID["m_2#1"]?.networkMessageID == "m_2#1")
        #expect(byID["m_2#1"]?.raw == byID["m_2"]?.raw)
        #expect(byID["m_2#2"]?.content == MessageContent(type: .unsupported, text: "A shared link", url: "https://example.com/article"))
        #expect(
            byID["m_2#3"]?.content == MessageContent(type: .location, location: GeoLocation(latitude: 35.68, longitude: 139.76, title: "Pinned")))
        #expect(byID["m_2#4"]?.content == MessageContent(type: .sticker, url: "https://cdn.example/like.png", mediaID: "369239263222822"))
        #expect(byID["m_2#5"]?.content == MessageContent(type: .unsupported, text: "A reel", url: "https://cdn.example/reel"))
        #expect(
            byID["read:U1:1700000000000"]?.kind
                == .receipt(Receipt(status: .read, watermark: Date(timeIntervalSince1970: 1_700_000_000))))

        let echo = try #require(byID["m_echo"])
        #expect(echo.kind == .echo)
        #expect(echo.conversationID == "U1")  // the customer, not the Page
        #expect(echo.content == .text("Sent from the Page inbox"))

        let reaction = try #require(byID["reaction:U1:m_echo:react:1700000000005"])
        #expect(reaction.kind == .system("reaction"))
        #expect(reaction.content.text == "❤️")

        #expect(byID["postback:U2:1700000000006"]?.content == MessageContent(type: .postback, text: "Get Started", payload: "GET_STARTED"))
        #expect(byID["edit:m_9:2"]?.content == MessageContent(type: .text, text: "fixed typo", edited: true))
        #expect(byID["edit:m_9:2"]?.kind == .message)
        #expect(byID["optin:U2:1700000000008"]?.kind == .system("optin"))
        #expect(byID["brand_new_event:U2:1700000000009"]?.kind == .message)
        #expect(byID["brand_new_event:U2:1700000000009"]?.content.type == .unsupported)
        #expect(byID["message:U2:1700000000010"]?.content.type == .unsupported)
        #expect(byID["delivery:U2:1700000000010"]?.kind == .receipt(Receipt(status: .delivered, watermark: Date(timeIntervalSince1970: 1_700_000_000.010))))
        #expect(events.allSatisfy { $0.occurredAt > Date(timeIntervalSince1970: 1_600_000_000) || $0.eventID.hasPrefix("unreadable:") })
    }

    @Test("text sent with a link preview: the text first, then the preview")
    func textWithAttachment() throws {
        let body = #"""
            {"object":"page","entry":[{"messaging":[{"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1,
             "message":{"mid":"m_l","text":"look https://example.com","attachments":[{"type":"fallback","payload":{"url":"https://example.com","title":"Example"}}]}}]}]}
            """#
        let events = try adapter.parse(metaRequest(Data(body.utf8), signature: nil))
        #expect(events.map(\.eventID) == ["m_l", "m_l#1"])
        #expect(events.map(\.content.type) == [.text, .unsupported])
        #expect(events[1].content.text == "Example")
    }

    @Test("malformed bodies are refused, naming what is wrong",
          arguments: [
            ("{not json", "body is not a JSON object"),
            ("[]", "body is not a JSON object"),
            ("", "body is not a JSON object"),
            (#"{"object":"page"}"#, "missing field 'entry'"),
            (#"{"object":"page","entry":{}}"#, "field 'entry' is not an array"),
            (#"{"object":"page","entry":[7]}"#, "entry[0] is not an object"),
            (#"{"object":"page","entry":[{"messaging":{}}]}"#, "entry[0].messaging is not an array"),
          ])
    func malformed(_ body: String, _ message: String) {
        do {
            _ = try adapter.parse(metaRequest(Data(body.utf8), signature: nil))
            Issue.record("accepted a malformed body")
        } catch {
            #expect(error.kind == .malformed)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("an empty batch and entries without messaging are acknowledged, not refused")
    func emptyBatches() throws {
        #expect(try adapter.parse(metaRequest(Data(#"{"object":"page","entry":[]}"#.utf8), signature: nil)).isEmpty)
        #expect(try adapter.parse(metaRequest(Data(#"{"object":"page","entry":[{"id":"1","changes":[]}]}"#.utf8), signature: nil)).isEmpty)
        // Fields we do not read may have any shape.
        #expect(try adapter.parse(metaRequest(Data(#"{"object":5,"entry":[{"id":7,"time":"x","messaging":[]}]}"#.utf8), signature: nil)).isEmpty)
    }
}

@Suite("Meta webhook security")
struct MetaWebhookSecurityTests {
    @Test("the published vector verifies over the fixture's exact bytes")
    func publishedVector() throws {
        let body = try messengerFixture("text-quick-reply.json")
        let signature = "sha256=192ebf66305a7ca1f192701168f4d2bdbfb0de1609dc04fe5f2b7a53b6deb310"
        try messengerAdapter().verify(metaRequest(body, signature: signature))
        try messengerAdapter().verify(metaRequest(body, signature: signature.uppercased().replacingOccurrences(of: "SHA256=", with: "sha256=")))
    }

    @Test("signature headers padded with spaces or tabs still verify, on every signing network")
    func paddedHeaders() throws {
        let body = try messengerFixture("text-quick-reply.json")
        let signature = "sha256=192ebf66305a7ca1f192701168f4d2bdbfb0de1609dc04fe5f2b7a53b6deb310"
        try messengerAdapter().verify(metaRequest(body, signature: " \t" + signature + "  "))
        #expect(throws: WebhookError.self) { try messengerAdapter().verify(metaRequest(body, signature: " " + signature.dropLast() + "1 ")) }

        let lineBody = Data(#"{"destination":"U1","events":[]}"#.utf8)
        try lineAdapter().verify(lineRequest(lineBody, signature: "\t" + Signature.base64("test_channel_secret", lineBody) + " "))

        let customBody = #"{"event_id":"e1","user":{"id":"u1"},"message":{"type":"text","text":"hi"}}"#
        let customSignature = OmnichatWebhookSignature.signature(secret: CustomExample.secret, timestamp: CustomExample.timestamp, body: Data(customBody.utf8))
        try customAdapter().verify(customRequest(customBody, timestamp: " " + CustomExample.timestamp + "\t", signature: "  " + customSignature))
    }

    @Test("one changed byte, a wrong or missing header: 401 without revealing the expected signature")
    func refused() throws {
        let adapter = messengerAdapter()
        let body = try messengerFixture("text-quick-reply.json")
        let good = "sha256=192ebf66305a7ca1f192701168f4d2bdbfb0de1609dc04fe5f2b7a53b6deb310"
        var changed = body
        changed[changed.startIndex + 40] ^= 0x01
        let cases: [(Data, String?, String)] = [
            (changed, good, "wrong X-Hub-Signature-256 signature"),
            (body + Data("\n".utf8), good, "wrong X-Hub-Signature-256 signature"),
            (body, nil, "missing X-Hub-Signature-256 header"),
            (body, "", "X-Hub-Signature-256 header is not 'sha256=<hex digest>'"),
            (body, "sha256=", "X-Hub-Signature-256 header is not 'sha256=<hex digest>'"),
            (body, "sha1=192ebf66305a7ca1f192701168f4d2bdbfb0de1609dc04fe5f2b7a53b6deb310", "X-Hub-Signature-256 header is not 'sha256=<hex digest>'"),
            (body, String(good.dropLast()), "wrong X-Hub-Signature-256 signature"),
            (body, good + "0", "wrong X-Hub-Signature-256 signature"),
        ]
        for (data, header, message) in cases {
            #expect(throws: WebhookError(.unauthorized, message)) { try adapter.verify(metaRequest(data, signature: header)) }
        }
        // The messages never carry the expected digest or the secret.
        let expected = Signature.hex("test_app_secret", changed)
        do {
            try adapter.verify(metaRequest(changed, signature: good))
        } catch {
            #expect(!error.message.contains(expected))
            #expect(!error.message.contains("test_app_secret"))
        }
    }

    @Test("non-ASCII text verifies over the raw bytes, escaped as Meta sends it or raw UTF-8")
    func nonASCII() throws {
        let adapter = messengerAdapter()
        let escaped = #"{"object":"page","entry":[{"id":"682498302938465","time":1700000000000,"messaging":[{"sender":{"id":"1254477777772919"},"recipient":{"id":"682498302938465"},"timestamp":1700000000000,"message":{"mid":"m_cafe","text":"caf\u00e9 \u2615 \u4f60\u597d"}}]}]}"#
        let utf8 = #"{"object":"page","entry":[{"id":"682498302938465","time":1700000000000,"messaging":[{"sender":{"id":"1254477777772919"},"recipient":{"id":"682498302938465"},"timestamp":1700000000000,"message":{"mid":"m_cafe","text":"café ☕ 你好"}}]}]}"#
        for (body, digest) in [
            (escaped, "fc061ca08b5941b20f6d5880e5faf20dd2c70508bce9415b92a3d4e683f672ff"),
            (utf8, "7bb407f1742d1a142e10fe4694444c0edd4526572b854b81500aec0030c97b56"),
        ] {
            let request = metaRequest(Data(body.utf8), signature: "sha256=\(digest)")
            try adapter.verify(request)
            let event = try #require(try adapter.parse(request).first)
            #expect(event.content == .text("café ☕ 你好"))
            // raw is the bytes as sent: still escaped when Meta escaped it.
            #expect(body.contains(event.raw))
            #expect(event.raw.contains(#"\u00e9"#) == (body == escaped))
        }
        // The same text signed over a re-serialization does not verify.
        #expect(throws: WebhookError.self) {
            try adapter.verify(metaRequest(Data(escaped.utf8), signature: "sha256=7bb407f1742d1a142e10fe4694444c0edd4526572b854b81500aec0030c97b56"))
        }
    }

    @Test("GET verification: 200 with the challenge for the right token, 403 otherwise")
    func handshake() throws {
        let adapter = messengerAdapter()
        func get(_ query: [String: String]) -> HandshakeResponse? {
            adapter.handshake(WebhookRequest(method: "GET", headers: [], query: query, body: Data()))
        }
        #expect(get(["hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"]) == HandshakeResponse(status: 200, body: "1158201444"))
        for query in [
            ["hub.mode": "subscribe", "hub.verify_token": "verify-you", "hub.challenge": "1"],
            ["hub.mode": "subscribe", "hub.verify_token": "verify-m", "hub.challenge": "1"],
            ["hub.mode": "subscribe", "hub.challenge": "1"],
            ["hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"],
            ["hub.verify_token": "verify-me", "hub.challenge": "1"],
            ["hub.mode": "subscribe", "hub.verify_token": "verify-me"],
            [:],
        ] {
            let answer = try #require(get(query))
            #expect(answer.status == 403)
            #expect(!answer.body.contains("verify-me"))
        }
    }
}

@Suite("Meta Graph API classification")
struct MetaClassificationTests {
    static func response(_ status: Int, _ body: String) -> HTTPResponseDescription {
        HTTPResponseDescription(status: status, body: Data(body.utf8))
    }

    static func error(_ code: Int, subcode: Int? = nil, _ message: String) -> String {
        let sub = subcode.map { #","error_subcode":\#($0)"# } ?? ""
        return #"{"error":{"message":"\#(message)","type":"OAuthException","code":\#(code)\#(sub),"fbtrace_id":"AbCdEf"}}"#
    }

    static let table: [(Int, String, DeliveryOutcome)] = [
        (200, #"{"recipient_id":"1254477777772919","message_id":"m_AG5Hz2U"}"#, .delivered(networkMessageID: "m_AG5Hz2U")),
        (
            200, #"{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgL"}]}"#,
            .delivered(networkMessageID: "wamid.HBgL")
        ),
        (200, "", .delivered(networkMessageID: nil)),
        (500, error(1, "An unknown error occurred"), .retry(after: nil, reason: "temporary error: An unknown error occurred")),
        (503, error(2, "Service temporarily unavailable"), .retry(after: nil, reason: "temporary error: Service temporarily unavailable")),
        (400, error(4, "(#4) Application request limit reached"), .retry(after: nil, reason: "rate limited: (#4) Application request limit reached")),
        (400, error(613, "Calls to this api have exceeded the rate limit."), .retry(after: nil, reason: "rate limited: Calls to this api have exceeded the rate limit.")),
        (400, error(80007, "There have been too many calls"), .retry(after: nil, reason: "rate limited: There have been too many calls")),
        (400, error(130429, "(#130429) Rate limit hit"), .retry(after: nil, reason: "rate limited: (#130429) Rate limit hit")),
        (400, error(131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"),
         .retry(after: nil, reason: "rate limited: (#131056) (Business Account, Consumer Account) pair rate limit hit")),
        (429, "", .retry(after: nil, reason: "rate limited: HTTP 429")),
        (502, "<html>Bad Gateway</html>", .retry(after: nil, reason: "server error: HTTP 502")),
        (500, error(100, "Internal failure"), .retry(after: nil, reason: "server error: Internal failure")),
        (
            400, error(10, subcode: 2_018_278, "(#10) This message is sent outside of allowed window."),
            .permanent(reason: "outside the 24-hour messaging window: (#10) This message is sent outside of allowed window.")
        ),
        (
            403, error(10, "(#10) This message is sent outside of allowed window."),
            .permanent(reason: "outside the 24-hour messaging window: (#10) This message is sent outside of allowed window.")
        ),
        (400, error(551, "This person isn't available right now."), .permanent(reason: "the person is not available")),
        (401, error(190, "Error validating access token: Session has expired"), .permanent(reason: "access token invalid or expired")),
        (
            400, error(131047, "(#131047) Re-engagement message"),
            .permanent(reason: "more than 24 hours since the customer's last message: only a template can be sent")
        ),
        (400, error(100, "(#100) Invalid parameter"), .permanent(reason: "(#100) Invalid parameter")),
        (404, "", .permanent(reason: "HTTP 404")),
        (
            400,
            #"{"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException","code":131026,"error_data":{"messaging_product":"whatsapp","details":"Message Undeliverable."},"fbtrace_id":"A"}}"#,
            .permanent(reason: "(#131026) Message Undeliverable.")
        ),
        (
            400,
            #"{"error":{"message":"(#131009) Parameter value is not valid","code":"131009","error_data":{"details":"Button title length invalid."}}}"#,
            .permanent(reason: "(#131009) Parameter value is not valid: Button title length invalid.")
        ),
    ]

    @Test("both networks read Meta's answers by the same table", arguments: MetaClassificationTests.table)
    func classification(_ status: Int, _ body: String, _ outcome: DeliveryOutcome) {
        #expect(messengerAdapter().classify(Self.response(status, body)) == outcome)
        #expect(whatsAppAdapter().classify(Self.response(status, body)) == outcome)
    }

    @Test("no reason ever carries the access token")
    func redaction() {
        let body = Self.error(100, "Invalid token EAAGpagetoken123 and WAtoken_0123456789")
        let messenger = messengerAdapter().classify(Self.response(400, body))
        let whatsApp = whatsAppAdapter().classify(Self.response(400, body))
        #expect(messenger == .permanent(reason: "Invalid token [redacted] and WAtoken_0123456789"))
        #expect(whatsApp == .permanent(reason: "Invalid token EAAGpagetoken123 and [redacted]"))
    }
}

@Suite("Messenger outbound")
struct MessengerOutboundTests {
    let adapter = messengerAdapter()
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    func render(_ content: MessageContent, lastInbound: TimeInterval? = 3600, adapter: MessengerAdapter? = nil) throws -> [HTTPRequestDescription] {
        try (adapter ?? self.adapter).render(
            OutboundMessage(
                conversationID: "1254477777772919", content: content, messageID: 1,
                lastInboundAt: lastInbound.map { Self.now.addingTimeInterval(-$0) }, now: Self.now))
    }

    func bodies(_ requests: [HTTPRequestDescription]) throws -> [[String: Any]] {
        try requests.map { try #require(try JSONSerialization.jsonObject(with: $0.body) as? [String: Any]) }
    }

    @Test func textGolden() throws {
        let requests = try render(.text("Hello from an agent"))
        #expect(requests.first?.url == "https://graph.facebook.com/v21.0/me/messages?access_token=EAAGpagetoken123")
        try Golden.check("messenger-text", requests)
    }

    @Test func quickRepliesGolden() throws {
        try Golden.check(
            "messenger-quick-replies",
            render(
                .text(
                    "Pick one",
                    quickReplies: [
                        QuickReply(title: "Yes"), QuickReply(title: "No", payload: "answer:no"),
                        QuickReply(title: "A title far longer than twenty characters", payload: "long"),
                    ])))
    }

    @Test("more than 13 quick replies become a numbered list")
    func tooManyQuickRepliesGolden() throws {
        let replies = (1...14).map { QuickReply(title: "Option \($0)", payload: "o\($0)") }
        let requests = try render(.text("Which one?", quickReplies: replies))
        let body = try #require(try bodies(requests).first)
        #expect((body["message"] as? [String: Any])?["quick_replies"] == nil)
        try Golden.check("messenger-quick-replies-list", requests)
    }

    @Test("an image by URL, its caption following as text with the quick replies")
    func imageWithCaptionGolden() throws {
        let requests = try render(
            MessageContent(type: .image, text: "Our menu", url: "https://example.com/menu.png", quickReplies: [QuickReply(title: "Order")]))
        #expect(requests.count == 2)
        try Golden.check("messenger-image-caption", requests)
    }

    @Test func fileGolden() throws {
        try Golden.check("messenger-file", render(MessageContent(type: .file, url: "https://example.com/invoice.pdf", fileName: "invoice.pdf")))
    }

    @Test("what Messenger cannot send is degraded to text")
    func degradedGolden() throws {
        try Golden.check(
            "messenger-degraded",
            render(MessageContent(type: .location, location: GeoLocation(latitude: 35.68, longitude: 139.76, title: "Shop", address: "1-1 Chiyoda"))))
        let contact = try bodies(render(MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 90", name: "Ken"))))
        #expect((contact.first?["message"] as? [String: Any])?["text"] as? String == "Ken +81 90")
        let mediaWithoutURL = try bodies(render(MessageContent(type: .image, text: "a photo", mediaID: "file-1")))
        #expect((mediaWithoutURL.first?["message"] as? [String: Any])?["text"] as? String == "a photo")
    }

    @Test("text over 2000 characters is split in order, quick replies on the last part")
    func splitTextGolden() throws {
        let paragraph = String(repeating: "word ", count: 180)  // 900 characters
        let text = (0..<5).map { "§\($0) " + paragraph }.joined(separator: "\n")
        let requests = try render(.text(text, quickReplies: [QuickReply(title: "OK")]))
        let messages = try bodies(requests).map { try #require($0["message"] as? [String: Any]) }
        #expect(messages.count == 3)
        #expect(messages.map { ($0["text"] as? String)?.utf16.count ?? 0 }.allSatisfy { $0 <= 2000 })
        #expect(messages.compactMap { $0["text"] as? String }.joined() == text)
        #expect(messages.map { $0["quick_replies"] != nil } == [false, false, true])
        try Golden.check("messenger-split-text", requests)
    }

    @Test("after 24 hours: MESSAGE_TAG with HUMAN_AGENT, for up to 7 days")
    func humanAgentTagGolden() throws {
        let requests = try render(.text("Sorry for the wait"), lastInbound: 30 * 3600)
        let body = try #require(try bodies(requests).first)
        #expect(body["messaging_type"] as? String == "MESSAGE_TAG")
        #expect(body["tag"] as? String == "HUMAN_AGENT")
        try Golden.check("messenger-message-tag", requests)

        let inside = try #require(try bodies(render(.text("x"), lastInbound: 24 * 3600)).first)
        #expect(inside["messaging_type"] as? String == "RESPONSE")
        #expect(inside["tag"] == nil)
        let unknown = try #require(try bodies(render(.text("x"), lastInbound: nil)).first)
        #expect(unknown["messaging_type"] as? String == "RESPONSE")
        let lastDay = try #require(try bodies(render(.text("x"), lastInbound: 7 * 24 * 3600)).first)
        #expect(lastDay["tag"] as? String == "HUMAN_AGENT")
    }

    @Test("after 7 days, or without the tag after 24 hours, rendering fails with a reason for the agent")
    func windowClosed() throws {
        #expect(
            throws: RenderError(
                "the 7-day human agent window is closed (the customer last wrote 2025-06-07T15:06:40Z, 8 days ago); "
                    + "Messenger accepts no reply until the customer writes again")
        ) { try render(.text("x"), lastInbound: 8 * 24 * 3600) }
        #expect(
            throws: RenderError(
                "the 24-hour messaging window is closed (the customer last wrote 2025-06-14T09:06:40Z, 30 hours ago); "
                    + "Messenger accepts a reply after it only with human_agent_tag = true, or once the customer writes again")
        ) { try render(.text("x"), lastInbound: 30 * 3600, adapter: messengerAdapter(humanAgentTag: false)) }
        do {
            _ = try render(.text("x"), lastInbound: 30 * 3600, adapter: messengerAdapter(humanAgentTag: false))
        } catch let error as RenderError {
            #expect(!error.reason.contains("EAAGpagetoken123"))
        }
    }

    @Test("media: one GET of the attachment URL; nothing without one")
    func media() throws {
        let fetch = try #require(adapter.media(for: MessageContent(type: .image, url: "https://cdn.fbsbx.com/a.jpg"), networkMessageID: "m_1"))
        #expect(fetch.request == HTTPRequestDescription(method: "GET", url: "https://cdn.fbsbx.com/a.jpg"))
        #expect(fetch.next == nil)
        #expect(adapter.media(for: MessageContent(type: .text, text: "x"), networkMessageID: nil) == nil)
    }

    @Test func capabilities() {
        let capabilities = adapter.capabilities
        #expect(capabilities.textLimit == 2000)
        #expect(capabilities.maxQuickReplies == 13)
        #expect(capabilities.receipts)
        #expect(MessengerAdapter.kind == "messenger")
        #expect(BuiltinAdapters.all.contains { $0.kind == "messenger" })
    }
}

@Suite("Messenger configuration")
struct MessengerConfigurationTests {
    static let valid: [String: SettingValue] = [
        "page_access_token": .string("EAAG123"), "app_secret": .string("abc123"), "verify_token": .string("v"),
    ]

    func settings(_ values: [String: SettingValue]) -> ChannelSettings {
        ChannelSettings(file: "adapters.d/fb.toml", values: values)
    }

    @Test func defaults() throws {
        let config = try MessengerConfiguration(settings: settings(Self.valid))
        #expect(config.apiBase == "https://graph.facebook.com/v21.0")
        #expect(config.humanAgentTag)
        let custom = try MessengerConfiguration(
            settings: settings(Self.valid.merging(["api_base": .string("http://127.0.0.1:9/v1/"), "human_agent_tag": .bool(false)]) { $1 }))
        #expect(custom.apiBase == "http://127.0.0.1:9/v1")
        #expect(!custom.humanAgentTag)
    }

    @Test("errors name the file, the key and the problem, never the secret",
          arguments: [
            ("page_access_token", SettingValue?.none, "is required"),
            ("app_secret", nil, "is required"),
            ("verify_token", nil, "is required"),
            ("page_access_token", .string(""), "must not be empty"),
            ("page_access_token", .string("EAAG 123"), "must not contain spaces"),
            ("app_secret", .string("abc\n"), "must not contain spaces"),
            ("app_secret", .int(5), "expected a string, found integer"),
            ("human_agent_tag", .string("yes"), "expected true or false"),
            ("api_base", .string("graph.facebook.com"), "must be an http:// or https:// URL"),
          ])
    func invalid(_ key: String, _ value: SettingValue?, _ problem: String) {
        var values = Self.valid
        values[key] = value
        do {
            _ = try MessengerConfiguration(settings: settings(values))
            Issue.record("accepted an invalid configuration")
        } catch let error as ConfigurationError {
            #expect(error.file == "adapters.d/fb.toml")
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error.problem)")
            #expect(!error.description.contains("EAAG 123"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("adapters.d/messenger.toml.example documents exactly the keys the adapter reads")
    func example() throws {
        let environment = ["MESSENGER_PAGE_ACCESS_TOKEN": "EAAGexample", "MESSENGER_APP_SECRET": "secret", "MESSENGER_VERIFY_TOKEN": "verify"]
        let example = try metaExampleSettings("messenger.toml.example", environment: environment)
        #expect(example.kind == "messenger")
        for values in [example.active, example.all] {
            let settings = ChannelSettings(file: "messenger.toml.example", values: values)
            _ = try MessengerAdapter(channelID: "messenger", settings: settings)
            #expect(settings.unreadKeys == [])
        }
        #expect(Set(example.all.keys) == ["page_access_token", "app_secret", "verify_token", "api_base", "human_agent_tag"])
    }
}
