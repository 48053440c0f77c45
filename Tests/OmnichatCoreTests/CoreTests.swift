import Foundation
import Testing

@testable import OmnichatCore

@Suite struct LeastBusyPolicyTests {
    let t0 = Date(timeIntervalSince1970: 1_000)

    @Test func picksFewestOpenRooms() {
        let choice = LeastBusyPolicy().choose(among: [
            AgentLoad(userID: 1, openRooms: 3, capacity: 10, lastAssignedAt: nil),
            AgentLoad(userID: 2, openRooms: 1, capacity: 10, lastAssignedAt: t0),
            AgentLoad(userID: 3, openRooms: 2, capacity: 10, lastAssignedAt: nil),
        ])
        #expect(choice?.userID == 2)
    }

    @Test("ties go to the longest since last assignment; never assigned first")
    func ties() {
        let policy = LeastBusyPolicy()
        #expect(
            policy.choose(among: [
                AgentLoad(userID: 1, openRooms: 1, capacity: 5, lastAssignedAt: t0.addingTimeInterval(10)),
                AgentLoad(userID: 2, openRooms: 1, capacity: 5, lastAssignedAt: t0),
            ])?.userID == 2)
        #expect(
            policy.choose(among: [
                AgentLoad(userID: 1, openRooms: 0, capacity: 5, lastAssignedAt: t0),
                AgentLoad(userID: 2, openRooms: 0, capacity: 5, lastAssignedAt: nil),
            ])?.userID == 2)
    }

    @Test func nobodyAtCapacityIsChosen() {
        #expect(
            LeastBusyPolicy().choose(among: [
                AgentLoad(userID: 1, openRooms: 2, capacity: 2, lastAssignedAt: nil),
                AgentLoad(userID: 2, openRooms: 5, capacity: 3, lastAssignedAt: nil),
            ]) == nil)
        #expect(LeastBusyPolicy().choose(among: []) == nil)
    }
}

@Suite struct BackoffTests {
    @Test func growsAndCaps() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(60))
        #expect(backoff.delay(afterAttempt: 1, random: 0) == .milliseconds(500))
        #expect(backoff.delay(afterAttempt: 1, random: 0.999_999) < .seconds(1))
        #expect(backoff.delay(afterAttempt: 3, random: 0) == .seconds(2))
        #expect(backoff.delay(afterAttempt: 20, random: 0) == .seconds(30))
        #expect(backoff.delay(afterAttempt: 1000, random: 1) == .seconds(60))
    }

    @Test func jitterSpreadsRetries() {
        let backoff = Backoff()
        let delays = Set((0..<50).map { _ in backoff.delay(afterAttempt: 4) })
        #expect(delays.count > 40)
        #expect(delays.allSatisfy { $0 >= .seconds(4) && $0 <= .seconds(8) })
    }
}

@Suite struct MessageContentTests {
    @Test func roundTripsThroughJSON() throws {
        let content = MessageContent(
            type: .location, text: "here", location: GeoLocation(latitude: 1.5, longitude: -2, title: "Shop"),
            quickReplies: [QuickReply(title: "A")], edited: true)
        let decoded = try JSONDecoder().decode(MessageContent.self, from: JSONEncoder().encode(content))
        #expect(decoded == content)
    }

    @Test func quickReplyPayloadDefaultsToTitle() throws {
        let reply = try JSONDecoder().decode(QuickReply.self, from: Data(#"{"title":"Yes"}"#.utf8))
        #expect(reply.payload == "Yes")
    }

    @Test func userServesChannels() {
        #expect(User(id: 1, email: "e", name: "n", role: .agent).serves(channel: "any"))
        #expect(User(id: 1, email: "e", name: "n", role: .agent, channels: ["a"]).serves(channel: "a"))
        #expect(!User(id: 1, email: "e", name: "n", role: .agent, channels: ["a"]).serves(channel: "b"))
    }

    @Test func rolesAreOrdered() {
        #expect(Role.agent < .supervisor)
        #expect(Role.supervisor < .admin)
    }
}

@Suite struct ChannelSettingsTests {
    @Test func reportsUnreadKeys() throws {
        let settings = ChannelSettings(file: "f.toml", values: ["token": .string("x"), "tokn": .string("y")])
        _ = try settings.string("token")
        #expect(settings.unreadKeys == ["tokn"])
    }

    @Test func typedAccessorsNameTheKey() {
        let settings = ChannelSettings(file: "f.toml", values: ["enabled": .string("yes")])
        #expect(throws: ConfigurationError(file: "f.toml", key: "enabled", problem: "expected true or false, found string")) {
            try settings.bool("enabled")
        }
    }
}

@Suite struct HeaderLookupTests {
    @Test func namesMatchWhateverTheirCase() {
        let request = WebhookRequest(headers: [("X-Hub-Signature-256", "sha256=ab"), ("content-type", "application/json")], body: Data())
        #expect(request.header("x-hub-signature-256") == "sha256=ab")
        #expect(request.header("X-HUB-SIGNATURE-256") == "sha256=ab")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("X-Hub-Signature") == nil)  // a prefix is another name
        #expect(request.header("X-Hub-Signature-2567") == nil)
        #expect(request.header("X-Hub-Signature-25[") == nil)  // '[' is not 'e'-ish: only letters fold
    }

