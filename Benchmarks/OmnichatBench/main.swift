// The load generator of the benchmarks (Benchmarks/run.sh drives it). It
// sends through libcurl (our CurlTransport, keep-alive), so the daemon and
// the bare baseline server are measured by the same client in the same run.
//
//   omnichat-bench ingest URL --concurrency N --seconds S        closed loop, mixed networks
//   omnichat-bench ingest URL --rate R --seconds S               fixed rate (open loop)
//   omnichat-bench e2e DAEMON FAKE --rate R --seconds S          webhook → SSE, reply → network
//   omnichat-bench outbound URL --concurrency N --seconds S      POSTs as deliveries would
//   omnichat-bench parse [--seconds S]                           each adapter's verify + parse, no I/O
//
// Signed requests for every network use the secrets of Benchmarks/adapters.d.
import Crypto
import Foundation
import OmnichatAdapters
import OmnichatCore
import OmnichatDelivery

#if canImport(Glibc)
import Glibc
#endif

// MARK: Arguments

let argv = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? { argv.firstIndex(of: "--\(name)").flatMap { argv.indices.contains($0 + 1) ? argv[$0 + 1] : nil } }
let mode = argv.first ?? "ingest"
let positional = argv.dropFirst().prefix { !$0.hasPrefix("--") }.map { $0 }
let seconds = Double(option("seconds") ?? "10") ?? 10
let concurrency = Int(option("concurrency") ?? "0") ?? 0
let rate = Double(option("rate") ?? "0") ?? 0
let runID = Int(option("run") ?? "") ?? Int(Date().timeIntervalSince1970) % 100_000

func nowNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

final class Stats: @unchecked Sendable {
    private let lock = NSLock()
    private var latencies: [Double] = []
    private(set) var ok = 0
    private(set) var failed = 0
    func record(_ ms: Double, ok good: Bool) {
        lock.withLock {
            latencies.append(ms)
            if good { ok += 1 } else { failed += 1 }
        }
    }
    var counts: (ok: Int, failed: Int) { lock.withLock { (ok, failed) } }
    func percentiles() -> (p50: Double, p99: Double, p999: Double, max: Double) {
        let sorted = lock.withLock { latencies.sorted() }
        func p(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return (p(0.5), p(0.99), p(0.999), sorted.last ?? 0)
    }
}

func format(_ v: Double) -> String { String(format: "%.2f", v) }

// MARK: Signed webhooks, one network after another

func hmac(_ key: String, _ data: Data) -> Data { Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Data(key.utf8)))) }
func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object) }

