import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

/// Each adapter reads its most frequent payloads through `FastJSON` and
/// everything else through `JSONDecoder`. The fast path must never decide
/// differently: for the fixtures, for bodies written to probe it, and for
/// thousands of mutations of both, parsing with and without it gives the same
/// events or the same error.
/// Runs a CPU-bound loop on a thread of its own, not on the cooperative pool
/// that the in-process daemons of other suites need for their timers.
func onOwnThread(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread {
            body()
            done.resume()
        }.start()
    }
}

@Suite("Fast path: the same events as JSONDecoder")
struct FastPathTests {
    typealias Parse = @Sendable (WebhookRequest, _ fastPath: Bool) throws(WebhookError) -> [InboundEvent]

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var parse: Parse
        var request: @Sendable (Data) -> WebhookRequest
        var seeds: [Data]
        /// Bodies the fast path must take (so a change that quietly turns it off fails here).
        var fast: [String]
        var decodesFast: @Sendable (FastJSON) -> Bool
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "telegram", parse: { r, f throws(WebhookError) in try telegram().parse(r, fastPath: f) },
            request: { request($0) },
            seeds: FuzzTests.fixtures("telegram").map { $0 } + telegramProbes.map { Data($0.utf8) },
            fast: telegramProbes,
            decodesFast: { (try? TelegramUpdate(fast: $0)) != nil }),
        Case(
            name: "line", parse: { r, f throws(WebhookError) in try lineAdapter().parse(r, fastPath: f) },
            request: { lineRequest($0) },
            seeds: FuzzTests.fixtures("line") + lineProbes.map { Data($0.utf8) },
            fast: lineProbes,
            decodesFast: { (try? LINEWebhook(fast: $0)) != nil }),
        Case(
            name: "messenger", parse: { r, f throws(WebhookError) in try messengerAdapter().parse(r, fastPath: f) },
            request: { metaRequest($0, signature: nil) },
            seeds: FuzzTests.fixtures("messenger") + messengerProbes.map { Data($0.utf8) },
            fast: messengerProbes,
            decodesFast: { (try? MessengerWebhook(fast: $0)) != nil }),
        Case(
            name: "whatsapp", parse: { r, f throws(WebhookError) in try whatsAppAdapter().parse(r, fastPath: f) },
            request: { metaRequest($0, signature: nil) },
            seeds: FuzzTests.fixtures("whatsapp") + whatsAppProbes.map { Data($0.utf8) },
            fast: whatsAppProbes,
            decodesFast: { (try? WhatsAppWebhook(fast: $0)) != nil }),
        Case(
            name: "custom", parse: { r, f throws(WebhookError) in try customAdapter().parse(r, fastPath: f) },
            request: { customRequest(String(decoding: $0, as: UTF8.self)) },
            seeds: ([CustomExample.body] + customProbes).map { Data($0.utf8) },
            fast: [CustomExample.body] + customProbes,
            decodesFast: { (try? CustomEnvelope(fast: $0)) != nil }),
    ]

    static let telegramProbes = [
        #"{"update_id":7,"message":{"message_id":1,"date":1700000000,"text":"hi","chat":{"id":42,"type":"private","first_name":"Ann"},"from":{"id":42,"is_bot":false,"first_name":"Ann","language_code":"en"}}}"#,
        #"{"update_id":8,"edited_message":{"message_id":2,"date":1,"edit_date":2,"text":"line\nbreak \"quoted\" \\ \/ \u00e9 \ud83d\ude00 tab\t","chat":{"id":-100,"type":"group","title":"Team"}}}"#,
        #"{"update_id":9,"channel_post":{"message_id":3,"text":"ünïcödé 😀","chat":{"id":5,"type":"channel","title":null},"from":null,"date":null}}"#,
        #" { "update_id" : 10 , "message" : { "message_id" : 4 , "chat" : { "id" : 6 } , "text" : "" } , "unknown" : [1, 2.5e3, {"a": [true, false, null]}] } "#,
        #"{"update_id":11,"my_chat_member":{"chat":{"id":1}}}"#,
    ]

    static let lineProbes = [
        #"{"destination":"Uabc","events":[{"type":"message","mode":"active","timestamp":1462629479859,"source":{"type":"user","userId":"U1"},"webhookEventId":"01E","deliveryContext":{"isRedelivery":false},"replyToken":"rt","message":{"id":"444","type":"text","text":"Hello \u3042","quoteToken":"q"}}]}"#,
        #"{"destination":"Uabc","events":[{"type":"follow","timestamp":1,"source":{"type":"group","groupId":"C1","userId":"U2"},"webhookEventId":"01F","replyToken":"r2"},{"type":"message","source":{"type":"room","roomId":"R1"},"webhookEventId":"01G","message":{"id":"5","type":"text","text":"two"}}]}"#,
        #"{"destination":"Uabc","events":[]}"#,
    ]

    static let messengerProbes = [
        #"{"object":"page","entry":[{"id":"P1","time":1700000000000,"messaging":[{"sender":{"id":"U1"},"recipient":{"id":"P1"},"timestamp":1700000000001,"message":{"mid":"m_1","text":"hello \u00e9"}}]}]}"#,
        #"{"object":"page","entry":[{"id":"P1","time":1,"messaging":[{"sender":{"id":"P1"},"recipient":{"id":"U2"},"timestamp":2,"message":{"mid":"m_2","text":"echo","is_echo":true,"app_id":123}},{"sender":{"id":"U3"},"recipient":{"id":"P1"},"timestamp":3,"optin":{"ref":"x"}}]},{"id":"P2","time":4}]}"#,
        #"{"object":"page","entry":[]}"#,
    ]

    static let whatsAppProbes = [
        #"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000000","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ann"},"wa_id":"15551234567"}],"messages":[{"from":"15551234567","id":"wamid.1","timestamp":"1700000000","type":"text","text":{"body":"hi \ud83d\ude00"}}]}}]}]}"#,
        #"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"contacts":[{"profile":{"name":"Bo","username":"bo"},"user_id":"US.1"}],"messages":[{"id":"wamid.2","timestamp":1700000001,"type":"text","text":{"body":"two"}},{"from":"1","id":"wamid.3","timestamp":"x","type":"unknown","errors":[{"code":131051}]}],"statuses":[]}},{"field":"account_update","value":{"event":"VERIFIED"}}]}]}"#,
    ]

    static let customProbes = [
        #"{"event_id":"e1","user":{"id":"u1","name":"Ann","avatar_url":"https://example.com/a.png"},"message":{"type":"text","text":"hi \"there\""},"extras":{"x":[1,2]}}"#,
        #"{"event_id":"e2","user":{"id":"u2","name":null},"message":{"type":"image","url":"https://example.com/i.png","mime_type":"image/png"}}"#,
        #"{"event_id":"e3","user":{"id":"u3"},"message":{"type":"postback","payload":"BUY"}}"#,
    ]

    @Test("fixtures, probes and mutations: the same events or the same error either way", arguments: cases)
    func sameOutcome(_ c: Case) async {
        await onOwnThread { Self.compare(c) }
    }

    static func compare(_ c: Case) {
        var rng = FuzzTests.Seeded(state: 0xFA57 &+ UInt64(c.name.utf8.count))
        var bodies = c.seeds
        for _ in 0..<max(200, FuzzTests.iterations) {
            var body = c.seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...2, using: &rng) { body = FuzzTests.mutate(body, &rng) }
            if body.count <= FuzzTests.maxBody { bodies.append(body) }
        }
        var tookFast = 0
        for (index, body) in bodies.enumerated() {
            let request = c.request(body)
            if let json = FastJSON(body), c.decodesFast(json) { tookFast += 1 }
            let fast = Result { () throws(WebhookError) in try c.parse(request, true) }
            let slow = Result { () throws(WebhookError) in try c.parse(request, false) }
            switch (fast, slow) {
            case (.success(let a), .success(let b)):
                #expect(Self.normalized(a, b) == b, "\(c.name) body \(index): \(String(decoding: body.prefix(300), as: UTF8.self))")
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "\(c.name) body \(index)")
            default:
                Issue.record("\(c.name) body \(index): fast \(fast), JSONDecoder \(slow); body \(String(decoding: body.prefix(300), as: UTF8.self))")
            }
        }
        // Mutations keep many bodies valid: the comparison above covered the fast path often.
        #expect(tookFast >= c.fast.count, "\(c.name): the fast path took only \(tookFast) of \(bodies.count) bodies")
    }

    @Test("the common payloads take the fast path", arguments: cases)
    func engages(_ c: Case) throws {
        for body in c.fast {
            let json = try #require(FastJSON(Data(body.utf8)), "not read: \(body)")
            #expect(c.decodesFast(json), "\(c.name): fell back for \(body)")
        }
    }

    /// `a` with each event's time taken from `b` when both are "now" (events
    /// without a time of their own are stamped on receipt, once per parse).
    static func normalized(_ a: [InboundEvent], _ b: [InboundEvent]) -> [InboundEvent] {
        guard a.count == b.count else { return a }
        return zip(a, b).map { x, y in
            var x = x
            if abs(x.occurredAt.timeIntervalSince(y.occurredAt)) < 5, abs(y.occurredAt.timeIntervalSinceNow) < 60 { x.occurredAt = y.occurredAt }
            return x
        }
    }
}

