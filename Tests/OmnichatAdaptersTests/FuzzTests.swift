import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

/// Hostile input, property-based: every adapter's signature check and parser
/// get mutated versions of the real-shaped fixtures, some signed correctly
/// (so the parser is reached) and some not. Whatever arrives, the adapter
/// either returns events or throws a `WebhookError` with a message; it never
/// crashes, never hangs. The generator is seeded, so a failure names the seed
/// that replays it. `OMNICHAT_FUZZ_ITERATIONS` sets the cases per adapter
/// (default 400; `make test-faults` runs 4,000).
@Suite("Fuzz: parsers and signature checks")
struct FuzzTests {
    static let maxBody = 1 << 20
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["OMNICHAT_FUZZ_ITERATIONS"] ?? "") ?? 400 }

    /// A small deterministic generator (SplitMix64).
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct Target: Sendable, CustomTestStringConvertible {
        var name: String
        var adapter: any ChannelAdapter
        var seeds: [Data]
        /// The request carrying `body`, signed as the network would (or not).
        var request: @Sendable (Data, _ signed: Bool) -> WebhookRequest
        var testDescription: String { name }
    }

    static func fixtures(_ folder: String) -> [Data] {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(folder)", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: url.path)
        else { return [] }
        return names.sorted().compactMap { try? Data(contentsOf: url.appendingPathComponent($0)) }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static let targets: [Target] = [
        Target(
            name: "telegram", adapter: telegram(), seeds: fixtures("telegram"),
            request: { body, signed in request(body, secret: signed ? "s3cret_token" : "wrong") }),
        Target(
            name: "messenger", adapter: messengerAdapter(), seeds: fixtures("messenger"),
            request: { body, signed in
                metaRequest(body, signature: signed ? "sha256=" + hex(HMACSHA256.mac(key: Data("test_app_secret".utf8), data: body)) : "sha256=00")
            }),
        Target(
            name: "whatsapp", adapter: whatsAppAdapter(), seeds: fixtures("whatsapp"),
            request: { body, signed in
                metaRequest(body, signature: signed ? "sha256=" + hex(HMACSHA256.mac(key: Data("test_app_secret".utf8), data: body)) : nil)
            }),
        Target(
            name: "line", adapter: lineAdapter(), seeds: fixtures("line"),
            request: { body, signed in
                lineRequest(body, signature: signed ? Data(HMACSHA256.mac(key: Data("test_channel_secret".utf8), data: body)).base64EncodedString() : "AAAA")
            }),
        Target(
            name: "custom", adapter: customAdapter(), seeds: [Data(CustomExample.body.utf8)],
            request: { body, signed in
                customRequest(String(decoding: body, as: UTF8.self), secret: signed ? CustomExample.secret : "other-secret")
            }),
    ]

    /// One mutation of `data`: byte-level or structure-aware.
    static func mutate(_ data: Data, _ rng: inout Seeded) -> Data {
        var bytes = [UInt8](data)
        switch Int.random(in: 0..<11, using: &rng) {
        case 0 where !bytes.isEmpty:  // flip bits
            for _ in 0..<Int.random(in: 1...8, using: &rng) { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
        case 1 where !bytes.isEmpty:  // cut
            let a = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(a..<min(bytes.count, a + Int.random(in: 1...64, using: &rng)))
        case 2 where !bytes.isEmpty:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
        case 3:  // insert interesting tokens
            let tokens = ["null", "[]", "{}", "\"\"", "-1", "1e309", "18446744073709551616", "\"\\u0000\"", "\"\\ud800\"", "true", ",", ":", "\u{FEFF}", "\"é\u{301}\""]
            let at = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &rng)
            bytes.insert(contentsOf: Array(tokens.randomElement(using: &rng)!.utf8), at: at)
        case 4:  // random bytes, invalid UTF-8 included
            bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 5:  // deep nesting
            let depth = [10, 100, 600, 5_000].randomElement(using: &rng)!
            bytes = Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        default:  // structure-aware: change values in the parsed tree
            guard let tree = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { break }
            let changed = mutateTree(tree, &rng, depth: 0)
            if let out = try? JSONSerialization.data(withJSONObject: changed, options: [.fragmentsAllowed]) { bytes = [UInt8](out) }
        }
        return Data(bytes)
    }

    static func mutateTree(_ node: Any, _ rng: inout Seeded, depth: Int) -> Any {
        let replacements: [Any] = [
            NSNull(), 0, -1, Int64.max, 1.5, "", String(repeating: "x", count: 5_000), "\u{0}", [Any](), [String: Any](), true,
            ["type": "text"], [["id": 1]],
        ]
        if Int.random(in: 0..<5, using: &rng) == 0 || depth > 12 { return replacements.randomElement(using: &rng)! }
        if let object = node as? [String: Any] {
            var out = object
            for key in object.keys where Bool.random(using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: out.removeValue(forKey: key)
                case 1: out[key] = replacements.randomElement(using: &rng)!
                default: out[key] = mutateTree(object[key]!, &rng, depth: depth + 1)
                }
            }
            return out
        }
        if let array = node as? [Any] {
            var out = array.map { mutateTree($0, &rng, depth: depth + 1) }
            if depth < 3, Bool.random(using: &rng), let first = out.first {
                // Many events in one request.
                out += Array(repeating: first, count: Int.random(in: 1...(depth == 0 ? 1200 : 20), using: &rng))
            }
            return out
        }
        return node
    }

    @Test("mutated requests: events or a clear 4xx error, never a crash or a hang", arguments: targets)
    func fuzz(_ target: Target) async throws {
        // A CPU-bound loop: run it on its own thread, not on the cooperative pool the
        // in-process daemons of other suites need for their timers.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                Self.run(target)
                done.resume()
            }.start()
        }
    }

    static func run(_ target: Target) {
        #expect(!target.seeds.isEmpty, "no fixtures for \(target.name)")
        let seed = UInt64(ProcessInfo.processInfo.environment["OMNICHAT_FUZZ_SEED"] ?? "") ?? 0x0C0FFEE
        var rng = Seeded(state: seed &+ UInt64(target.name.utf8.reduce(0) { $0 &* 31 &+ Int($1) }))
        var accepted = 0
        var refused: [WebhookError.Kind: Int] = [:]
        var slowest = Duration.zero
        for i in 0..<iterations {
            var body = target.seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                body = mutate(body, &rng)
                // The server refuses larger bodies (413) before any adapter sees them.
                if body.count > maxBody { body = body.prefix(maxBody) }
            }
            let signed = Int.random(in: 0..<10, using: &rng) != 0
            let request = target.request(body, signed)
            // The parser's own CPU time: wall time also counts the moments this
            // thread waits for a core, which the fault suites running beside it
            // on two cores made seconds long (a 2.4 s "slow case" that takes 0.09 s).
            let started = Self.threadCPUTime()
            do {
                try target.adapter.verify(request)
                let events = try target.adapter.parse(request)
                // What the webhook route applies to every adapter's events.
                try WebhookLimits.checkEvents(events)
                accepted += 1
                for event in events {
                    #expect(!event.eventID.isEmpty, "\(target.name) case \(i): an event without an id")
                }
            } catch {
                refused[error.kind, default: 0] += 1
                #expect(!error.message.isEmpty, "\(target.name) case \(i): a refusal without a message")
                #expect(!error.message.contains("s3cret_token") && !error.message.contains("test_app_secret"))
                if !signed { #expect(error.kind == .unauthorized, "\(target.name) case \(i): unsigned but \(error.kind)") }
            }
            let took = Self.threadCPUTime() - started
            slowest = max(slowest, took)
            #expect(took < .seconds(2), "\(target.name) case \(i) (seed \(seed)) took \(took)")
        }
        print(
            "fuzz \(target.name): cases=\(iterations) accepted=\(accepted) malformed=\(refused[.malformed] ?? 0) "
                + "unauthorized=\(refused[.unauthorized] ?? 0) slowest=\(slowest)")
        #expect(accepted + (refused[.malformed] ?? 0) + (refused[.unauthorized] ?? 0) == iterations)
    }

    /// CPU time this thread has used.
    static func threadCPUTime() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
}
