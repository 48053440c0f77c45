// Allocation benchmark: decisions per second and latency percentiles with
// 10,000 agents and 100,000 open rooms, and the cost of draining a queue of
// 10,000 waiting rooms. Baseline in the same run: reading one room by id
// through the same store (the floor under any decision).
//
//   swift run -c release allocation-bench [agents] [open-rooms] [decisions] [drain-rooms]
import Foundation
import GRDB
import Logging
import OmnichatCore
import OmnichatServer
import OmnichatStore

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let agentCount = arguments.count > 0 ? arguments[0] : 10_000
let openRooms = arguments.count > 1 ? arguments[1] : 100_000
let decisions = arguments.count > 2 ? arguments[2] : 2_000
let drainCount = arguments.count > 3 ? arguments[3] : 10_000

var logger = Logger(label: "bench")
logger.logLevel = .critical
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("omnichat-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: directory) }
let path = directory.appendingPathComponent("bench.db").path

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }

// Populate with plain SQL (the store's migrations first).
do {
    _ = try await SQLiteStore(path: path, synchronous: .off, logger: logger)
    let queue = try DatabaseQueue(path: path)
    let started = ContinuousClock.now
    try queue.write { db in
        let now = Date().timeIntervalSince1970
        let capacity = max(1, (openRooms + agentCount / 2) / agentCount + 2)  // room to spare for the decisions
        for i in 0..<agentCount {
            try db.execute(
                sql: "INSERT INTO users (id, email, name, role, password_hash, online, max_open_rooms, created_at, last_assigned_at) VALUES (?, ?, ?, 'agent', 'x', 1, ?, ?, ?)",
                arguments: [i + 1, "agent\(i)@bench", "Agent \(i)", capacity, now, now - Double(i)])
        }
        try db.execute(sql: "INSERT INTO contacts (id, channel_id, external_id, created_at, updated_at) VALUES (1, 'tg', 'bench', ?, ?)", arguments: [now, now])
        for r in 0..<openRooms {
            let agent = r % agentCount + 1
            try db.execute(
                sql: "INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, assignee_id, last_message_at, created_at) VALUES (?, 'tg', ?, 1, 'assigned', ?, ?, ?)",
                arguments: [r + 1, "open-\(r)", agent, now, now])
        }
        try db.execute(sql: "UPDATE users SET open_rooms = (SELECT count(*) FROM rooms WHERE assignee_id = users.id AND status = 'assigned')")
    }
    print("populated \(agentCount) agents, \(openRooms) open rooms in \(String(format: "%.1f", seconds(started.duration(to: .now)))) s")
}

let store = try await SQLiteStore(path: path, synchronous: .normal, logger: logger)
let routing = RoutingService(queue: WorkQueue(capacity: 10), store: store, defaultCapacity: { 10 }, metrics: nil, logger: logger)

func newWaitingRooms(_ count: Int, tag: String) async throws -> [Int64] {
    var ids: [Int64] = []
    for i in 0..<count {
        let event = InboundEvent(
            eventID: "\(tag)-\(i)", conversationID: "\(tag)-\(i)", contact: ContactProfile(externalID: "\(tag)-\(i)"), content: .text("x"),
            occurredAt: Date(), raw: "{}")
        ids += try await store.ingest(IngestBatch(channelID: "tg", events: [event])).roomIDs
    }
    return ids
}

// Baseline: one room read per operation.
let rooms = try await newWaitingRooms(decisions, tag: "decide")
var baseline: [Double] = []
for id in rooms {
    let t = ContinuousClock.now
    _ = try await store.room(id: id)
    baseline.append(seconds(t.duration(to: .now)))
}

// Decisions: a waiting room to the least busy eligible agent (read the room,
// read the load index, conditional assignment).
var latencies: [Double] = []
let decideStart = ContinuousClock.now
for id in rooms {
    let t = ContinuousClock.now
    await routing.route(roomID: id)
    latencies.append(seconds(t.duration(to: .now)))
}
let decideTotal = seconds(decideStart.duration(to: .now))
let assigned = try await store.countRooms(status: .assigned)
baseline.sort()
latencies.sort()
let rate = Double(rooms.count) / decideTotal
let baseRate = Double(baseline.count) / baseline.reduce(0, +)
print("baseline (read one room):  \(String(format: "%.0f", baseRate)) ops/s  p50 \(String(format: "%.3f", percentile(baseline, 0.5) * 1000)) ms  p99 \(String(format: "%.3f", percentile(baseline, 0.99) * 1000)) ms")
print("allocation decisions:      \(String(format: "%.0f", rate)) decisions/s  p50 \(String(format: "%.3f", percentile(latencies, 0.5) * 1000)) ms  p99 \(String(format: "%.3f", percentile(latencies, 0.99) * 1000)) ms")
print("ratio decisions / baseline: \(String(format: "%.1f%%", rate / baseRate * 100))")
print("rooms assigned: \(assigned - openRooms) of \(rooms.count) decided, with \(agentCount) agents and \(openRooms) open rooms")

// The decision itself: the policy choosing among the eligible agents the
// store returned (no I/O), timed call by call.
let candidates = try await store.eligibleAgents(channelID: "tg", divisionID: nil, defaultCapacity: 10)
let policy = LeastBusyPolicy()
var choices: [Double] = []
choices.reserveCapacity(100_000)
var chosen = 0
for _ in 0..<100_000 {
    let t = ContinuousClock.now
    if policy.choose(among: candidates) != nil { chosen += 1 }
    choices.append(seconds(t.duration(to: .now)))
}
choices.sort()
print("the decision itself (policy over \(candidates.count) eligible agents, no I/O): p50 \(String(format: "%.2f", percentile(choices, 0.5) * 1e6)) µs  p99 \(String(format: "%.2f", percentile(choices, 0.99) * 1e6)) µs  (\(chosen) of 100000 chose)")

// Queue drain: rooms wait with every agent offline; agents come back; passes serve them.
let queue2 = try DatabaseQueue(path: path)
try queue2.write { db in try db.execute(sql: "UPDATE users SET online = 0") }
let waiting = try await newWaitingRooms(drainCount, tag: "drain")
try queue2.write { db in try db.execute(sql: "UPDATE users SET online = 1") }
let drainStart = ContinuousClock.now
var passes = 0
while try await store.countRooms(status: .waiting) > 0 && passes < 100 {
    await routing.serveWaiting()
    passes += 1
}
let drain = seconds(drainStart.duration(to: .now))
print("queue drain: \(waiting.count) waiting rooms served in \(String(format: "%.1f", drain * 1000)) ms (\(passes) pass(es), \(String(format: "%.3f", drain / Double(waiting.count) * 1000)) ms a room)")