@Suite("FastJSON")
struct FastJSONTests {
    @Test("reads strings, escapes, integers and nesting as JSON means them")
    func reads() throws {
        let json = try #require(FastJSON(Data(#"{"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00","n":-9223372036854775808,"big":9223372036854775808,"f":1.5,"e":1e3,"z":0,"o":{"a":[1,{"b":null}]},"t":true}"#.utf8)))
        #expect(json.string(json.member(json.root, "s")!) == "a\"b\\c/d\n\té😀")
        #expect(json.int64(json.member(json.root, "n")!) == Int64.min)
        #expect(json.int64(json.member(json.root, "big")!) == nil)  // out of range: not an Int64
        #expect(json.int64(json.member(json.root, "f")!) == nil)
        #expect(json.int64(json.member(json.root, "e")!) == nil)
        #expect(json.int64(json.member(json.root, "z")!) == 0)
        let o = try #require(json.member(json.root, "o"))
        let items = try #require(json.elements(json.member(o, "a")!))
        #expect(items.count == 2)
        #expect(json.int64(items[0]) == 1)
        #expect(json.isNull(json.member(items[1], "b")!))
        #expect(json.member(json.root, "missing") == nil)
        #expect(json.kind(json.member(json.root, "t")!) == .bool)
    }

    @Test(
        "refuses what it does not read exactly as JSONDecoder would",
        arguments: [
            "", "[]", "\"x\"", "{", "{}x", #"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":.5}"#,
            #"{"a":1e}"#, #"{"a":tru}"#, #"{"a":"\x"}"#, "{\"a\":\"\u{1}\"}", #"{"a":"\ud800"}"#, #"{"a":"\udc00\ud800"}"#,
            #"{"a":1,"a":2}"#, #"{"\u0061":1}"#, #"{"a":1e999}"#, #"{"a":-1e400}"#, #"{'a':1}"#, #"{"a":NaN}"#, "{\"a\":1}\u{0}",
        ])
    func refuses(_ text: String) {
        #expect(FastJSON(Data(text.utf8)) == nil)
    }

    @Test func refusesInvalidUTF8() {
        #expect(FastJSON(Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xF0, 0x9F, 0x98, 0x22, 0x7D])) == nil)  // a truncated 4-byte sequence
        #expect(FastJSON(Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D])) == nil)  // an overlong '/'
        #expect(FastJSON(Data(#"{"a":"é😀"}"#.utf8)) != nil)
    }

    @Test("whatever it accepts, Foundation's parser accepts too (mutated fixtures)")
    func neverLaxer() async {
        await onOwnThread { Self.neverLaxerLoop() }
    }

    static func neverLaxerLoop() {
        var rng = FuzzTests.Seeded(state: 0x5EED)
        let seeds = FuzzTests.fixtures("telegram") + FuzzTests.fixtures("line") + FuzzTests.fixtures("whatsapp") + FuzzTests.fixtures("messenger")
        var accepted = 0
        for _ in 0..<2_000 {
            var body = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) { body = FuzzTests.mutate(body, &rng) }
            guard FastJSON(body) != nil else { continue }
            accepted += 1
            #expect((try? JSONSerialization.jsonObject(with: body)) != nil, "accepted: \(String(decoding: body.prefix(300), as: UTF8.self))")
        }
        #expect(accepted > 100)
    }
}
