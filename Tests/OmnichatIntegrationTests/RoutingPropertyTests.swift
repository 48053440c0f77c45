import Foundation
import OmnichatCore
import OmnichatStore
import Testing

@testable import OmnichatServer

/// A small deterministic generator so a failing sequence can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random sequences of messages, status changes, resolves, transfers and
/// capacity changes, with the routing invariants checked after every step
/// against a model computed from first principles.
@Suite("Routing invariants", .serialized, .bothEngines)
struct RoutingPropertyTests {
    struct Agent {
        var user: User
        var capacity: Int
        var online: Bool
        var channels: [String]
        var divisions: [Int64]
    }

    final class World {
        let store: any TestStore
        let routing: RoutingService
        let divisions: [Int64]
        var agents: [Agent] = []
        var eventCounter = 0

        init(store: any TestStore, routing: RoutingService, divisions: [Int64]) {
            self.store = store
            self.routing = routing
            self.divisions = divisions
        }
    }

    func makeWorld(_ rng: inout SeededGenerator) async throws -> (World, URL) {
        let directory = try temporaryDirectory()
        let store = try await TestEngine.makeStore(in: directory, file: "p.db")
        let second = try await store.createDivision(name: "Second")
        let defaultID = try #require(try await store.divisions().first { $0.isDefault }?.id)
        let routing = RoutingService(
            queue: WorkQueue(capacity: 100), store: store, defaultCapacity: { 2 }, metrics: nil, logger: quietLogger())
        let world = World(store: store, routing: routing, divisions: [defaultID, second.id])
        for index in 0..<4 {
            let channels = [["a"], ["b"], ["a", "b"], ["a", "b"]][Int.random(in: 0..<4, using: &rng)]
            let divisions = [[defaultID], [second.id], [defaultID, second.id]][Int.random(in: 0..<3, using: &rng)]
            let capacity = Int.random(in: 1...3, using: &rng)
            var user = try await store.createUser(
                NewUser(email: "agent\(index)@x", name: "Agent \(index)", role: .agent, passwordHash: "x", channels: channels, maxOpenRooms: capacity))
            user = try await store.setUserDivisions(userID: user.id, divisionIDs: divisions)
            world.agents.append(Agent(user: user, capacity: capacity, online: false, channels: channels, divisions: divisions))
        }
        return (world, directory)
    }

    /// Everything the invariants look at, read straight from the rooms.
    struct Snapshot {
        var assigned: [Int64: [Room]] = [:]
        var waiting: [Room] = []
    }

    func snapshot(_ world: World) async throws -> Snapshot {
        var snap = Snapshot()
        var cursor: String?
        repeat {
            let page = try await world.store.rooms(RoomFilter(cursor: cursor, limit: 500))
            for room in page.items {
                switch room.status {
                case .assigned:
                    let agent = try #require(room.assignee?.id, "an assigned room without an agent")
                    snap.assigned[agent, default: []].append(room)
                case .waiting:
                    #expect(room.assignee == nil, "a waiting room with an agent")
                    snap.waiting.append(room)
                default: break
                }
            }
            cursor = page.nextCursor
        } while cursor != nil
        return snap
    }

    func eligible(_ agent: Agent, for room: Room, world: World) -> Bool {
        agent.online && agent.channels.contains(room.channelID) && agent.divisions.contains(room.divisionID ?? world.divisions[0])
    }

