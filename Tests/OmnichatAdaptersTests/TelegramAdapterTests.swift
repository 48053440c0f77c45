import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

func fixture(_ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/telegram/\(name)", withExtension: nil))
    return try Data(contentsOf: url)
}

func telegram(secret: String? = "s3cret_token", apiBase: String = "https://api.telegram.org") -> TelegramAdapter {
    TelegramAdapter(channelID: "tg", configuration: TelegramConfiguration(token: "123456:ABC-def", secretToken: secret, apiBase: apiBase))
}

func request(_ body: Data, secret: String? = "s3cret_token") -> WebhookRequest {
    var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
    if let secret { headers.append(("X-Telegram-Bot-Api-Secret-Token", secret)) }
    return WebhookRequest(headers: headers, body: body)
}

@Suite("Telegram inbound")
struct TelegramInboundTests {
    @Test("every sample update parses into one event keyed by update_id, raw payload kept",
          arguments: ["text.json", "document.json", "edited-message.json", "callback-query.json"])
    func samplesParse(_ name: String) throws {
        let body = try fixture(name)
        let events = try telegram().parse(request(body))
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == "10000")
        #expect(event.conversationID == "1111111")
        #expect(event.contact.externalID == "1111111")
        #expect(event.contact.displayName == "Test Firstname Test Lastname")
        #expect(event.contact.username == "Testusername")
        #expect(event.raw == String(decoding: body, as: UTF8.self))
    }

    @Test func textMessage() throws {
        let event = try #require(try telegram().parse(request(fixture("text.json"))).first)
        #expect(event.content == .text("/start"))
        #expect(event.networkMessageID == "1365")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_441_645_532))
        #expect(event.followUp == nil)
    }

    @Test func documentBecomesFile() throws {
        let event = try #require(try telegram().parse(request(fixture("document.json"))).first)
        #expect(event.content.type == .file)
        #expect(event.content.fileName == "Testfile.pdf")
        #expect(event.content.mimeType == "application/pdf")
        #expect(event.content.mediaID == "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX")
    }

    @Test func editedMessageIsMarkedEdited() throws {
        let event = try #require(try telegram().parse(request(fixture("edited-message.json"))).first)
        #expect(event.content.type == .text)
        #expect(event.content.text == "Edited text")
        #expect(event.content.edited)
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_441_646_600))
    }

    @Test("a button tap is a postback, answered with answerCallbackQuery")
    func callbackQuery() throws {
        let adapter = telegram()
        let event = try #require(try adapter.parse(request(fixture("callback-query.json"))).first)
        #expect(event.content.type == .postback)
        #expect(event.content.payload == "Data from button callback")
        let action = try #require(event.followUp)
        #expect(action.parameters["callback_query_id"] == "4382bfdwdsb323b2d9")
        let call = try #require(adapter.render(action: action))
        #expect(call.url == "https://api.telegram.org/bot123456:ABC-def/answerCallbackQuery")
        #expect(try JSONSerialization.jsonObject(with: call.body) as? [String: String] == ["callback_query_id": "4382bfdwdsb323b2d9"])
    }

    @Test func photoTakesTheLargestSize() throws {
        let body = Data(
            """
            {"update_id":7,"message":{"message_id":3,"chat":{"id":-100987654321012,"type":"supergroup","title":"Shop"},
             "from":{"id":5000000001,"is_bot":false,"first_name":"Ann"},"date":1700000000,"caption":"look",
             "photo":[{"file_id":"small","width":90,"height":60},{"file_id":"big","width":1280,"height":853},{"file_id":"mid","width":320,"height":213}]}}
            """.utf8)
        let event = try #require(try telegram().parse(request(body)).first)
        #expect(event.content.type == .image)
        #expect(event.content.mediaID == "big")
        #expect(event.content.text == "look")
        #expect(event.conversationID == "-100987654321012")  // beyond 32 bits
        #expect(event.contact.externalID == "5000000001")
    }

    @Test("message kinds map onto the common type",
          arguments: [
            (#""audio":{"file_id":"a1","title":"Song","mime_type":"audio/mpeg"}"#, MessageType.audio),
            (#""voice":{"file_id":"v1","mime_type":"audio/ogg"}"#, .audio),
            (#""video":{"file_id":"vd1"}"#, .video),
            (#""sticker":{"file_id":"st1","emoji":"😀"}"#, .sticker),
            (#""location":{"latitude":35.68,"longitude":139.76}"#, .location),
            (#""contact":{"phone_number":"+81 90 0000 0000","first_name":"Ken"}"#, .contact),
            (#""dice":{"emoji":"🎲","value":3}"#, .unsupported),
          ])
    func kinds(_ field: String, _ type: MessageType) throws {
        let body = Data(#"{"update_id":9,"message":{"message_id":1,"chat":{"id":42},"date":1,\#(field)}}"#.utf8)
        let event = try #require(try telegram().parse(request(body)).first)
        #expect(event.content.type == type)
        switch type {
        case .location: #expect(event.content.location == GeoLocation(latitude: 35.68, longitude: 139.76))
        case .contact: #expect(event.content.contact == ContactCard(phoneNumber: "+81 90 0000 0000", name: "Ken"))
        case .sticker: #expect(event.content.text == "😀")
        case .audio: #expect(event.content.mediaID != nil)
        default: break
        }
    }

    @Test("an update kind we do not model is kept as unsupported, not rejected")
    func unknownUpdate() throws {
        let body = Data(#"{"update_id":11,"my_chat_member":{"chat":{"id":77},"from":{"id":78},"date":1}}"#.utf8)
        let event = try #require(try telegram().parse(request(body)).first)
        #expect(event.content.type == .unsupported)
        #expect(event.eventID == "11")
        #expect(event.conversationID == "77")
    }

    @Test("the bot blocked or unblocked in a private chat, members joining or leaving a group, and the bot added to a group are system events")
    func membership() throws {
        func member(_ status: String, chat: String) -> Data {
            Data(#"{"update_id":12,"my_chat_member":{"chat":\#(chat),"from":{"id":78,"first_name":"Fay"},"date":5,"new_chat_member":{"status":"\#(status)","user":{"id":9,"first_name":"Bot"}}}}"#.utf8)
        }
        let privateChat = #"{"id":78,"type":"private","first_name":"Fay"}"#
        let blocked = try #require(try telegram().parse(request(member("kicked", chat: privateChat))).first)
        #expect(blocked.kind == .system("blocked"))
        #expect(blocked.content.text == "Fay")
        #expect(blocked.conversationID == "78")
        #expect(try telegram().parse(request(member("member", chat: privateChat))).first?.kind == .system("unblocked"))
        let group = #"{"id":-5,"type":"group","title":"Ops"}"#
        #expect(try telegram().parse(request(member("left", chat: group))).first?.kind == .system("bot_removed"), "recorded, not a notice")
        #expect(try telegram().parse(request(member("administrator", chat: group))).first?.kind == .system("bot_added"))
        let joined = Data(
            #"{"update_id":13,"message":{"message_id":4,"chat":{"id":-5,"type":"group","title":"Ops"},"from":{"id":78,"first_name":"Fay"},"date":6,"new_chat_members":[{"id":79,"first_name":"Gil"},{"id":80,"first_name":"Hal"}]}}"#.utf8)
        let event = try #require(try telegram().parse(request(joined)).first)
        #expect(event.kind == .system("joined"))
        #expect(event.content.text == "Gil, Hal")
    }

    @Test("a group's message names its sender and carries the group's title; a private one has neither")
    func groupMessage() throws {
        let body = Data(
            #"{"update_id":14,"message":{"message_id":5,"chat":{"id":-5,"type":"supergroup","title":"Ops"},"from":{"id":78,"first_name":"Fay"},"date":7,"text":"hi all"}}"#.utf8)
        for fast in [true, false] {
            let event = try #require(try telegram().parse(request(body), fastPath: fast).first)
            #expect(event.content.senderName == "Fay")
            #expect(event.conversationTitle == "Ops")
            #expect(event.contact.externalID == "78")
        }
        let single = try #require(try telegram().parse(request(Data(#"{"update_id":15,"message":{"message_id":6,"chat":{"id":78,"type":"private","first_name":"Fay"},"from":{"id":78,"first_name":"Fay"},"date":7,"text":"hi"}}"#.utf8))).first)
        #expect(single.content.senderName == nil)
        #expect(single.conversationTitle == nil)
    }

    @Test("malformed bodies are refused with a reason",
          arguments: ["{not json", "[]", #"{"message":{}}"#, #"{"update_id":"x"}"#, ""])
    func malformed(_ body: String) {
        #expect(throws: WebhookError.self) { try telegram().parse(request(Data(body.utf8))) }
        do {
            _ = try telegram().parse(request(Data(body.utf8)))
        } catch {
            #expect(error.kind == .malformed)
            #expect(!error.message.isEmpty)
        }
    }

    @Test func secretTokenIsChecked() throws {
        let adapter = telegram(secret: "s3cret_token")
        let body = try fixture("text.json")
        try adapter.verify(request(body, secret: "s3cret_token"))
        for wrong: String? in [nil, "", "s3cret_tokeN", "s3cret_token_", "s3cret"] {
            #expect(throws: WebhookError(.unauthorized, wrong == nil ? "missing X-Telegram-Bot-Api-Secret-Token header" : "wrong X-Telegram-Bot-Api-Secret-Token header")) {
                try adapter.verify(request(body, secret: wrong))
            }
        }
        // Without a configured secret, any request passes verification.
        try telegram(secret: nil).verify(request(body, secret: nil))
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals("", ""))
    }
}
