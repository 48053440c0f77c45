import Foundation
import OmnichatCore
@testable import OmnichatServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A minimal Server-Sent Events client over a plain socket, so tests read the
/// stream as it arrives (libcurl in our transport buffers whole bodies).
final class SSEClient: @unchecked Sendable {
    struct Event: Sendable {
        var id: String?
        var type: String
        var data: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(raw.utf8))) as? [String: Any] ?? [:] }
        var payload: [String: Any] { data["data"] as? [String: Any] ?? [:] }
        var raw: String
    }

    private let lock = NSLock()
    private var received: [Event] = []
    private var status = 0
    private var ended = false
    private let fd: Int32
    private var thread: Thread?

    init(port: Int, path: String, headers: [String: String] = [:]) throws {
        guard let fd = connectLoopback(port: port) else { throw CancellationError() }
        self.fd = fd
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        let thread = Thread { [self] in readLoop() }
        self.thread = thread
        thread.start()
    }

    private func readLoop() {
        // Bytes, not Characters: Swift joins "\r\n" into one Character.
        var pending: [UInt8] = []
        var headerDone = false
        var buffer = [UInt8](repeating: 0, count: 8192)
        var current: (id: String?, type: String, data: String) = (nil, "message", "")
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                lock.withLock { ended = true }
                break
            }
            pending += buffer[0..<count]
            if !headerDone {
                guard let end = Self.find([13, 10, 13, 10], in: pending) else { continue }
                let head = String(decoding: pending[..<end], as: UTF8.self)
                let statusLine = head.split(separator: " ")
                lock.withLock { status = statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0 }
                pending.removeFirst(end + 4)
                headerDone = true
            }
            // Chunked framing: drop chunk-size lines (hex only) between the SSE lines.
            while let newline = pending.firstIndex(of: 10) {
                var bytes = Array(pending[..<newline])
                pending.removeFirst(newline + 1)
                if bytes.last == 13 { bytes.removeLast() }
                let line = String(decoding: bytes, as: UTF8.self)
                if !line.isEmpty, line.allSatisfy(\.isHexDigit), current.data.isEmpty { continue }
                if line.isEmpty {
                    if !current.data.isEmpty || current.type != "message" {
                        let event = Event(id: current.id, type: current.type, raw: current.data)
                        lock.withLock { received.append(event) }
                    }
                    current = (nil, "message", "")
                } else if line.hasPrefix("id: ") {
                    current.id = String(line.dropFirst(4))
                } else if line.hasPrefix("event: ") {
                    current.type = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    current.data += String(line.dropFirst(6))
                }
            }
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle { return start }
        return nil
    }

    var events: [Event] { lock.withLock { received } }
    /// The server closed the stream.
    var isEnded: Bool { lock.withLock { ended } }
    var statusCode: Int { lock.withLock { status } }

    func close() {
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }
}