    @Test("header values lose the spaces and tabs around them, nothing else")
    func valuesTrimOptionalWhitespace() {
        #expect(" \tsha256=ab \t ".trimmingHTTPWhitespace() == "sha256=ab")
        #expect("a b".trimmingHTTPWhitespace() == "a b")  // inner spaces stay
        #expect("   ".trimmingHTTPWhitespace() == "")
        #expect("".trimmingHTTPWhitespace() == "")
        #expect("\u{00A0}x\r\n".trimmingHTTPWhitespace() == "\u{00A0}x\r\n")  // only SP and HTAB are HTTP's whitespace
        #expect(" é ".trimmingHTTPWhitespace() == "é")
        let header = "Bearer  token "
        #expect(header.split(separator: " ", maxSplits: 1)[1].trimmingHTTPWhitespace() == "token")  // a Substring too
    }
}

@Suite struct MessageContentJSONTests {
    static func encoder(_ content: MessageContent) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(content), as: UTF8.self)
    }

    @Test("written directly, the same bytes as JSONEncoder with sorted keys")
    func sameBytesAsTheEncoder() throws {
        let every = String((1..<0x80).map { Character(Unicode.Scalar(UInt8($0))) }) + "\u{0}é😀\u{2028}/\\\""
        var contents: [MessageContent] = [
            .text("hi"), .text(""), .text(every), .text("a/b \"q\" \\ \n\t", quickReplies: [QuickReply(title: "Yes"), QuickReply(title: "No\n", payload: "N/\u{1}")]),
            MessageContent(type: .image, text: "cap", url: "https://x.example/i.png?a=1&b=2", mediaID: "m1", fileName: "i.png", mimeType: "image/png"),
            MessageContent(type: .contact, contact: ContactCard(phoneNumber: "+1 555", name: "Ann \"A\"")),
            MessageContent(type: .contact, contact: ContactCard(phoneNumber: "")),
            MessageContent(type: .postback, text: "Buy", payload: "BUY_1"),
            MessageContent(type: .unsupported, edited: true),
        ]
        var rng = SystemRandomNumberGenerator()
        let pieces = ["a", "é", "😀", "\u{1}", "\u{1f}", "\"", "\\", "/", "\n", " ", "\u{7f}", "日本"]
        func random() -> String? {
            Bool.random(using: &rng) ? nil : (0..<Int.random(in: 0...6, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
        }
        for _ in 0..<300 {
            contents.append(
                MessageContent(
                    type: MessageType.allCases.randomElement(using: &rng)!, text: random(), url: random(), mediaID: random(), fileName: random(),
                    mimeType: random(), contact: Bool.random(using: &rng) ? ContactCard(phoneNumber: random() ?? "", name: random()) : nil,
                    payload: random(), quickReplies: (0..<Int.random(in: 0...3, using: &rng)).map { _ in QuickReply(title: random() ?? "t", payload: random()) },
                    edited: Bool.random(using: &rng), senderName: random()))
        }
        for content in contents {
            let direct = try #require(content.sortedJSON)
            #expect(direct == Self.encoder(content))
            #expect(try JSONDecoder().decode(MessageContent.self, from: Data(direct.utf8)) == content)
        }
    }

    @Test func locationsAreLeftToTheEncoder() {
        #expect(MessageContent(type: .location, location: GeoLocation(latitude: 1.5, longitude: -0.1)).sortedJSON == nil)
    }
}
