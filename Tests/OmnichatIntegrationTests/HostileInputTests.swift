import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A plain blocking socket, for requests no well-behaved client would send.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveTimeout: Double = 5, receiveBuffer: Int32? = nil) throws {
        guard let fd = connectLoopback(port: port, receiveBuffer: receiveBuffer) else { throw CancellationError() }
        self.fd = fd
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    @discardableResult
    func write(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { send(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// Everything until the peer closes or the receive timeout passes.
    func readAll() -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return (String(decoding: out, as: UTF8.self), true) }
            // A reset is the peer closing too (abruptly); a timeout is not.
            if n < 0 { return (String(decoding: out, as: UTF8.self), errno == ECONNRESET) }
            out += buffer[0..<n]
        }
    }

    private var closed = false
    func hangUp() {
        guard !closed else { return }
        closed = true
        close(fd)
    }

    deinit { hangUp() }
}

@Suite("Hostile input over HTTP", .serialized)
struct HostileInputTests {
    static let secret = [(name: "X-Telegram-Bot-Api-Secret-Token", value: "test-secret")]

    @Test("limits: nesting depth, events per request and a channel's own body limit answer 4xx naming the problem")
    func limits() async throws {
        let lineDropIn = "kind = \"line\"\nchannel_access_token = \"LINE-TOKEN-123\"\nchannel_secret = \"line-secret\"\napi_base = \"http://127.0.0.1:9\"\n"
        let daemon = try TestDaemon(channels: [
            "tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9"),
            "small": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9") + "\nmax_body_bytes = 2048\n",
            "line": lineDropIn,
        ])
        try await daemon.start()
        defer { daemon.cleanUp() }