/// Request `n` of the mix: Telegram, Messenger, WhatsApp, LINE, custom in turn; unique event ids.
func webhook(_ base: String, _ n: Int, text: String) -> HTTPRequestDescription {
    let id = runID * 100_000_000 + n
    let customer = "c\(n % 1000)"
    let ms = Int(Date().timeIntervalSince1970 * 1000)
    switch n % 5 {
    case 0:
        let body = json([
            "update_id": id,
            "message": ["message_id": id, "date": ms / 1000, "text": text, "chat": ["id": 1000 + n % 1000, "type": "private", "first_name": "Bench"],
                        "from": ["id": 1000 + n % 1000, "is_bot": false, "first_name": "Bench"]] as [String: Any],
        ])
        return .init(method: "POST", url: base + "/webhooks/telegram", headers: [("Content-Type", "application/json"), ("X-Telegram-Bot-Api-Secret-Token", "bench-secret")], body: body)
    case 1:
        let body = json(["object": "page", "entry": [["id": "PAGE1", "time": ms, "messaging": [[
            "sender": ["id": customer], "recipient": ["id": "PAGE1"], "timestamp": ms, "message": ["mid": "m_\(id)", "text": text]]]]]])
        return .init(method: "POST", url: base + "/webhooks/messenger", headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", "sha256=" + hex(hmac("bench-meta-secret", body)))], body: body)
    case 2:
        let body = json(["object": "whatsapp_business_account", "entry": [["id": "WABA", "changes": [["field": "messages", "value": [
            "messaging_product": "whatsapp", "metadata": ["display_phone_number": "15550000000", "phone_number_id": "106540352242922"],
            "contacts": [["profile": ["name": "Bench"], "wa_id": customer]],
            "messages": [["from": customer, "id": "wamid.\(id)", "timestamp": String(ms / 1000), "type": "text", "text": ["body": text]]],
        ] as [String: Any]]]]]])
        return .init(method: "POST", url: base + "/webhooks/whatsapp", headers: [("Content-Type", "application/json"), ("X-Hub-Signature-256", "sha256=" + hex(hmac("bench-meta-secret", body)))], body: body)
    case 3:
        let body = json(["destination": "Ubot", "events": [[
            "type": "message", "mode": "active", "timestamp": ms, "source": ["type": "user", "userId": "U" + customer],
            "webhookEventId": "01BENCH\(id)", "deliveryContext": ["isRedelivery": false], "replyToken": "rt\(id)",
            "message": ["id": "\(id)", "type": "text", "text": text, "quoteToken": "q"]] as [String: Any]]])
        return .init(method: "POST", url: base + "/webhooks/line", headers: [("Content-Type", "application/json"), ("X-Line-Signature", hmac("bench-line-secret", body).base64EncodedString())], body: body)
    default:
        let body = json(["event_id": "evt-\(id)", "user": ["id": customer, "name": "Bench"], "message": ["type": "text", "text": text]])
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = "sha256=" + hex(hmac("bench-custom-secret", Data("\(timestamp).".utf8) + body))
        return .init(method: "POST", url: base + "/webhooks/custom", headers: [("Content-Type", "application/json"), ("X-Omnichat-Timestamp", timestamp), ("X-Omnichat-Signature", signature)], body: body)
    }
}

// MARK: Drivers

let transport = CurlTransport(maxConnectionsPerHost: max(64, concurrency, Int(rate / 10)), maxTotalConnections: 0, userAgent: "omnichat-bench")

/// Closed loop: `workers` senders, each sending its next request when the last is answered.
func closedLoop(workers: Int, duration: Double, make: @escaping @Sendable (Int) -> HTTPRequestDescription) async -> (Stats, Double) {
    let stats = Stats()
    let counter = Counter()
    let clock = ContinuousClock()
    let start = clock.now
    let end = start + .milliseconds(Int64(duration * 1000))
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<workers {
            group.addTask {
                while clock.now < end {
                    let n = counter.next()
                    let sent = clock.now
                    let response = try? await transport.send(make(n), timeout: .seconds(10))
                    let ms = Double((clock.now - sent).components.attoseconds) / 1e15 + Double((clock.now - sent).components.seconds) * 1000
                    stats.record(ms, ok: response.map { (200..<300).contains($0.status) } ?? false)
                }
            }
        }
    }
    let elapsed = clock.now - start
    return (stats, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// Open loop: request i is due at start + i/rate; its latency counts from then
/// (so a slow answer cannot hide the requests it held back).
func openLoop(rate: Double, duration: Double, make: @escaping @Sendable (Int) -> HTTPRequestDescription) async -> Stats {
    let stats = Stats()
    let clock = ContinuousClock()
    let start = clock.now
    let total = Int(rate * duration)
    await withTaskGroup(of: Void.self) { group in
        for i in 0..<total {
            let due = start + .nanoseconds(Int64(Double(i) / rate * 1e9))
            if due > clock.now { try? await Task.sleep(until: due, clock: clock) }
            group.addTask {
                let response = try? await transport.send(make(i), timeout: .seconds(10))
                let took = clock.now - due
                stats.record(Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15, ok: response.map { (200..<300).contains($0.status) } ?? false)
            }
        }
    }
    return stats
}

final class PerBase: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Int]
    init(count: Int) { counts = Array(repeating: 0, count: count) }
    func add(_ index: Int) { lock.withLock { counts[index] += 1 } }
    var values: [Int] { lock.withLock { counts } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
}

func report(_ label: String, _ stats: Stats, seconds: Double) {
    let (ok, failed) = stats.counts
    let p = stats.percentiles()
    print("\(label): ok=\(ok) failed=\(failed) rate=\(format(Double(ok) / seconds))/s p50=\(format(p.p50))ms p99=\(format(p.p99))ms p99.9=\(format(p.p999))ms max=\(format(p.max))ms")
}

// MARK: Server-Sent Events over a plain socket

final class EventReader: @unchecked Sendable {
    let stats = Stats()
    private let fd: Int32
    init(port: Int, token: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw CancellationError() }
        let request = "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nAuthorization: Bearer \(token)\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        Thread { [self] in read() }.start()
    }
    /// Every `message.created` whose text carries t=<ns> is a sample.
    private func read() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var pending: [UInt8] = []
        let marker = Array("t=".utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            let now = nowNanos()
            pending += buffer[0..<n]
            // Scan complete lines only.
            guard let lastNewline = pending.lastIndex(of: 10) else { continue }
            let lines = pending[...lastNewline].split(separator: 10)
            pending = Array(pending[(lastNewline + 1)...])
            for line in lines where line.starts(with: Array("data:".utf8)) {
                let bytes = Array(line)
                guard bytes.count > 10, let at = (0..<(bytes.count - 1)).first(where: { bytes[$0] == marker[0] && bytes[$0 + 1] == marker[1] }) else { continue }
                var value: Int64 = 0
                var i = at + 2
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { value = value * 10 + Int64(bytes[i] - 48); i += 1 }
                // Only inbound messages (replies carry "r t=").
                if at >= 2, bytes[at - 2] == UInt8(ascii: "r") { continue }
                stats.record(Double(now - value) / 1e6, ok: true)
            }
        }
    }
}

