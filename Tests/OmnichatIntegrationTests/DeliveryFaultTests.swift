import Foundation
import OmnichatCore
import OmnichatDelivery
import Testing

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    let t0 = Date(timeIntervalSince1970: 1_000)

    @Test func opensAfterTheThresholdAndProbesAfterTheCooldown() {
        var breaker = CircuitBreaker(threshold: 3, cooldown: 10, maxCooldown: 25)
        var steps: [Bool] = []
        steps.append(breaker.record(success: false, now: t0))  // false: 1 failure
        steps.append(breaker.record(success: false, now: t0))  // false: 2 failures
        steps.append(breaker.allows(now: t0, inFlight: 5))  // true: still closed
        steps.append(breaker.record(success: false, now: t0))  // true: the third failure opens it
        steps.append(breaker.allows(now: t0.addingTimeInterval(9), inFlight: 0))  // false: cooling down
        steps.append(breaker.allows(now: t0.addingTimeInterval(10), inFlight: 0))  // true: one probe
        steps.append(breaker.allows(now: t0.addingTimeInterval(10), inFlight: 1))  // false: one probe at a time
        breaker.record(success: false, now: t0.addingTimeInterval(11))  // the probe failed: 20 s now
        steps.append(breaker.allows(now: t0.addingTimeInterval(11 + 19), inFlight: 0))  // false
        steps.append(breaker.allows(now: t0.addingTimeInterval(11 + 20), inFlight: 0))  // true
        steps.append(breaker.record(success: true, now: t0.addingTimeInterval(32)))  // true: a good probe closes it
        steps.append(breaker.allows(now: t0.addingTimeInterval(32), inFlight: 100))  // true: closed
        #expect(steps == [false, false, true, true, false, true, false, false, true, true, true])
        #expect(breaker.state == .closed)
    }

    @Test func theCooldownIsCapped() {
        var breaker = CircuitBreaker(threshold: 1, cooldown: 10, maxCooldown: 25)
        breaker.record(success: false, now: t0)
        var now = t0
        var probes: [Bool] = []
        for _ in 0..<5 {
            now = now.addingTimeInterval(100)
            probes.append(breaker.allows(now: now, inFlight: 0))
            breaker.record(success: false, now: now)
        }
        #expect(probes == [true, true, true, true, true])
        #expect(breaker.state == .open(until: now.addingTimeInterval(25)))
    }
}

@Suite("Outbound faults", .serialized, .bothEngines)
struct DeliveryFaultTests {
    @Test("a hanging network does not hold up another channel; its circuit opens and shows in metrics")
    func slowChannelIsolated() async throws {
        let slow = FakeNetwork()
        slow.defaultAnswer = { _, n in .init(status: 200, body: #"{"ok":true,"result":{"message_id":\#(n)}}"#, delay: .seconds(3)) }
        try await slow.start()
        let fast = FakeNetwork()
        try await fast.start()
        let daemon = try TestDaemon(
            channels: [
                "slow": TestDaemon.telegramChannel(apiBase: slow.baseURL), "fast": TestDaemon.telegramChannel(apiBase: fast.baseURL),
            ],
            configure: {
                $0.deliveryTimeoutSeconds = 1
                $0.deliveryConcurrency = 4
                $0.deliveryPerChannelConcurrency = 2
                $0.deliveryCircuitThreshold = 3
                $0.deliveryCircuitCooldownSeconds = 60
            })
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "ann@example.com", maxOpenRooms: 50)
        var slowRooms: [Int64] = []
        for chat in 1...6 {
            _ = try await daemon.postUpdate(telegramUpdate(chat, chat: Int64(chat)), channel: "slow")
        }
        try await eventually("six slow rooms") {
            slowRooms = (try await call("GET", "\(daemon.base)/api/v1/rooms?channel=slow&status=assigned", token: token)["rooms"] as? [[String: Any]] ?? [])
                .compactMap { $0["id"].asID }
            return slowRooms.count == 6
        }
        for room in slowRooms {
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/messages", json: ["text": "to the slow network"], token: token)
        }
        try await eventually("the slow network busy") { slow.calls.count >= 2 }

        _ = try await daemon.postUpdate(telegramUpdate(100, chat: 100), channel: "fast")
        var fastRoom: Int64 = 0
        try await eventually("the fast room") {
            fastRoom = ((try await call("GET", "\(daemon.base)/api/v1/rooms?channel=fast", token: token)["rooms"] as? [[String: Any]])?.first?["id"].asID) ?? 0
            return !fastRoom.isEmpty
        }
        let clock = ContinuousClock()
        let sent = clock.now
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(fastRoom)/messages", json: ["text": "to the fast network"], token: token)
        try await eventually("the fast reply delivered") { !fast.calls(to: "sendMessage").isEmpty }
        #expect(sent.duration(to: clock.now) < .milliseconds(800), "the fast channel did not wait for the slow one's timeouts")
        #expect(slow.calls.count <= 4, "at most its share of slots went to the slow network at once")

        try await eventually(timeout: .seconds(15), "the slow channel's circuit to open") {
            try await call("GET", "\(daemon.base)/metrics").text.contains(#"omnichat_delivery_circuit_open{channel="slow"} 1"#)
        }
        let metrics = try await call("GET", "\(daemon.base)/metrics").text
        #expect(metrics.contains(#"omnichat_delivery_retry_delay_seconds_count{channel="slow"}"#))
        // While open, the slow channel's replies wait without spending attempts.
        let attemptsSoFar = slow.calls.count
        try await Task.sleep(for: .seconds(1.5))
        #expect(slow.calls.count == attemptsSoFar)
        let pending = try await call("GET", "\(daemon.base)/api/v1/rooms/\(slowRooms[0])/messages", token: token)
        #expect(((pending["messages"] as? [[String: Any]])?.last?["delivery"] as? [String: Any])?["status"] as? String == "pending")
        await daemon.stop()
        await slow.stop()
        await fast.stop()
    }
}
