import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

func whatsAppFixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/whatsapp/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

func whatsAppAdapter(template: String? = nil, language: String = "en_US") -> WhatsAppAdapter {
    WhatsAppAdapter(
        channelID: "wa",
        configuration: WhatsAppConfiguration(
            accessToken: "WAtoken_0123456789", phoneNumberID: "1122334455667", appSecret: "test_app_secret", verifyToken: "verify-me",
            templateName: template, templateLanguage: language))
}

@Suite("WhatsApp inbound")
struct WhatsAppInboundTests {
    let adapter = whatsAppAdapter()

    static let fixtures: [(String, String, String)] = [
        ("text.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "message"),
        ("image.json", "wamid.xyzxyz", "message"),
        ("document.json", "wamid.xyzxyz", "message"),
        ("location.json", "wamid.xyzxyz", "message"),
        ("button-reply.json", "wamid.xyzxyz", "message"),
        ("status-delivered.json", "status:wamid.xyzxyz:delivered", "delivered"),
        ("status-failed.json", "status:wamid.xyzxyz:failed", "failed"),
    ]

    @Test("every fixture parses into one event with the kind and id Meta gives", arguments: WhatsAppInboundTests.fixtures)
    func everyFixture(_ name: String, _ eventID: String, _ kind: String) throws {
        let body = try whatsAppFixture(name)
        let events = try adapter.parse(metaRequest(body, signature: nil))
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == eventID)
        let customer = name == "text.json" ? "16505551234" : "972987654321"
        #expect(event.conversationID == customer)
        #expect(event.contact.externalID == customer)
        #expect(event.contact.displayName == (name == "text.json" ? "Sheena Nelson" : "Test Name"))
        switch event.kind {
        case .message: #expect(kind == "message")
        case .receipt(let receipt):
            #expect(receipt.status.rawValue == kind)
            #expect(receipt.networkMessageIDs == ["wamid.xyzxyz"])
        default: Issue.record("unexpected kind \(event.kind)")
        }
        // The message (or status) object itself, byte for byte.
        #expect(String(decoding: body, as: UTF8.self).contains(event.raw))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(event.raw.utf8)) as? [String: Any])
        #expect(object["id"] as? String == (kind == "message" ? eventID : "wamid.xyzxyz"))
    }

    @Test func text() throws {
        let event = try #require(try adapter.parse(metaRequest(whatsAppFixture("text.json"), signature: nil)).first)
        #expect(event.content == .text("Does it come in another color?"))
        #expect(event.networkMessageID == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_749_416_383))
    }

    @Test func image() throws {
        let event = try #require(try adapter.parse(metaRequest(whatsAppFixture("image.json"), signature: nil)).first)
        #expect(event.content == MessageContent(type: .image, mediaID: "65463453", mimeType: "image/jpeg"))
    }

