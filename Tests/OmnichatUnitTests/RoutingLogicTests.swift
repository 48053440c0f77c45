import Foundation
import Logging
import OmnichatCore
@testable import OmnichatServer
import OmnichatTesting
import Testing

/// Routing's decisions on the in-memory routing ports. (`RoutingPropertyTests`
/// and the end-to-end suites check the same rules on both real engines.)
@Suite("routing logic on in-memory ports")
struct RoutingLogicTests {
    func routing(_ store: InMemoryRoutingStore, capacity: Int = 2, settings: RoutingSettings = RoutingSettings()) -> RoutingService {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return RoutingService(
            queue: WorkQueue(capacity: 100), store: store, defaultCapacity: { capacity }, settings: { settings }, metrics: nil, logger: logger)
    }

    @Test("a waiting room goes to the least busy eligible agent")
    func leastBusy() async throws {
        let store = InMemoryRoutingStore()
        let busy = await store.addAgent(name: "Busy")
        let idle = await store.addAgent(name: "Idle")
        let first = await store.addRoom(channelID: "tg")
        let service = routing(store)
        _ = try await store.assign(roomID: first.id, to: busy.id, capacity: 2, actor: "test", replace: false, force: false)
        let room = await store.addRoom(channelID: "tg")
        await service.route(roomID: room.id)
        #expect(try await store.room(id: room.id)?.assignee?.id == idle.id)
    }

    @Test("agents who are offline, inactive, serving other channels or another division get nothing")
    func eligibility() async throws {
        let store = InMemoryRoutingStore()
        let sales = await store.addDivision(name: "Sales")
        await store.addAgent(name: "Offline", online: false)
        await store.addAgent(name: "Inactive", active: false)
        await store.addAgent(name: "LINE only", channels: ["line"])
        await store.addAgent(name: "Sales", divisions: [sales.id])
        let room = await store.addRoom(channelID: "tg")
        let service = routing(store)
        await service.route(roomID: room.id)
        #expect(try await store.room(id: room.id)?.status == .waiting)
        let right = await store.addAgent(name: "Right one")
        await service.route(roomID: room.id)
        #expect(try await store.room(id: room.id)?.assignee?.id == right.id)
        let salesRoom = await store.addRoom(channelID: "tg", divisionID: sales.id)
        await service.route(roomID: salesRoom.id)
        #expect(try await store.room(id: salesRoom.id)?.assignee?.name == "Sales")
    }

    @Test("rooms routed at once never put an agent above capacity")
    func capacityUnderConcurrency() async throws {
        let store = InMemoryRoutingStore()
        await store.addAgent(name: "A", maxOpenRooms: 3)
        await store.addAgent(name: "B")
        var rooms: [Int64] = []
        for _ in 0..<20 { rooms.append(await store.addRoom(channelID: "tg").id) }
        let service = routing(store, capacity: 2)
        await withTaskGroup(of: Void.self) { group in
            for id in rooms { group.addTask { await service.route(roomID: id) } }
        }
        let assigned = await store.rooms.values.filter { $0.status == .assigned }
        #expect(assigned.count == 5)
        let users = await store.users.values
        #expect(users.first { $0.name == "A" }?.openRooms == 3)
        #expect(users.first { $0.name == "B" }?.openRooms == 2)
        #expect(await store.rooms.values.filter { $0.status == .waiting }.count == 15)
    }

    @Test("a reopened room goes back to its previous agent when they can take it, else to the least busy")
    func previousAgent() async throws {
        let store = InMemoryRoutingStore()
        let previous = await store.addAgent(name: "Previous", maxOpenRooms: 1)
        await store.addAgent(name: "Other")
        let earlier = await store.addRoom(channelID: "tg")
        let service = routing(store)
        _ = try await store.assign(roomID: earlier.id, to: previous.id, capacity: 1, actor: "test", replace: false, force: false)
        let full = await store.addRoom(channelID: "tg", lastAgentID: previous.id)
        await service.route(roomID: full.id)
        #expect(try await store.room(id: full.id)?.assignee?.name == "Other")
        _ = try await store.requeue(roomID: earlier.id, divisionID: nil, actor: "test")
        let reopened = await store.addRoom(channelID: "tg", lastAgentID: previous.id)
        await service.route(roomID: reopened.id)
        #expect(try await store.room(id: reopened.id)?.assignee?.id == previous.id)
    }

    @Test("custom allocation past its deadline falls back to automatic allocation")
    func allocationDeadline() async throws {
        let store = InMemoryRoutingStore()
        let agent = await store.addAgent(name: "Agent")
        let room = await store.addRoom(channelID: "tg")
        try await store.markAllocationRequested(roomID: room.id, at: Date().addingTimeInterval(-120))
        var settings = RoutingSettings()
        settings.customAllocation.enabled = true
        settings.customAllocation.deadlineSeconds = 30
        let service = routing(store, settings: settings)
        await service.applyAllocationDeadlines()
        #expect(try await store.room(id: room.id)?.assignee?.id == agent.id)
        settings.customAllocation.fallback = .wait
        let waiting = await store.addRoom(channelID: "tg")
        try await store.markAllocationRequested(roomID: waiting.id, at: Date().addingTimeInterval(-120))
        await routing(store, settings: settings).applyAllocationDeadlines()
        let after = try #require(try await store.room(id: waiting.id))
        #expect(after.status == .waiting)
        #expect(after.allocationRequestedAt == .distantPast, "the deadline is applied once")
    }
}