    func check(_ world: World, before: Snapshot, step: String) async throws {
        let after = try await snapshot(world)
        for agent in world.agents {
            let count = after.assigned[agent.user.id]?.count ?? 0
            let previous = before.assigned[agent.user.id]?.count ?? 0
            // Capacity: never exceeded by a new assignment (a lowered limit may leave an agent over it, never growing).
            #expect(count <= max(agent.capacity, previous), "\(step): \(agent.user.email) has \(count) rooms, capacity \(agent.capacity)")
            let counter = try await world.store.user(id: agent.user.id)?.openRooms
            #expect(counter == count, "\(step): load counter \(counter ?? -1) but \(count) rooms")
        }
        // Nobody waits while an eligible agent has room.
        for room in after.waiting {
            for agent in world.agents where eligible(agent, for: room, world: world) {
                let count = after.assigned[agent.user.id]?.count ?? 0
                #expect(count >= agent.capacity, "\(step): room \(room.id) waits while \(agent.user.email) has \(count)/\(agent.capacity)")
            }
        }
        // The queue is served in order: no room assigned in this step overtook an older waiting room of its class.
        let wasWaiting = Dictionary(before.waiting.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for rooms in after.assigned.values {
            for room in rooms {
                guard let old = wasWaiting[room.id], let since = old.waitingSince else { continue }
                let overtaken = after.waiting.filter {
                    $0.channelID == room.channelID && $0.divisionID == room.divisionID && ($0.waitingSince ?? .distantFuture) < since
                }
                #expect(overtaken.isEmpty, "\(step): room \(room.id) was served before older waiting rooms \(overtaken.map(\.id))")
            }
        }
    }

    func message(_ world: World, chat: Int, channel: String) async throws {
        world.eventCounter += 1
        let event = InboundEvent(
            eventID: "e\(world.eventCounter)", conversationID: "\(channel)-\(chat)", contact: ContactProfile(externalID: "\(chat)"),
            content: .text("m"), occurredAt: Date(), raw: "{}")
        let result = try await world.store.ingest(IngestBatch(channelID: channel, events: [event]))
        for room in result.roomIDs { await world.routing.route(roomID: room) }
    }

    @Test("random sequences keep every routing invariant", arguments: 0..<24)
    func randomSequences(seed: Int) async throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let (world, directory) = try await makeWorld(&rng)
        defer { try? FileManager.default.removeItem(at: directory) }
        defer { Task { [store = world.store] in await store.close() } }
        for stepIndex in 0..<70 {
            let before = try await snapshot(world)
            let choice = Int.random(in: 0..<100, using: &rng)
            var step = "seed \(seed) step \(stepIndex): "
            switch choice {
            case 0..<40:
                let chat = Int.random(in: 0..<10, using: &rng)
                let channel = Bool.random(using: &rng) ? "a" : "b"
                step += "message \(channel)-\(chat)"
                try await message(world, chat: chat, channel: channel)
            case 40..<55:
                let index = Int.random(in: 0..<world.agents.count, using: &rng)
                world.agents[index].online.toggle()
                step += "agent \(index) online=\(world.agents[index].online)"
                _ = try await world.store.setOnline(userID: world.agents[index].user.id, online: world.agents[index].online)
                if world.agents[index].online { await world.routing.serveWaiting() }
            case 55..<75:
                let open = before.assigned.values.flatMap { $0 } + before.waiting
                guard let room = open.randomElement(using: &rng) else { continue }
                step += "resolve \(room.id)"
                _ = try await world.store.resolve(roomID: room.id, by: "test")
                await world.routing.serveWaiting()
            case 75..<88:
                guard let room = before.assigned.values.flatMap({ $0 }).randomElement(using: &rng) else { continue }
                let division = world.divisions.randomElement(using: &rng)!
                step += "transfer \(room.id) to division \(division)"
                _ = try await world.store.requeue(roomID: room.id, divisionID: division, actor: "test")
                await world.routing.serveWaiting()
            default:
                let index = Int.random(in: 0..<world.agents.count, using: &rng)
                let capacity = Int.random(in: 1...3, using: &rng)
                step += "agent \(index) capacity \(world.agents[index].capacity) -> \(capacity)"
                world.agents[index].capacity = capacity
                _ = try await world.store.setCapacity(userID: world.agents[index].user.id, maxOpenRooms: capacity)
                await world.routing.serveWaiting()
            }
            try await check(world, before: before, step: step)
        }
    }

    @Test("concurrent allocation, resolves and status changes never exceed capacity")
    func concurrentStress() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await TestEngine.makeStore(in: directory, file: "s.db")
        let routing = RoutingService(queue: WorkQueue(capacity: 100), store: store, defaultCapacity: { 3 }, metrics: nil, logger: quietLogger())
        var agents: [User] = []
        for index in 0..<6 {
            let user = try await store.createUser(NewUser(email: "s\(index)@x", name: "S\(index)", role: .agent, passwordHash: "x"))
            agents.append(try await store.setOnline(userID: user.id, online: true))
        }
        var rooms: [Int64] = []
        for index in 0..<150 {
            let event = InboundEvent(
                eventID: "e\(index)", conversationID: "c\(index)", contact: ContactProfile(externalID: "c\(index)"), content: .text("x"),
                occurredAt: Date(), raw: "{}")
            rooms += try await store.ingest(IngestBatch(channelID: "tg", events: [event])).roomIDs
        }
        let ids = agents.map(\.id)
        let allRooms = rooms
        let violations = Counter()
        let stop = Counter()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for (index, room) in allRooms.enumerated() where index % 4 == worker { await routing.route(roomID: room) }
                }
            }
            group.addTask {
                // Resolve assigned rooms as they appear, and serve the queue again.
                for _ in 0..<40 {
                    if let room = try? await store.rooms(RoomFilter(statuses: [.assigned], limit: 1)).items.first {
                        _ = try? await store.resolve(roomID: room.id, by: "stress")
                        await routing.serveWaiting()
                    }
                }
            }
            group.addTask {
                for round in 0..<20 {
                    let id = ids[round % ids.count]
                    _ = try? await store.setOnline(userID: id, online: round % 3 != 0)
                    await routing.serveWaiting()
                }
                for id in ids { _ = try? await store.setOnline(userID: id, online: true) }
                await routing.serveWaiting()
            }
            group.addTask {
                // A sampler: at no sampled moment is an agent above capacity.
                while stop.value == 0 {
                    for id in ids {
                        let count = (try? await store.rooms(RoomFilter(assigneeID: id, statuses: [.assigned], limit: 500)).items.count) ?? 0
                        if count > 3 { violations.increment() }
                    }
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
            // Let the workers finish, then stop the sampler.
            for _ in 0..<3 { await group.next() }
            await group.next()
            stop.increment()
        }
        await routing.serveWaiting()
        #expect(violations.value == 0)
        var total = 0
        for id in ids {
            let count = try await store.rooms(RoomFilter(assigneeID: id, statuses: [.assigned], limit: 500)).items.count
            #expect(count <= 3)
            #expect(try await store.user(id: id)?.openRooms == count)
            total += count
        }
        #expect(total == 18, "every agent full while rooms wait")
        if let sqlite = store as? SQLiteStore { #expect(try await sqlite.integrityCheck() == "ok") }
        await store.close()
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