        let deep = Data((#"{"update_id":1,"x":"# + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}").utf8)
        let nested = try await call("POST", daemon.base + "/webhooks/tg", body: deep, headers: Self.secret)
        #expect(nested.status == 400)
        #expect(nested.text.contains("nested deeper than 32 levels"), "\(nested.text)")

        let event: [String: Any] = [
            "type": "message", "mode": "active", "timestamp": 1_700_000_000_000, "source": ["type": "user", "userId": "U1"],
            "webhookEventId": "E", "deliveryContext": ["isRedelivery": false], "message": ["id": "1", "type": "text", "text": "hi"],
        ]
        let many = (0...1000).map { i -> [String: Any] in
            var copy = event
            copy["webhookEventId"] = "E\(i)"
            return copy
        }
        let body = jsonData(["destination": "Ubot", "events": many])
        let batch = try await call("POST", daemon.base + "/webhooks/line", body: body, headers: [("X-Line-Signature", hmacBase64("line-secret", body))])
        #expect(batch.status == 400)
        #expect(batch.text.contains("1001 events in one request"), "\(batch.text)")
        #expect(try await daemon.store.countMessages() == 0)

        let big = telegramUpdate(7, text: String(repeating: "a", count: 4000))
        let tooLarge = try await call("POST", daemon.base + "/webhooks/small", body: big, headers: Self.secret)
        #expect(tooLarge.status == 413)
        #expect(tooLarge.text.contains("larger than 2048 bytes"))
        #expect(try await call("POST", daemon.base + "/webhooks/tg", body: big, headers: Self.secret).status == 200, "the global limit is larger")
        await daemon.stop()
    }

    @Test("slow senders: a trickling body or head has its connection closed; others are served meanwhile")
    func slowSenders() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.bodyTimeoutSeconds = 1
            $0.idleTimeoutSeconds = 2.5
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let port = daemon.port
        let clock = ContinuousClock()

        // Slow body: the head in full, then a byte every 200 ms.
        let slowBody = try RawConnection(port: port)
        slowBody.write("POST /webhooks/tg HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: test-secret\r\nContent-Length: 500\r\n\r\n{")
        let trickle = Task.detached {
            for _ in 0..<40 {
                guard slowBody.write(" ") else { return }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        // Slow head: a header line that never ends.
        let slowHead = try RawConnection(port: port)
        slowHead.write("POST /webhooks/tg HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        let headTrickle = Task.detached {
            for _ in 0..<40 {
                guard slowHead.write("a") else { return }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        // Meanwhile the server answers others at once.
        let started = clock.now
        #expect(try await call("POST", daemon.base + "/webhooks/tg", body: telegramUpdate(1), headers: Self.secret).status == 200)
        #expect(clock.now - started < .milliseconds(900))

        let bodyAnswer = await Task.detached { slowBody.readAll() }.value
        #expect(bodyAnswer.closed, "the trickling body's connection was closed")
        #expect(!bodyAnswer.text.contains("200 OK"), "\(bodyAnswer.text.prefix(200))")
        #expect(clock.now - started < .seconds(4), "the slow body held its request \(clock.now - started)")
        #expect(try await call("GET", daemon.base + "/metrics").text.contains("omnichat_http_slow_bodies 1"))
        let headAnswer = await Task.detached { slowHead.readAll() }.value
        #expect(headAnswer.closed, "the trickling head's connection was closed")
        #expect(clock.now - started < .seconds(8))
        trickle.cancel()
        headTrickle.cancel()
        #expect(try await daemon.store.countMessages() == 1)
        await daemon.stop()
    }

    @Test("past max_connections a new connection is closed on accept; the open ones are still served")
    func connectionCap() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.maxConnections = 3
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let held = try (0..<3).map { _ in try RawConnection(port: daemon.port, receiveTimeout: 3) }
        try await Task.sleep(for: .milliseconds(200))
        let extra = try RawConnection(port: daemon.port, receiveTimeout: 3)
        extra.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = await Task.detached { extra.readAll() }.value
        #expect(refused.closed && refused.text.isEmpty, "the fourth connection was served: \(refused.text.prefix(100))")
        // An open one is still answered.
        held[0].write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = await Task.detached { held[0].readAll() }.value
        #expect(answer.text.hasPrefix("HTTP/1.1 200"))
        // Once a connection closes (the server half-closed it; the client hangs up), a new one is admitted.
        held[0].hangUp()
        try await eventually("a slot frees") { (try? await call("GET", daemon.base + "/healthz"))?.status == 200 }
        let metrics = try await call("GET", daemon.base + "/metrics").text
        #expect(metrics.contains("omnichat_http_connections_refused"))
        await daemon.stop()
    }

    @Test("request smuggling: Content-Length with Transfer-Encoding is refused; nothing hidden in the body is run")
    func smuggling() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let inner = String(decoding: telegramUpdate(2), as: UTF8.self)
        let smuggled = "POST /webhooks/tg HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: test-secret\r\nContent-Type: application/json\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)"
        let connection = try RawConnection(port: daemon.port)
        connection.write(
            "POST /webhooks/tg HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nX-Telegram-Bot-Api-Secret-Token: test-secret\r\n\r\n0\r\n\r\n"
                + smuggled)
        let answer = await Task.detached { connection.readAll() }.value
        #expect(answer.text.hasPrefix("HTTP/1.1 400") || answer.text.isEmpty, "\(answer.text.prefix(200))")
        #expect(!answer.text.contains("\"stored\""), "the smuggled request was not served")
        #expect(try await daemon.store.countMessages() == 0)
        await daemon.stop()
    }

    @Test("a custom-channel request replayed outside the timestamp window is refused")
    func replay() async throws {
        let daemon = try TestDaemon(channels: ["acme": "kind = \"custom\"\nsecret = \"custom-secret\"\nwebhook_url = \"http://127.0.0.1:9/hook\"\n"])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let body = jsonData(["event_id": "evt-1", "user": ["id": "u1"], "message": ["type": "text", "text": "hi"]])
        let old = String(Int(Date().timeIntervalSince1970) - 3600)
        let signature = "sha256=" + hmacHex("custom-secret", Data("\(old).".utf8) + body)
        let answer = try await call(
            "POST", daemon.base + "/webhooks/acme", body: body,
            headers: [("X-Omnichat-Timestamp", old), ("X-Omnichat-Signature", signature), ("Content-Type", "application/json")])
        #expect(answer.status == 401)
        #expect(answer.text.contains("timestamp"), "\(answer.text)")
        #expect(try await daemon.store.countMessages() == 0)
        await daemon.stop()
    }
}

/// The adapters' fuzzing (`FuzzTests`) through the real route: mutated bodies
/// of every network, signed so they reach the parser, POSTed to the daemon.
/// Every answer is 2xx or a 4xx whose JSON error names the problem; never a
/// 5xx, never a hang, and the daemon still answers afterwards.
@Suite("Fuzz over HTTP", .bothEngines)
struct HTTPFuzzTests {
    static var cases: Int { Int(ProcessInfo.processInfo.environment["OMNICHAT_FUZZ_ITERATIONS"] ?? "").map { $0 / 10 } ?? 40 }

    @Test("a message with a NUL character is stored on every engine (PostgreSQL text cannot hold one: U+FFFD there)")
    func nulCharacter() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let answer = try await daemon.postUpdate(telegramUpdate(1, text: "before\u{0}after"))
        #expect(answer.status == 200, "\(answer.text)")
        #expect(try await daemon.postUpdate(telegramUpdate(1, text: "before\u{0}after")).status == 200, "a redelivery is acknowledged")
        #expect(try await daemon.store.countMessages() == 1)
        await daemon.stop()
    }

    @Test("mutated, signed webhooks of every network: 2xx or a 4xx with a message", arguments: networkCases.map(\.name) + ["telegram"])
    func fuzz(_ name: String) async throws {
        let fake = FakeNetwork()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let network = networkCases.first { $0.name == name }
        let dropIn = network?.dropIn(fake.baseURL) ?? TestDaemon.telegramChannel(apiBase: fake.baseURL)
        let daemon = try TestDaemon(channels: [name: dropIn])
        try await daemon.start()
        defer { daemon.cleanUp() }
        var rng = SystemRandomNumberGenerator()
        var statuses: [Int: Int] = [:]
        for i in 0..<Self.cases {
            let (seed, baseHeaders) = network?.inbound("fuzz \(i)", "cust-\(i % 7)", i)
                ?? (telegramUpdate(i), [(name: "X-Telegram-Bot-Api-Secret-Token", value: "test-secret")])
            var body = [UInt8](seed)
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !body.isEmpty {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: body[Int.random(in: 0..<body.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: body.removeSubrange(Int.random(in: 0..<body.count, using: &rng)..<body.count)
                case 2: body.insert(contentsOf: Array(["null", "[[[[", "\"\\u0000\"", "-1e999", "{}"].randomElement(using: &rng)!.utf8), at: Int.random(in: 0...body.count, using: &rng))
                default: body = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "\"text\"", with: "\"text\":{},\"x\"").utf8.map { $0 }
                }
            }
            let data = Data(body)
            // Re-sign the mutated bytes as the network would, so the parser is reached.
            let headers = resign(name, data, baseHeaders)
            let answer = try await call("POST", "\(daemon.base)/webhooks/\(name)", body: data, headers: headers)
            statuses[answer.status, default: 0] += 1
            #expect(answer.status < 500, "\(name) case \(i) answered \(answer.status): \(answer.text.prefix(200))")
            if answer.status >= 400 {
                let message = (answer["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(!message.isEmpty, "\(name) case \(i): a \(answer.status) without a message")
            }
        }
        #expect(try await call("GET", daemon.base + "/healthz").status == 200)
        print("http fuzz \(name): \(statuses.sorted { $0.key < $1.key })")
        await daemon.stop()
    }

    func resign(_ name: String, _ body: Data, _ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var out = headers.filter { !["x-hub-signature-256", "x-line-signature", "x-omnichat-signature", "x-omnichat-timestamp"].contains($0.name.lowercased()) }
        switch name {
        case "messenger", "whatsapp": out.append(("X-Hub-Signature-256", "sha256=" + hmacHex("meta-secret", body)))
        case "line": out.append(("X-Line-Signature", hmacBase64("line-secret", body)))
        case "custom":
            let timestamp = String(Int(Date().timeIntervalSince1970))
            out.append(("X-Omnichat-Timestamp", timestamp))
            out.append(("X-Omnichat-Signature", "sha256=" + hmacHex("custom-secret", Data("\(timestamp).".utf8) + body)))
        default: break
        }
        return out
    }
}