// MARK: Modes

switch mode {
case "ingest":
    // Several daemons: comma-separated bases, requests spread over them in turn.
    let bases = (positional.first ?? "http://127.0.0.1:18080").split(separator: ",").map(String.init)
    let sent = PerBase(count: bases.count)
    let make: @Sendable (Int) -> HTTPRequestDescription = { n in
        sent.add(n % bases.count)
        return webhook(bases[n % bases.count], n, text: "bench \(n)")
    }
    if rate > 0 {
        let stats = await openLoop(rate: rate, duration: seconds, make: make)
        report("ingest fixed-rate \(Int(rate))/s" + (bases.count > 1 ? " over \(bases.count) daemons" : ""), stats, seconds: seconds)
    } else {
        let (stats, elapsed) = await closedLoop(workers: max(1, concurrency), duration: seconds, make: make)
        report("ingest saturation c=\(concurrency)" + (bases.count > 1 ? " over \(bases.count) daemons" : ""), stats, seconds: elapsed)
        if bases.count > 1 { print("per daemon (requests sent): \(sent.values.map { format(Double($0) / elapsed) + "/s" }.joined(separator: " "))") }
    }
case "parse":
    // The CPU one webhook costs in its adapter (signature check and payload
    // decoding into events), per network, on this thread: the part of ingest
    // that is ours and not the HTTP server's or the store's.
    let adapters: [(String, any ChannelAdapter)] = [
        ("telegram", TelegramAdapter(channelID: "telegram", configuration: .init(token: "123456:bench-token", secretToken: "bench-secret"))),
        ("messenger", MessengerAdapter(channelID: "messenger", configuration: .init(pageAccessToken: "t", appSecret: "bench-meta-secret", verifyToken: "v"))),
        ("whatsapp", WhatsAppAdapter(channelID: "whatsapp", configuration: .init(accessToken: "t", phoneNumberID: "106540352242922", appSecret: "bench-meta-secret", verifyToken: "v"))),
        ("line", LINEAdapter(channelID: "line", configuration: .init(channelAccessToken: "t", channelSecret: "bench-line-secret"))),
        ("custom", CustomAdapter(channelID: "custom", configuration: .init(secret: "bench-custom-secret", webhookURL: "http://127.0.0.1:1/hook"))),
    ]
    let perNetwork = max(0.2, seconds / 5)
    for (index, (name, adapter)) in adapters.enumerated() {
        let requests = (0..<1000).map { i -> WebhookRequest in
            let r = webhook("", i * 5 + index, text: "bench \(i)")
            return WebhookRequest(headers: r.headers, body: r.body)
        }
        var events = 0
        var parsed = 0
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int64(perNetwork * 1000))
        while clock.now < end {
            for request in requests {
                try adapter.verify(request)
                events += try adapter.parse(request).count
            }
            parsed += requests.count
        }
        let elapsed = clock.now - start
        let micros = (Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12) / Double(parsed)
        print("parse \(name): \(format(micros)) µs per webhook (verify + parse), \(parsed) webhooks, \(events) events")
    }