    @Test func document() throws {
        let event = try #require(try adapter.parse(metaRequest(whatsAppFixture("document.json"), signature: nil)).first)
        #expect(
            event.content
                == MessageContent(type: .file, text: "caption", mediaID: "1234567890987654321", fileName: "filename.pdf", mimeType: "application/pdf"))
    }

    @Test func location() throws {
        let event = try #require(try adapter.parse(metaRequest(whatsAppFixture("location.json"), signature: nil)).first)
        #expect(
            event.content.location
                == GeoLocation(latitude: 37.4611978, longitude: -122.2164385, title: "Facebook HQ", address: "1 Hacker Way, Menlo Park, CA 94025"))
        #expect(event.content.type == .location)
    }

    @Test func buttonReply() throws {
        let event = try #require(try adapter.parse(metaRequest(whatsAppFixture("button-reply.json"), signature: nil)).first)
        #expect(event.content == MessageContent(type: .postback, text: "title", payload: "callback_data"))
    }

    @Test("statuses: delivered and failed are receipts; failed carries the error")
    func statuses() throws {
        let delivered = try #require(try adapter.parse(metaRequest(whatsAppFixture("status-delivered.json"), signature: nil)).first)
        #expect(delivered.kind == .receipt(Receipt(status: .delivered, networkMessageIDs: ["wamid.xyzxyz"])))
        #expect(delivered.occurredAt == Date(timeIntervalSince1970: 1_698_266_945))
        let failed = try #require(try adapter.parse(metaRequest(whatsAppFixture("status-failed.json"), signature: nil)).first)
        #expect(
            failed.kind
                == .receipt(
                    Receipt(
                        status: .failed, networkMessageIDs: ["wamid.xyzxyz"],
                        error:
                            "User's number is part of an experiment: Failed to send message because this user's phone number is part of an experiment (code 130472)"
                    )))
    }

    static let batch = #"""
        {"object":"whatsapp_business_account","entry":[
         {"id":"WABA","changes":[
          {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"1122334455667"},
           "contacts":[{"profile":{"name":"Ann"},"wa_id":"111"},{"profile":{"name":"Bob"},"wa_id":"222"}],
           "messages":[
            {"from":"111","id":"wamid.1","timestamp":"1700000001","type":"sticker","sticker":{"id":"st1","mime_type":"image/webp","animated":false}},
            {"from":"222","id":"wamid.2","timestamp":"1700000002","type":"audio","audio":{"id":"au1","mime_type":"audio/ogg; codecs=opus","voice":true}},
            {"from":"111","id":"wamid.3","timestamp":"1700000003","type":"video","video":{"id":"vd1","mime_type":"video/mp4","caption":"look"}},
            {"from":"111","id":"wamid.4","timestamp":"1700000004","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"row-2","title":"Tuesday","description":"10:00"}}},
            {"from":"111","id":"wamid.5","timestamp":"1700000005","type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"}},
            {"from":"111","id":"wamid.6","timestamp":"1700000006","type":"contacts","contacts":[{"name":{"formatted_name":"Ken Sato","first_name":"Ken"},"phones":[{"phone":"+81 90 1234 5678","wa_id":"819012345678","type":"CELL"}]}]},
            {"from":"111","id":"wamid.7","timestamp":"1700000007","type":"reaction","reaction":{"message_id":"wamid.OURS","emoji":"\ud83d\udc4d"}},
            {"from":"111","id":"wamid.8","timestamp":"1700000008","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown"}]},
            {"from":"111","id":"wamid.9","timestamp":"1700000009","type":"system","system":{"body":"User A changed from 111 to 333","type":"user_changed_number"}},
            {"from":"111","id":"wamid.10","timestamp":"1700000010","type":"hologram","hologram":{}},
            "garbage"
           ],
           "statuses":[
            {"id":"wamid.OURS","status":"sent","timestamp":"1700000011","recipient_id":"111"},
            {"id":"wamid.OURS","status":"read","timestamp":"1700000012","recipient_id":"111"}
           ]}},
          {"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":12345,"message_template_name":"hello"}}
         ]},
         {"id":"WABA","changes":[
          {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1122334455667"},
           "messages":[{"from":"444","id":"wamid.11","timestamp":1700000013,"type":"text","text":{"body":"no contacts array"}}]}}
         ]}
        ]}
        """#

    @Test("a batch gives every message and status of every change, each with its own raw bytes")
    func batchOfEvents() throws {
        let events = try adapter.parse(metaRequest(Data(Self.batch.utf8), signature: nil))
        let ids = events.map(\.eventID)
        #expect(ids.count == 15)
        #expect(Array(ids.prefix(10)) == (1...10).map { "wamid.\($0)" })
        #expect(ids[10].hasPrefix("unreadable:"))
        #expect(Array(ids[11...12]) == ["status:wamid.OURS:sent", "status:wamid.OURS:read"])
        #expect(ids[13].hasPrefix("message_template_status_update:"))
        #expect(ids[14] == "wamid.11")

        let byID = Dictionary(events.map { ($0.eventID, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byID["wamid.1"]?.content == MessageContent(type: .sticker, mediaID: "st1", mimeType: "image/webp"))
        #expect(byID["wamid.1"]?.contact.displayName == "Ann")
        #expect(
            byID["wamid.1"]?.raw
                == #"{"from":"111","id":"wamid.1","timestamp":"1700000001","type":"sticker","sticker":{"id":"st1","mime_type":"image/webp","animated":false}}"#)
        #expect(byID["wamid.2"]?.content == MessageContent(type: .audio, mediaID: "au1", mimeType: "audio/ogg; codecs=opus"))
        #expect(byID["wamid.2"]?.contact.displayName == "Bob")  // matched by wa_id, not position
        #expect(byID["wamid.2"]?.conversationID == "222")
        #expect(byID["wamid.3"]?.content == MessageContent(type: .video, text: "look", mediaID: "vd1", mimeType: "video/mp4"))
        #expect(byID["wamid.4"]?.content == MessageContent(type: .postback, text: "Tuesday", payload: "row-2"))
        #expect(byID["wamid.5"]?.content == MessageContent(type: .postback, text: "Stop promotions", payload: "STOP_PROMOS"))
        #expect(byID["wamid.6"]?.content == MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 90 1234 5678", name: "Ken Sato")))
        #expect(byID["wamid.7"]?.kind == .system("reaction"))
        #expect(byID["wamid.7"]?.content.text == "👍")
        #expect(byID["wamid.7"]?.networkMessageID == "wamid.OURS")
        #expect(byID["wamid.8"]?.content == MessageContent(type: .unsupported))
        #expect(byID["wamid.8"]?.kind == .message)
        #expect(byID["wamid.9"]?.kind == .system("user_changed_number"))
        #expect(byID["wamid.10"]?.content.type == .unsupported)
        #expect(byID["wamid.10"]?.kind == .message)
        #expect(events[10].raw == #""garbage""#)

        let sent = try #require(byID["status:wamid.OURS:sent"])
        #expect(sent.kind == .system("status_sent"))  // acknowledged and recorded, changes nothing
        #expect(sent.networkMessageID == "wamid.OURS")
        #expect(byID["status:wamid.OURS:read"]?.kind == .receipt(Receipt(status: .read, networkMessageIDs: ["wamid.OURS"])))
        #expect(byID["status:wamid.OURS:read"]?.conversationID == "111")

        let template = events[13]
        #expect(template.kind == .system("message_template_status_update"))
        #expect(template.conversationID == "")
        #expect(template.raw.hasPrefix(#"{"field":"message_template_status_update""#))
        // The id is stable: a redelivery of the same bytes dedupes.
        #expect(try adapter.parse(metaRequest(Data(Self.batch.utf8), signature: nil))[13].eventID == template.eventID)

        #expect(byID["wamid.11"]?.content == .text("no contacts array"))
        #expect(byID["wamid.11"]?.contact == ContactProfile(externalID: "444"))
        #expect(byID["wamid.11"]?.occurredAt == Date(timeIntervalSince1970: 1_700_000_013))
    }

    @Test("non-ASCII text verifies over the raw bytes, escaped as Meta sends it or raw UTF-8")
    func nonASCII() throws {
        let escaped = #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1122334455667"},"contacts":[{"profile":{"name":"Zo\u00eb"},"wa_id":"972987654321"}],"messages":[{"from":"972987654321","id":"wamid.cafe","timestamp":"1700000000","type":"text","text":{"body":"caf\u00e9 \u2615 \u4f60\u597d \ud83d\ude00"}}]},"field":"messages"}]}]}"#
        let utf8 = #"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1122334455667"},"contacts":[{"profile":{"name":"Zoë"},"wa_id":"972987654321"}],"messages":[{"from":"972987654321","id":"wamid.cafe","timestamp":"1700000000","type":"text","text":{"body":"café ☕ 你好 😀"}}]},"field":"messages"}]}]}"#
        for (body, digest) in [
            (escaped, "def3ee97a27b3d543b1941b73bf12d5370a1b27a11bf6c4cebe264b069f49bef"),
            (utf8, "8d5bbc2f3e5e1ed816ce7b6a79c654ef862f96d009c7889036c50a64f557a64c"),
        ] {
            let request = metaRequest(Data(body.utf8), signature: "sha256=\(digest)")
            try adapter.verify(request)
            let event = try #require(try adapter.parse(request).first)
            #expect(event.content == .text("café ☕ 你好 😀"))
            #expect(event.contact.displayName == "Zoë")
        }
    }

    @Test("the published vector verifies over the fixture's exact bytes; one changed byte does not")
    func signature() throws {
        let body = try whatsAppFixture("text.json")
        let header = "sha256=1c041e1c07f50386213ac582d2e17d24d70f1ed42949a6e5a5607057b805b5fc"
        try adapter.verify(metaRequest(body, signature: header))
        var changed = body
        changed[changed.endIndex - 3] ^= 0x20
        #expect(throws: WebhookError(.unauthorized, "wrong X-Hub-Signature-256 signature")) {
            try adapter.verify(metaRequest(changed, signature: header))
        }
        #expect(throws: WebhookError(.unauthorized, "missing X-Hub-Signature-256 header")) {
            try adapter.verify(metaRequest(body, signature: nil))
        }
        // Another app's secret does not verify.
        let other = WhatsAppAdapter(
            channelID: "wa",
            configuration: WhatsAppConfiguration(accessToken: "t", phoneNumberID: "1", appSecret: "other_secret", verifyToken: "v"))
        #expect(throws: WebhookError.self) { try other.verify(metaRequest(body, signature: header)) }
    }

    @Test func handshake() {
        func get(_ token: String) -> HandshakeResponse? {
            adapter.handshake(
                WebhookRequest(
                    method: "GET", headers: [], query: ["hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "CHALLENGE_ACCEPTED"],
                    body: Data()))
        }
        #expect(get("verify-me") == HandshakeResponse(status: 200, body: "CHALLENGE_ACCEPTED"))
        #expect(get("wrong")?.status == 403)
    }

    @Test("malformed bodies are refused, naming what is wrong",
          arguments: [
            ("not json", "body is not a JSON object"),
            (#"{"object":"whatsapp_business_account"}"#, "missing field 'entry'"),
            (#"{"entry":"x"}"#, "field 'entry' is not an array"),
            (#"{"entry":[{"changes":"x"}]}"#, "entry[0].changes is not an array"),
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
}

@Suite("WhatsApp outbound")
struct WhatsAppOutboundTests {
    let adapter = whatsAppAdapter()
    static let now = Date(timeIntervalSince1970: 1_750_000_000)

    func render(_ content: MessageContent, lastInbound: TimeInterval? = 3600, adapter: WhatsAppAdapter? = nil, to: String = "16505551234") throws
        -> [HTTPRequestDescription]
    {
        try (adapter ?? self.adapter).render(
            OutboundMessage(
                conversationID: to, content: content, messageID: 1, lastInboundAt: lastInbound.map { Self.now.addingTimeInterval(-$0) },
                now: Self.now))
    }

    func bodies(_ requests: [HTTPRequestDescription]) throws -> [[String: Any]] {
        try requests.map { try #require(try JSONSerialization.jsonObject(with: $0.body) as? [String: Any]) }
    }

    @Test func textGolden() throws {
        let requests = try render(.text("Hello from an agent"))
        let request = try #require(requests.first)
        #expect(request.url == "https://graph.facebook.com/v21.0/1122334455667/messages")
        #expect(request.headers.contains { $0.name == "Authorization" && $0.value == "Bearer WAtoken_0123456789" })
        try Golden.check("whatsapp-text", requests)
    }

    @Test("text over 4096 characters is split in order")
    func splitTextGolden() throws {
        let paragraph = String(repeating: "word ", count: 500)  // 2500 characters
        let text = (0..<3).map { "§\($0) " + paragraph }.joined(separator: "\n")
        let requests = try render(.text(text))
        let texts = try bodies(requests).map { (($0["text"] as? [String: Any])?["body"] as? String) ?? "" }
        #expect(texts.count == 3)
        #expect(texts.joined() == text)
        #expect(texts.allSatisfy { $0.utf16.count <= 4096 })
        try Golden.check("whatsapp-split-text", requests)
    }

    @Test("up to 3 quick replies: reply buttons")
    func buttonsGolden() throws {
        let requests = try render(
            .text(
                "Pick one",
                quickReplies: [QuickReply(title: "Yes"), QuickReply(title: "No", payload: "answer:no"), QuickReply(title: "Maybe, later on today perhaps")]))
        #expect(requests.count == 1)
        try Golden.check("whatsapp-buttons", requests)
    }

    @Test("4 to 10 quick replies: a list")
    func listGolden() throws {
        let replies = (1...4).map { QuickReply(title: "Slot \($0)", payload: "slot-\($0)") } + [
            QuickReply(title: "Any time on Saturday or Sunday afternoon", payload: String(repeating: "p", count: 250))
        ]
        let requests = try render(.text("When should we call?", quickReplies: replies))
        try Golden.check("whatsapp-list", requests)
        let body = try #require(try bodies(requests).first)
        let interactive = try #require(body["interactive"] as? [String: Any])
        let action = try #require(interactive["action"] as? [String: Any])
        let rows = try #require((action["sections"] as? [[String: Any]])?.first?["rows"] as? [[String: String]])
        #expect(rows.count == 5)
        #expect(rows.allSatisfy { ($0["title"]?.count ?? 99) <= 24 && ($0["id"]?.count ?? 999) <= 200 })
    }

    @Test("more than 10 quick replies: a numbered list in the text")
    func tooManyQuickReplies() throws {
        let replies = (1...11).map { QuickReply(title: "Option \($0)") }
        let body = try #require(try bodies(render(.text("Which?", quickReplies: replies))).first)
        #expect(body["type"] as? String == "text")
        let text = try #require((body["text"] as? [String: Any])?["body"] as? String)
        #expect(text.hasPrefix("Which?\n\n1. Option 1\n"))
        #expect(text.hasSuffix("11. Option 11"))
    }

    @Test("a long text with buttons: the buttons' body is at most 1024 characters")
    func longTextWithButtons() throws {
        let text = String(repeating: "abcd ", count: 500)  // 2500 characters
        let bodies = try bodies(render(.text(text, quickReplies: [QuickReply(title: "OK")])))
        #expect(bodies.map { $0["type"] as? String } == ["text", "text", "interactive"])
        let interactive = try #require(bodies.last?["interactive"] as? [String: Any])
        let last = try #require((interactive["body"] as? [String: String])?["text"])
        #expect(last.count <= 1024)
        let first = bodies.dropLast().compactMap { ($0["text"] as? [String: Any])?["body"] as? String }
        #expect((first + [last]).joined() == text)
    }

    @Test func imageWithCaptionGolden() throws {
        try Golden.check("whatsapp-image-caption", render(MessageContent(type: .image, text: "Our menu", url: "https://example.com/menu.png")))
    }

    @Test("media with quick replies: the caption becomes the buttons' body")
    func imageWithButtonsGolden() throws {
        try Golden.check(
            "whatsapp-image-buttons",
            render(
                MessageContent(
                    type: .image, text: "Like it?", url: "https://example.com/menu.png", quickReplies: [QuickReply(title: "Yes"), QuickReply(title: "No")])))
    }

    @Test func documentGolden() throws {
        try Golden.check(
            "whatsapp-document",
            render(MessageContent(type: .file, text: "Your invoice", url: "https://example.com/invoice.pdf", fileName: "invoice-42.pdf")))
    }

    @Test("audio takes no caption: it follows as text")
    func audioGolden() throws {
        let requests = try render(MessageContent(type: .audio, text: "Listen", url: "https://example.com/a.ogg"))
        #expect(try bodies(requests).map { $0["type"] as? String } == ["audio", "text"])
        try Golden.check("whatsapp-audio", requests)
    }

    @Test func locationGolden() throws {
        try Golden.check(
            "whatsapp-location",
            render(MessageContent(type: .location, location: GeoLocation(latitude: 35.68, longitude: 139.76, title: "Shop", address: "1-1 Chiyoda"))))
    }

    @Test func contactGolden() throws {
        try Golden.check("whatsapp-contact", render(MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+81 90 1234 5678", name: "Ken"))))
    }

    @Test("outside the 24-hour window the configured template is sent instead")
    func templateGolden() throws {
        let adapter = whatsAppAdapter(template: "reopen_conversation", language: "pt_BR")
        let requests = try render(.text("Are you still there?"), lastInbound: 25 * 3600, adapter: adapter)
        #expect(requests.count == 1)
        try Golden.check("whatsapp-template", requests)
        // Never written (as far as we know): also closed.
        #expect(try bodies(render(.text("x"), lastInbound: nil, adapter: adapter)).first?["type"] as? String == "template")
        // Within the window the reply itself goes.
        #expect(try bodies(render(.text("x"), lastInbound: 24 * 3600, adapter: adapter)).first?["type"] as? String == "text")
    }

    @Test("outside the window without a template, rendering fails with a reason for the agent")
    func windowClosed() throws {
        #expect(
            throws: RenderError(
                "the 24-hour customer-service window is closed (the customer last wrote 2025-06-14T09:06:40Z, 30 hours ago); configure template_name to reopen it")
        ) { try render(.text("x"), lastInbound: 30 * 3600) }
        #expect(
            throws: RenderError(
                "the 24-hour customer-service window is closed (no message from the customer is on record); configure template_name to reopen it")
        ) { try render(.text("x"), lastInbound: nil) }
    }

    @Test("a business-scoped user id is addressed with `recipient`")
    func businessScopedUserID() throws {
        let body = try #require(try bodies(render(.text("hi"), to: "US.13491208655302741918")).first)
        #expect(body["recipient"] as? String == "US.13491208655302741918")
        #expect(body["to"] == nil)
    }

    @Test("media: the id is looked up, then the URL it answers is fetched, both with the bearer token")
    func media() throws {
        let fetch = try #require(adapter.media(for: MessageContent(type: .image, mediaID: "65463453"), networkMessageID: "wamid.x"))
        #expect(
            fetch.request
                == HTTPRequestDescription(
                    method: "GET", url: "https://graph.facebook.com/v21.0/65463453", headers: [("Authorization", "Bearer WAtoken_0123456789")]))
        let next = try #require(fetch.next)
        let answer = HTTPResponseDescription(
            status: 200,
            body: Data(#"{"url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&ext=1","mime_type":"image/jpeg","id":"65463453"}"#.utf8))
        #expect(
            next(answer)
                == HTTPRequestDescription(
                    method: "GET", url: "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&ext=1",
                    headers: [("Authorization", "Bearer WAtoken_0123456789")]))
        #expect(next(HTTPResponseDescription(status: 404, body: Data(#"{"error":{"code":100}}"#.utf8))) == nil)
        #expect(adapter.media(for: MessageContent(type: .image, url: "https://x"), networkMessageID: nil) == nil)
    }

    @Test func capabilities() {
        #expect(adapter.capabilities.textLimit == 4096)
        #expect(adapter.capabilities.maxQuickReplies == 10)
        #expect(adapter.capabilities.receipts)
        #expect(WhatsAppAdapter.kind == "whatsapp")
        #expect(BuiltinAdapters.all.contains { $0.kind == "whatsapp" })
    }
}

@Suite("WhatsApp configuration")
struct WhatsAppConfigurationTests {
    static let valid: [String: SettingValue] = [
        "access_token": .string("EAAtoken"), "phone_number_id": .string("106540352242922"), "app_secret": .string("s"),
        "verify_token": .string("v"),
    ]

    func settings(_ values: [String: SettingValue]) -> ChannelSettings {
        ChannelSettings(file: "adapters.d/wa.toml", values: values)
    }

    @Test func defaults() throws {
        let config = try WhatsAppConfiguration(settings: settings(Self.valid))
        #expect(config.apiBase == "https://graph.facebook.com/v21.0")
        #expect(config.templateName == nil)
        #expect(config.templateLanguage == "en_US")
    }

    @Test("errors name the file, the key and the problem",
          arguments: [
            ("access_token", SettingValue?.none, "is required"),
            ("phone_number_id", nil, "is required"),
            ("app_secret", nil, "is required"),
            ("verify_token", nil, "is required"),
            ("access_token", .string("Bearer EAAtoken"), "without 'Bearer'"),
            ("phone_number_id", .string("+1 650 555 1234"), "not the phone number itself"),
            ("phone_number_id", .int(106_540_352_242_922), "expected a string, found integer"),
            ("template_name", .string("Hello World"), "lowercase letters, digits and _"),
            ("template_name", .string(""), "lowercase letters, digits and _"),
            ("template_language", .string("english"), "must be a language code"),
            ("template_language", .string("en-US"), "must be a language code"),
            ("api_base", .string("not a url"), "must be an http:// or https:// URL"),
          ])
    func invalid(_ key: String, _ value: SettingValue?, _ problem: String) {
        var values = Self.valid
        values[key] = value
        do {
            _ = try WhatsAppConfiguration(settings: settings(values))
            Issue.record("accepted an invalid configuration")
        } catch let error as ConfigurationError {
            #expect(error.file == "adapters.d/wa.toml")
            #expect(error.key == key)
            #expect(error.problem.contains(problem), "\(error.problem)")
            #expect(!error.description.contains("EAAtoken"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("template languages", arguments: ["en", "en_US", "pt_BR", "fil", "zh_HK"])
    func languages(_ language: String) throws {
        let values = Self.valid.merging(["template_name": .string("reopen_1"), "template_language": .string(language)]) { $1 }
        #expect(try WhatsAppConfiguration(settings: settings(values)).templateLanguage == language)
    }

    @Test("adapters.d/whatsapp.toml.example documents exactly the keys the adapter reads")
    func example() throws {
        let environment = [
            "WHATSAPP_ACCESS_TOKEN": "EAAexample", "WHATSAPP_PHONE_NUMBER_ID": "106540352242922", "WHATSAPP_APP_SECRET": "secret",
            "WHATSAPP_VERIFY_TOKEN": "verify",
        ]
        let example = try metaExampleSettings("whatsapp.toml.example", environment: environment)
        #expect(example.kind == "whatsapp")
        for values in [example.active, example.all] {
            let settings = ChannelSettings(file: "whatsapp.toml.example", values: values)
            _ = try WhatsAppAdapter(channelID: "whatsapp", settings: settings)
            #expect(settings.unreadKeys == [])
        }
        #expect(
            Set(example.all.keys) == [
                "access_token", "phone_number_id", "app_secret", "verify_token", "api_base", "template_name", "template_language",
            ])
    }
}