@Suite("Live events (SSE)", .serialized, .bothEngines)
struct LiveEventsTests {
    @Test("max_streams_per_user sets how many streams one user holds: one more is 429 too_many_streams, another user is not counted")
    func streamLimit() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) { $0.maxStreamsPerUser = 2 }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", online: false)
        let (_, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
        let first = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(annToken)"])
        let second = try SSEClient(port: daemon.port, path: "/api/v1/events?access_token=\(annToken)")
        defer { first.close(); second.close() }
        try await eventually("two streams for Ann") { daemon.daemon.live.streamCount(userID: ann.id) == 2 }
        let third = try await call("GET", "\(daemon.base)/api/v1/events", token: annToken)
        #expect(third.status == 429)
        #expect(third.text.contains("too_many_streams") && third.text.contains("at most 2 event streams"))
        let bo = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(boToken)"])
        defer { bo.close() }
        try await eventually("Bo's stream is open") { daemon.daemon.live.subscriberCount == 3 }
        await daemon.stop()
    }

    @Test("a client that stops reading is reset once max_stream_buffer_bytes wait for it: its subscription ends, webhooks go on")
    func stalledReader() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            // Many events' worth (an event here is about 4 KB): the reset comes from the
            // stalled socket, not from the stream's own task being a few events behind
            // on a busy machine (with 8 KB, two events queued between its turns reset
            // it before the socket was ever unwritable, and then no write deadline ran).
            $0.maxStreamBufferBytes = 65536
            $0.writeTimeoutSeconds = 1
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let stalled = try RawConnection(port: daemon.port, receiveBuffer: 4096)
        #expect(stalled.write("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n"))
        try await eventually("the stalled stream is subscribed") { daemon.daemon.live.subscriberCount == 1 }
        // Far more than the socket buffers and the budget hold; it never reads a byte.
        let text = String(repeating: "a long message ", count: 250)
        for n in 0..<1500 {
            #expect(try await daemon.postUpdate(telegramUpdate(n + 1, chat: Int64(n % 20 + 1), text: text)).status == 200)
            if daemon.daemon.live.subscriberCount == 0 { break }
        }
        try await eventually(timeout: .seconds(15), "the stalled stream was reset and its subscription ended") { daemon.daemon.live.subscriberCount == 0 }
        // Its connection does not stay open either: unwritable past write_timeout_seconds, it is closed.
        try await eventually(timeout: .seconds(15), "the stalled connection was closed by the write deadline") {
            daemon.daemon.connections.stalledWriteCount >= 1
        }
        // A reader that reads still gets everything that follows.
        let reader = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        defer { reader.close() }
        try await eventually("the reader is subscribed") { daemon.daemon.live.subscriberCount == 1 }
        #expect(try await daemon.postUpdate(telegramUpdate(1000, chat: 99, text: "after the reset")).status == 200)
        try await eventually("the reader sees the next message") { reader.events.contains { $0.type == "message.created" } }
        stalled.hangUp()
        await daemon.stop()
    }

    @Test("a stream never outlives its credential: sign-out and a role change end it with stream.revoked")
    func revoked() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
        let (_, annToken) = try await daemon.signIn(email: "ann@example.com", online: false)
        let (bo, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
        let (sueUser, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let ann = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(annToken)"])
        let boStream = try SSEClient(port: daemon.port, path: "/api/v1/events?access_token=\(boToken)")
        let sue = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(sueToken)"])
        defer { ann.close(); boStream.close(); sue.close() }
        try await eventually("three subscribers") { daemon.daemon.live.subscriberCount == 3 }

        #expect(try await call("POST", "\(daemon.base)/api/v1/auth/logout", token: annToken).status == 204)
        #expect(try await call("PATCH", "\(daemon.base)/api/v1/agents/\(bo.id)", json: ["role": "supervisor"], token: adminToken).status == 200)
        try await eventually(timeout: .seconds(15), "both streams revoked") {
            ann.events.contains { $0.type == "stream.revoked" } && boStream.events.contains { $0.type == "stream.revoked" }
        }
        #expect(ann.events.last?.type == "stream.revoked")
        #expect(ann.events.last?.data["reason"] as? String == "the session ended")
        #expect(boStream.events.last?.type == "stream.revoked")
        #expect(boStream.events.last?.data["reason"] as? String == "the role changed")
        try await eventually("their subscriptions ended, one left") { daemon.daemon.live.subscriberCount == 1 }

        // At most five streams per user: a sixth is 429; closing one makes room.
        var more: [SSEClient] = []
        for _ in 0..<4 { more.append(try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(sueToken)"])) }
        try await eventually("five streams for Sue") { daemon.daemon.live.streamCount(userID: sueUser.id) == 5 }
        let sixth = try await call("GET", "\(daemon.base)/api/v1/events", token: sueToken)
        #expect(sixth.status == 429 && sixth.text.contains("too_many_streams"))
        more.removeLast().close()
        try await eventually(timeout: .seconds(15), "four streams for Sue") { daemon.daemon.live.streamCount(userID: sueUser.id) == 4 }
        for stream in more { stream.close() }

        // The supervisor's stream, whose credential holds, goes on and sees the next customer.
        _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1, text: "still watched"))
        try await eventually("the supervisor sees the message") { sue.events.contains { $0.type == "message.created" } }
        #expect(!sue.isEnded && !sue.events.contains { $0.type == "stream.revoked" })
        #expect(!ann.events.contains { $0.type == "message.created" })
        await daemon.stop()
    }

    @Test("each subscriber sees what they may: agents their rooms, supervisors everything")
    func visibility() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: fake.baseURL)])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 1)
        let (_, supervisorToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let annStream = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(annToken)"])
        let supervisorStream = try SSEClient(port: daemon.port, path: "/api/v1/events?access_token=\(supervisorToken)")
        try await eventually("two subscribers") { daemon.daemon.live.subscriberCount == 2 }
        _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1, text: "first"))
        let annRoom = try await assignedRoom(daemon, annToken)
        // Bo comes online once Ann (capacity 1) is full, so the next room is his.
        let (bo, boToken) = try await daemon.signIn(email: "bo@example.com", maxOpenRooms: 1)
        let boStream = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(boToken)"])
        try await eventually("three subscribers") { daemon.daemon.live.subscriberCount == 3 }
        _ = try await daemon.postUpdate(telegramUpdate(2, chat: 2, text: "second"))
        let boRoom = try await assignedRoom(daemon, boToken)
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/messages", json: ["text": "hello ann's customer"], token: annToken)
        try await eventually("ann to see her reply delivered") {
            annStream.events.contains { $0.type == "message.delivery" && $0.payload["status"] as? String == "delivered" }
        }
        try await eventually("the supervisor to see both rooms assigned") {
            Set(supervisorStream.events.filter { $0.type == "room.assigned" }.compactMap { $0.payload["room_id"].asID }) == [annRoom, boRoom]
        }
        _ = try await daemon.postUpdate(telegramUpdate(3, chat: 2, text: "more for bo"))
        try await eventually("bo to see the new message") {
            boStream.events.contains { $0.type == "message.created" && $0.payload["text"] as? String == "more for bo" }
        }
        // Ann never sees anything about Bo's room, nor Bo about Ann's.
        #expect(annStream.events.allSatisfy { ($0.payload["room_id"].asID) != boRoom })
        #expect(boStream.events.allSatisfy { ($0.payload["room_id"].asID) != annRoom })
        #expect(annStream.events.contains { $0.type == "room.assigned" && $0.payload["assignee_id"].asID == ann.id })
        // The new assignee's room.assigned carries the room, its customer and the message that opened it,
        // which was published before the assignment (when only staff could see it).
        let assigned = try #require(annStream.events.first { $0.type == "room.assigned" && $0.payload["assignee_id"].asID == ann.id })
        #expect((assigned.payload["last_message"] as? [String: Any])?["text"] as? String == "first", "\(assigned.raw)")
        #expect((assigned.payload["unread_count"] as? Int) == 1, "\(assigned.raw)")
        let room = try #require(assigned.payload["room"] as? [String: Any], "\(assigned.raw)")
        #expect(room["id"].asID == annRoom && room["channel"] as? String == "tg")
        #expect((room["contact"] as? [String: Any])?["name"] as? String == "Ann", "\(assigned.raw)")
        #expect(annStream.events.contains { $0.type == "message.created" && $0.payload["direction"] as? String == "outbound" })
        #expect(supervisorStream.events.contains { $0.type == "room.created" })
        try await eventually("bo's online event") {
            supervisorStream.events.contains { $0.type == "agent.online" && $0.payload["agent_id"].asID == bo.id }
        }
        #expect(annStream.statusCode == 200)
        // Ids only increase.
        let ids = supervisorStream.events.map { $0.id.flatMap(Int64.init) }
        #expect(!ids.contains(nil), "every event has an id")
        #expect(ids == ids.sorted { ($0 ?? 0) < ($1 ?? 0) } && Set(ids).count == ids.count)

        // The supervisor resolves Ann's room: she is told.
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(annRoom)/resolve", token: supervisorToken)
        try await eventually("ann to see the resolve") { annStream.events.contains { $0.type == "room.resolved" } }
        for stream in [annStream, supervisorStream, boStream] { stream.close() }
        await daemon.stop()
        await fake.stop()
    }

    @Test("the resume buffer is bounded in bytes: past max_event_buffer_bytes the oldest events go, and a resume from them gets stream.reset")
    func resumeBufferBytes() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.maxEventBufferBytes = 65536
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let first = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("subscribed") { daemon.daemon.live.subscriberCount == 1 }
        _ = try await daemon.postUpdate(telegramUpdate(1, chat: 1, text: "the first"))
        try await eventually("the first message") { first.events.contains { $0.type == "message.created" } }
        let firstID = try #require(first.events.last?.id)
        first.close()
        // 100 messages of 2 KB: about three times the budget.
        let text = String(repeating: "x", count: 2048)
        for id in 2...101 { _ = try await daemon.postUpdate(telegramUpdate(id, chat: Int64(id % 10 + 1), text: text)) }
        let resumed = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)", "Last-Event-ID": firstID])
        defer { resumed.close() }
        try await eventually("stream.reset: the resume point was dropped to keep the budget") { resumed.events.contains { $0.type == "stream.reset" } }
        let replayed = resumed.events.filter { $0.type == "message.created" }.count
        #expect(replayed > 0 && replayed < 100, "the newest events are kept, not all of them: \(replayed)")
        #expect(throws: ConfigurationError.self) {
            var configuration = DaemonConfiguration()
            configuration.maxEventBufferBytes = 1000
            try configuration.validate(source: "test")
        }
    }

    @Test("Last-Event-ID resumes without gaps or repeats; a resume point too old gets stream.reset; no token gets 401")
    func resume() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let first = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("subscribed") { daemon.daemon.live.subscriberCount == 1 }
        for id in 1...3 { _ = try await daemon.postUpdate(telegramUpdate(id, chat: Int64(id))) }
        try await eventually("three messages") { first.events.filter { $0.type == "message.created" }.count == 3 }
        let lastSeen = try #require(first.events.last?.id, "\(first.events.map { "\($0.id ?? "nil") \($0.type)" })")
        first.close()  // the server notices at its next write

        for id in 4...6 { _ = try await daemon.postUpdate(telegramUpdate(id, chat: Int64(id))) }
        let second = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)", "Last-Event-ID": lastSeen])
        try await eventually("the missed messages replayed") { second.events.filter { $0.type == "message.created" }.count == 3 }
        let replayed = second.events.filter { $0.type == "message.created" }.compactMap { $0.payload["text"] as? String }
        #expect(replayed.count == 3)
        #expect(second.events.compactMap { $0.id.flatMap(Int64.init) }.allSatisfy { $0 > Int64(lastSeen)! })
        #expect(!second.events.contains { $0.type == "stream.reset" })
        // Live events keep coming after the replay.
        _ = try await daemon.postUpdate(telegramUpdate(7, chat: 7))
        try await eventually("a live message after the replay") { second.events.filter { $0.type == "message.created" }.count == 4 }
        second.close()

        let stale = try SSEClient(port: daemon.port, path: "/api/v1/events?last_event_id=1", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("stream.reset") { stale.events.contains { $0.type == "stream.reset" } }
        stale.close()

        #expect(try await call("GET", "\(daemon.base)/api/v1/events").status == 401)
        #expect(try await call("GET", "\(daemon.base)/api/v1/events?last_event_id=abc", token: token).status == 422)
        // Stopping with a stream open is prompt: the stream ends first.
        let before = daemon.daemon.live.subscriberCount
        let open = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("subscribed") { daemon.daemon.live.subscriberCount == before + 1 }
        let clock = ContinuousClock()
        let started = clock.now
        await daemon.stop()
        #expect(started.duration(to: clock.now) < .seconds(5))
        open.close()
    }
}