case "outbound":
    let base = positional.first ?? "http://127.0.0.1:18200"
    let body = Data(#"{"chat_id":1,"text":"hello from the bench"}"#.utf8)
    let (stats, elapsed) = await closedLoop(workers: max(1, concurrency), duration: seconds) { _ in
        .init(method: "POST", url: base + "/bot123:abc/sendMessage", headers: [("Content-Type", "application/json")], body: body)
    }
    report("outbound c=\(concurrency)", stats, seconds: elapsed)
case "e2e":
    // Several daemons: comma-separated; the live events are read on the first,
    // webhooks and replies go to each in turn (most events cross daemons).
    let daemons = (positional.first ?? "http://127.0.0.1:18080").split(separator: ",").map(String.init)
    let daemon = daemons[0]
    let fake = positional.dropFirst().first ?? "http://127.0.0.1:18200"
    let password = option("password") ?? "bench-password"
    let login = try await transport.send(
        .init(method: "POST", url: daemon + "/api/v1/auth/login", headers: [("Content-Type", "application/json")],
              body: json(["email": "admin@localhost", "password": password])), timeout: .seconds(10))
    guard let token = ((try? JSONSerialization.jsonObject(with: login.body)) as? [String: Any])?["token"] as? String else {
        print("e2e: login failed (\(login.status))"); exit(1)
    }
    let port = Int(daemon.split(separator: ":").last ?? "0") ?? 0
    let events = try EventReader(port: port, token: token)
    try await Task.sleep(for: .milliseconds(300))
    // Inbound: webhooks of every network in turn at the rate; the sample is webhook sent → event read.
    let inbound = await openLoop(rate: rate, duration: seconds) { n in webhook(daemons[n % daemons.count], n, text: "in t=\(nowNanos())") }
    try await Task.sleep(for: .milliseconds(500))
    report("e2e webhook acknowledged", inbound, seconds: seconds)
    report("e2e webhook → live event", events.stats, seconds: seconds)
    // Outbound: replies to the rooms just made, at the rate; the fake network times the arrival.
    let rooms = try await transport.send(.init(method: "GET", url: daemon + "/api/v1/rooms?limit=200", headers: [("Authorization", "Bearer \(token)")]), timeout: .seconds(10))
    let ids = (((try? JSONSerialization.jsonObject(with: rooms.body)) as? [String: Any])?["rooms"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
    guard !ids.isEmpty else { print("e2e: no rooms"); exit(1) }
    _ = try? await transport.send(.init(method: "POST", url: fake + "/stats/reset"), timeout: .seconds(5))
    let replies = await openLoop(rate: rate, duration: seconds) { n in
        .init(method: "POST", url: daemons[n % daemons.count] + "/api/v1/rooms/\(ids[n % ids.count])/messages",
              headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(token)")], body: json(["text": "r t=\(nowNanos())"]))
    }
    try await Task.sleep(for: .seconds(2))
    report("e2e reply accepted", replies, seconds: seconds)
    let stats = try await transport.send(.init(method: "GET", url: fake + "/stats"), timeout: .seconds(5))
    print("e2e reply → network: \(String(decoding: stats.body, as: UTF8.self))")
default:
    print("unknown mode \(mode)")
    exit(2)
}
await transport.shutdown()
