import Foundation
import OmnichatCore

/// An in-memory fake of the routing ports (`RoutingPort`, `MerchantWebhookPort`)
/// for fast tests of routing's decisions. It keeps the rules the engines keep
/// in SQL: an assignment is a conditional update (the room still waiting, the
/// agent online, active and below capacity), and an agent's load is the count
/// of their assigned rooms. The engines themselves are tested by the store and
/// end-to-end suites; this fake is for logic above them.
public actor InMemoryRoutingStore: RoutingPort, MerchantWebhookPort {
    public private(set) var rooms: [Int64: Room] = [:]
    public private(set) var users: [Int64: User] = [:]
    public private(set) var divisionList: [Division]
    /// Every merchant webhook queued, in order.
    public private(set) var webhooks: [(roomID: Int64, target: OutboxTarget, action: AdapterAction)] = []
    /// Every transition made, in order.
    public private(set) var log: [RoomTransition] = []
    private var lastAssigned: [Int64: Date] = [:]
    /// Ids of agents, rooms and divisions (1 is the default division).
    private var nextID: Int64 = 2
    private var clock = Date(timeIntervalSince1970: 1_700_000_000)

    public init() {
        divisionList = [Division(id: 1, name: "General", isDefault: true, createdAt: Date(timeIntervalSince1970: 1_700_000_000))]
    }

    private func tick() -> Date {
        clock = clock.addingTimeInterval(1)
        return clock
    }

    // MARK: Seeding

    /// An agent (online unless told otherwise).
    @discardableResult
    public func addAgent(
        name: String, online: Bool = true, channels: [String]? = nil, maxOpenRooms: Int? = nil, divisions: [Int64] = [], active: Bool = true
    ) -> User {
        let id = nextID
        nextID += 1
        let user = User(
            id: id, email: "\(name.lowercased())@example.test", name: name, role: .agent, online: online, channels: channels,
            maxOpenRooms: maxOpenRooms, divisions: divisions, active: active)
        users[id] = user
        return user
    }

    /// A division besides the default one.
    public func addDivision(name: String) -> Division {
        let division = Division(id: nextID, name: name, isDefault: false, createdAt: tick())
        nextID += 1
        divisionList.append(division)
        return division
    }

    /// A waiting room (or another status), queued after the rooms before it.
    @discardableResult
    public func addRoom(channelID: String, status: RoomStatus = .waiting, divisionID: Int64? = nil, lastAgentID: Int64? = nil) -> Room {
        let id = nextID
        nextID += 1
        let now = tick()
        let contact = Contact(id: id, channelID: channelID, externalID: "customer-\(id)", displayName: "Customer \(id)", username: nil)
        let room = Room(
            id: id, channelID: channelID, conversationID: "conversation-\(id)", status: status, assignee: nil, contact: contact,
            lastMessageAt: now, waitingSince: status == .waiting ? now : nil, createdAt: now, divisionID: divisionID, lastAgentID: lastAgentID)
        rooms[id] = room
        return room
    }

    public func setOnline(_ userID: Int64, _ online: Bool) {
        users[userID]?.online = online
    }

    /// One room fewer for the agent.
    private func release(_ userID: Int64) {
        guard var user = users[userID] else { return }
        user.openRooms = max(user.openRooms - 1, 0)
        users[userID] = user
    }

    // MARK: RoutingPort

    public func room(id: Int64) async throws -> Room? {
        guard var room = rooms[id] else { return nil }
        room.assignee = room.assignee.flatMap { users[$0.id] }
        return room
    }

    public func user(id: Int64) async throws -> User? { users[id] }

    public func divisions() async throws -> [Division] { divisionList }

    public func waitingRooms(limit: Int, offset: Int) async throws -> [Room] {
        let waiting = rooms.values.filter { $0.status == .waiting }
            .sorted { ($0.waitingSince ?? $0.createdAt, $0.id) < ($1.waitingSince ?? $1.createdAt, $1.id) }
        return Array(waiting.dropFirst(offset).prefix(limit))
    }

    private var defaultDivisionID: Int64? { divisionList.first { $0.isDefault }?.id }

    private func loads(channelID: String, divisionID: Int64?, defaultCapacity: Int, includeFull: Bool) -> [AgentLoad] {
        let division = divisionID ?? defaultDivisionID
        return users.values
            .filter { user in
                guard user.online, user.active, user.serves(channel: channelID) else { return false }
                let inDivision = division == nil || user.divisions.contains(division!) || (user.divisions.isEmpty && division == defaultDivisionID)
                return inDivision && (includeFull || user.openRooms < (user.maxOpenRooms ?? defaultCapacity))
            }
            .map { AgentLoad(userID: $0.id, openRooms: $0.openRooms, capacity: $0.maxOpenRooms ?? defaultCapacity, lastAssignedAt: lastAssigned[$0.id]) }
            .sorted { a, b in
                if a.openRooms != b.openRooms { return a.openRooms < b.openRooms }
                let at = a.lastAssignedAt ?? .distantPast, bt = b.lastAssignedAt ?? .distantPast
                return at != bt ? at < bt : a.userID < b.userID
            }
    }

    public func eligibleAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad] {
        loads(channelID: channelID, divisionID: divisionID, defaultCapacity: defaultCapacity, includeFull: false)
    }

    public func candidateAgents(channelID: String, divisionID: Int64?, defaultCapacity: Int) async throws -> [AgentLoad] {
        loads(channelID: channelID, divisionID: divisionID, defaultCapacity: defaultCapacity, includeFull: true)
    }

    public func hasFreeAgent(defaultCapacity: Int) async throws -> Bool {
        users.values.contains { $0.online && $0.active && $0.openRooms < ($0.maxOpenRooms ?? defaultCapacity) }
    }

    public func assign(roomID: Int64, to userID: Int64, capacity: Int, actor: String, replace: Bool, force: Bool) async throws -> RoomTransition? {
        guard var room = rooms[roomID], var user = users[userID] else { throw StoreError(.notFound, "no room \(roomID) or user \(userID)") }
        let previous = room.assignee?.id
        if previous == userID && room.status == .assigned { return nil }
        let allowed = replace ? [RoomStatus.waiting, .assigned, .bot].contains(room.status) : (room.status == .waiting && room.assignee == nil)
        guard allowed, force || (user.online && user.active && user.openRooms < capacity) else { return nil }
        let from = room.status
        let now = tick()
        if room.status == .assigned, let previous { release(previous) }
        user.openRooms += 1
        users[userID] = user
        lastAssigned[userID] = now
        room.status = .assigned
        room.assignee = user
        room.waitingSince = nil
        rooms[roomID] = room
        let transition = RoomTransition(
            roomID: roomID, channelID: room.channelID, from: from, to: .assigned, assigneeID: userID, divisionID: room.divisionID, actor: actor, at: now)
        log.append(transition)
        return transition
    }

    public func requeue(roomID: Int64, divisionID: Int64?, actor: String) async throws -> RoomTransition {
        guard var room = rooms[roomID] else { throw StoreError(.notFound, "no room \(roomID)") }
        guard room.status != .resolved else { throw StoreError(.conflict, "room \(roomID) is resolved") }
        let from = room.status
        if room.status == .assigned, let agent = room.assignee?.id { release(agent) }
        let now = tick()
        room.status = .waiting
        room.assignee = nil
        room.divisionID = divisionID ?? room.divisionID
        room.waitingSince = now
        room.allocationRequestedAt = nil
        rooms[roomID] = room
        let transition = RoomTransition(
            roomID: roomID, channelID: room.channelID, from: from, to: .waiting, assigneeID: nil, divisionID: room.divisionID, actor: actor, at: now)
        log.append(transition)
        return transition
    }

    public func returnRooms(userID: Int64, actor: String) async throws -> [RoomTransition] {
        var transitions: [RoomTransition] = []
        for id in rooms.keys.sorted() where rooms[id]?.status == .assigned && rooms[id]?.assignee?.id == userID {
            transitions.append(try await requeue(roomID: id, divisionID: nil, actor: actor))
        }
        return transitions
    }

    public func handover(roomID: Int64, divisionID: Int64?, note: String?, actor: String) async throws -> RoomTransition {
        guard let room = rooms[roomID] else { throw StoreError(.notFound, "no room \(roomID)") }
        guard room.status == .bot else { throw StoreError(.conflict, "room \(roomID) is \(room.status.rawValue), not with a bot") }
        return try await requeue(roomID: roomID, divisionID: divisionID, actor: actor)
    }

    public func markAllocationRequested(roomID: Int64, at: Date?) async throws {
        rooms[roomID]?.allocationRequestedAt = at
    }

    public func allocationOverdue(before: Date, limit: Int) async throws -> [Room] {
        let overdue = rooms.values.filter { room in
            guard room.status == .waiting, let asked = room.allocationRequestedAt else { return false }
            return asked > Date(timeIntervalSince1970: 0) && asked < before
        }
        return Array(overdue.sorted { ($0.waitingSince ?? $0.createdAt, $0.id) < ($1.waitingSince ?? $1.createdAt, $1.id) }.prefix(limit))
    }

    // MARK: MerchantWebhookPort

    public func enqueueWebhook(roomID: Int64, target: OutboxTarget, action: AdapterAction) async throws {
        webhooks.append((roomID, target, action))
    }
}
