// The baseline server of the benchmarks, a program of its own so it cannot
// slow down with the daemon: Hummingbird answering every request at once.
// It also stands in for a network's send API (Telegram's answer shape).
// With --record it reads "t=<unix nanoseconds>" out of each POST body and
// keeps the latency from then to its arrival; GET /stats returns percentiles.
//
//   bare-server [port] [--record]
import Foundation
import Hummingbird

let port = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 18200
let record = CommandLine.arguments.contains("--record")

final class Latencies: @unchecked Sendable {
    private let lock = NSLock()
    private var samples: [Double] = []
    func add(_ ms: Double) { lock.withLock { samples.append(ms) } }
    func stats() -> String {
        let sorted = lock.withLock { samples.sorted() }
        func p(_ q: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        return #"{"count":\#(sorted.count),"p50_ms":\#(p(0.5)),"p99_ms":\#(p(0.99)),"p999_ms":\#(p(0.999)),"max_ms":\#(sorted.last ?? 0)}"#
    }
    func reset() { lock.withLock { samples.removeAll() } }
}

let latencies = Latencies()
let answer = ByteBuffer(string: #"{"ok":true,"result":{"message_id":1}}"#)
let router = Router()
router.get("/stats") { _, _ in Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: latencies.stats()))) }
router.post("/stats/reset") { _, _ in
    latencies.reset()
    return Response(status: .ok)
}
let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
    if record {
        let now = Date().timeIntervalSince1970 * 1e9
        let body = try await request.body.collect(upTo: 1 << 20)
        let text = String(buffer: body)
        if let range = text.range(of: "t="), let end = text[range.upperBound...].firstIndex(where: { !$0.isNumber }) ?? Optional(text.endIndex),
            let sent = Double(text[range.upperBound..<end])
        {
            latencies.add((now - sent) / 1e6)
        }
    } else {
        for try await _ in request.body {}
    }
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: answer))
}
router.post("/**", use: handler)
router.get("/**", use: handler)
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bare"))
try await app.runService()
