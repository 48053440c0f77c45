import Foundation
import OmnichatCore
import Testing

@testable import OmnichatServer

/// The hand-written encoders of the hot paths agree with Foundation's.
@Suite struct EncodingTests {
    @Test func hexMatchesFormattedBytes() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 16, 32, 33] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Hex.encode(bytes) == bytes.map { String(format: "%02x", $0) }.joined())
        }
        #expect(Hex.encode([0x00, 0x0f, 0xf0, 0xff]) == "000ff0ff")
    }

    @Test func liveEventLinesParseBackToTheirValues() throws {
        let text = "quote \" backslash \\ newline \n tab \t bell \u{07} emoji 🙂 slash /"
        let none: String? = nil
        let event = LiveEvent(
            id: 42, type: "message.created", roomID: 1, audience: nil,
            data: ["text": text, "attempts": 3, "online": true, "url": none, "ratio": 0.5, "channel": Optional("telegram")],
            at: Date(timeIntervalSince1970: 1_700_000_000))
        let lines = event.sse.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5)  // id, event, data, then the blank line
        #expect(lines[0] == "id: 42")
        #expect(lines[1] == "event: message.created")
        let json = try #require(lines[2].hasPrefix("data: ") ? String(lines[2].dropFirst(6)) : nil)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["id"] as? String == "42")
        #expect(object["type"] as? String == "message.created")
        let data = try #require(object["data"] as? [String: Any])
        #expect(data["text"] as? String == text)
        #expect(data["attempts"] as? Int == 3)
        #expect(data["online"] as? Bool == true)
        #expect(data["ratio"] as? Double == 0.5)
        #expect(data["channel"] as? String == "telegram")
        #expect(data.keys.contains("url") == false)  // an absent optional leaves its key out
    }

    @Test func otherValueTypesTakeTheGeneralPath() throws {
        #expect(JSONText.object(["list": ["a", "b"]]) == nil)
        let event = LiveEvent(id: 7, type: "room.assigned", roomID: nil, audience: nil, data: ["tags": ["a", "b"]], at: Date())
        let json = String(event.sse.split(separator: "\n")[2].dropFirst(6))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((object["data"] as? [String: Any])?["tags"] as? [String] == ["a", "b"])
    }

    @Test func eventLogBodiesReadBack() throws {
        let at = Date(timeIntervalSince1970: 1_700_000_000.25)
        let event = LiveEvent(
            id: 0, type: "message.created", roomID: 1, audience: 2,
            data: ["text": "a \"b\"\nc", "attempts": 2], at: at)
        let back = try #require(LiveEvent(logged: LoggedEvent(id: 9, body: event.logBody, at: Date())))
        #expect(back.id == 9 && back.type == "message.created" && back.roomID == 1 && back.audience == 2)
        #expect(back.at == at)
        let data = try #require(try JSONSerialization.jsonObject(with: Data((back.dataJSON ?? "").utf8)) as? [String: Any])
        #expect(data["text"] as? String == "a \"b\"\nc")
        #expect(data["attempts"] as? Int == 2)
    }

    @Test("a log body is read without JSONSerialization when it has logBody's shape; other shapes take the general reader")
    func logBodyFastPath() throws {
        let at = Date(timeIntervalSince1970: 1_765_000_000.25)
        let bodies = [
            LiveEvent(id: 0, type: "room.updated", roomID: 7, audience: nil, data: ["status": "assigned", "assignee_id": Int64(3)], at: at),
            LiveEvent(id: 0, type: "message.created", roomID: nil, audience: 5, data: ["text": "{not} [a] \"brace\" \\ }"], at: at),
            LiveEvent(id: 0, type: "agent.capacity", roomID: nil, audience: nil, data: [:], at: at),
        ].map(\.logBody)
        for body in bodies {
            let logged = LoggedEvent(id: 42, body: body, at: Date())
            let fast = try #require(LiveEvent.fromLogBody(logged), "\(body)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect(fast.id == 42 && fast.type == object["type"] as? String && fast.at == at)
            #expect(fast.roomID == (object["room_id"] as? NSNumber)?.int64Value && fast.audience == (object["audience"] as? NSNumber)?.int64Value)
            let data = try #require(try JSONSerialization.jsonObject(with: Data((fast.dataJSON ?? "").utf8)) as? NSDictionary)
            #expect(data == (object["data"] as? NSDictionary))
        }
        // Keys in another order, or an escaped type: not logBody's shape, still read.
        let reordered = #"{"at":1765000000.25,"type":"room.updated","data":{"a":1},"room_id":3}"#
        #expect(LiveEvent.fromLogBody(LoggedEvent(id: 1, body: reordered, at: Date())) == nil)
        #expect(LiveEvent(logged: LoggedEvent(id: 1, body: reordered, at: Date()))?.roomID == 3)
        let escaped = #"{"type":"room.\u0075pdated","at":1,"data":{}}"#
        #expect(LiveEvent.fromLogBody(LoggedEvent(id: 1, body: escaped, at: Date())) == nil)
        #expect(LiveEvent(logged: LoggedEvent(id: 1, body: escaped, at: Date()))?.type == "room.updated")
        // Cut short: nothing.
        #expect(LiveEvent.fromLogBody(LoggedEvent(id: 1, body: String(bodies[0].dropLast(3)), at: Date())) == nil)
    }
}
