import Foundation
import Logging
import OmnichatCore
import ServiceLifecycle
import Synchronization

/// Work for the routing core.
public enum RoutingJob: Sendable, Equatable {
    /// A room got a message and may need an agent.
    case room(Int64)
    /// Capacity may have appeared (an agent came online, a room was resolved):
    /// serve the waiting rooms, oldest first.
    case rescan
}

/// The bounded in-memory queue between ingest and routing. A full queue never
/// loses a room: the room is already committed as waiting, and the next
/// rescan (flagged here) picks it up from the store.
public final class WorkQueue: Sendable {
    public let capacity: Int
    let stream: AsyncStream<RoutingJob>
    private let continuation: AsyncStream<RoutingJob>.Continuation
    private let state = Mutex(State())

    struct State {
        var depth = 0
        var overflowed = false
        var finished = false
    }

    public init(capacity: Int) {
        self.capacity = capacity
        (stream, continuation) = AsyncStream.makeStream(of: RoutingJob.self, bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Adds a job without waiting; false when the queue is full (a rescan is then owed).
    @discardableResult
    public func offer(_ job: RoutingJob) -> Bool {
        state.withLock { state in
            switch continuation.yield(job) {
            case .enqueued:
                state.depth += 1
                return true
            case .dropped, .terminated:
                state.overflowed = true
                return false
            @unknown default:
                state.overflowed = true
                return false
            }
        }
    }

    public var depth: Int {
        state.withLock { $0.depth }
    }

    func taken() {
        state.withLock { $0.depth -= 1 }
    }

    /// True once after a job was dropped.
    func takeOverflow() -> Bool {
        state.withLock { state in
            defer { state.overflowed = false }
            return state.overflowed
        }
    }

    func finish() {
        state.withLock { $0.finished = true }
        continuation.finish()
    }

    var isFinished: Bool { state.withLock { $0.finished } }
}

/// Publishes room state changes to whoever listens (live event streams,
/// tests). Slow listeners lose the oldest events rather than slowing routing.
public final class EventBus: Sendable {
    private let state = Mutex(Subscribers())

    struct Subscribers {
        var next = 0
        var subscribers: [Int: AsyncStream<RoomTransition>.Continuation] = [:]
    }

    public init() {}

    public func subscribe(buffer: Int = 1024) -> AsyncStream<RoomTransition> {
        let (stream, continuation) = AsyncStream.makeStream(of: RoomTransition.self, bufferingPolicy: .bufferingNewest(buffer))
        let id = state.withLock { state in
            state.next += 1
            state.subscribers[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func publish(_ transition: RoomTransition) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(transition) }
    }

    public func publish(_ transitions: [RoomTransition]) {
        for transition in transitions { publish(transition) }
    }
}

/// The routing core: takes rooms off the queue and gives each waiting room to
/// an agent (the allocation policy, or the merchant's allocation webhook). The
/// store's conditional update is the final word, so a stale choice can never
/// exceed capacity.
public final class RoutingService: Service, Sendable {
    let queue: WorkQueue
    let store: any RouterStore
    let policy: any AllocationPolicy
    let defaultCapacity: @Sendable () -> Int
    let settings: @Sendable () -> RoutingSettings
    let channels: ChannelRegistry?
    let events: EventBus
    let appID: String
    let wakeOutbox: @Sendable () -> Void
    let metrics: ServerMetrics?
    let logger: Logger
    /// The customer's profile picture, looked up through the network when the
    /// contact has none yet (`CustomerAvatars`), for the allocation webhook.
    let avatar: (@Sendable (Room) async -> String?)?
    /// What the allocation webhook's body reads (the customer, their
    /// properties, sessions); nil when the store given has only the routing
    /// ports (an in-memory fake): custom allocation then fails the room.
    let webhookStore: (any QiscusWebhookStore)?
    static let rescanPage = 500
    /// When the store last said nobody has room (the queue's rooms skip asking
    /// again for a moment; see `route(roomID:fromQueue:)`).
    private let nobodyFree = NobodyFree(window: .milliseconds(500))

    public init(
        queue: WorkQueue, store: any RouterStore, policy: any AllocationPolicy = LeastBusyPolicy(),
        defaultCapacity: @escaping @Sendable () -> Int, settings: @escaping @Sendable () -> RoutingSettings = { RoutingSettings() },
        channels: ChannelRegistry? = nil, events: EventBus = EventBus(), appID: String = "omnichat",
        wakeOutbox: @escaping @Sendable () -> Void = {}, metrics: ServerMetrics?, logger: Logger,
        avatar: (@Sendable (Room) async -> String?)? = nil
    ) {
        self.avatar = avatar
        self.queue = queue
        self.store = store
        self.webhookStore = store as? any QiscusWebhookStore
        self.policy = policy
        self.defaultCapacity = defaultCapacity
        self.settings = settings
        self.channels = channels
        self.events = events
        self.appID = appID
        self.wakeOutbox = wakeOutbox
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        // Rooms committed before a stop (or a crash) but never assigned.
        await serveWaiting()
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                // Custom allocation's deadlines: the only timer; automatic allocation needs none.
                while !Task.isCancelled && !queue.isFinished {
                    try? await Task.sleep(for: .milliseconds(500))
                    await applyAllocationDeadlines()
                }
            }
            await withGracefulShutdownHandler {
                for await job in queue.stream {
                    queue.taken()
                    metrics?.setQueueDepth(queue.depth)
                    switch job {
                    case .room(let id): await route(roomID: id, fromQueue: true)
                    case .rescan: await serveWaiting()
                    }
                    if queue.takeOverflow() { await serveWaiting() }
                }
            } onGracefulShutdown: {
                // Stop taking new jobs; the loop drains what is queued, then ends.
                self.queue.finish()
            }
        }
    }

    /// Routes one room now (the queue calls this; so can tools and benchmarks).
    ///
    /// `fromQueue`: while the store said less than half a second ago that no
    /// agent has room, the room waits without asking again. Every change that
    /// frees capacity (an agent online, a room resolved or transferred, a
    /// limit raised, another daemon's change) queues a rescan, which always
    /// asks the store and serves every waiting room, so a room skipped here is
    /// served then, exactly as one that found nobody free. Under a backlog this
    /// saves a store read per incoming message.
    public func route(roomID: Int64, fromQueue: Bool = false) async {
        do {
            // Nobody free and nobody else to ask: the room waits (it is served when an agent comes online).
            if !settings().customAllocation.enabled {
                if fromQueue && nobodyFree.recently { return }
                let free = try await store.hasFreeAgent(defaultCapacity: defaultCapacity())
                nobodyFree.record(free: free)
                if !free { return }
            }
            guard let room = try await store.room(id: roomID), room.status == .waiting, room.assignee == nil else { return }
            _ = try await allocate(room)
        } catch {
            logger.error("routing failed", metadata: ["omnichat.room": .stringConvertible(roomID), "omnichat.error": "\(error)"])
        }
    }

    /// Gives the room an agent, or asks the merchant's allocation service.
    /// Returns false when nobody could take it now.
    func allocate(_ room: Room, automaticOnly: Bool = false) async throws -> Bool {
        let settings = self.settings()
        var candidates = try await store.eligibleAgents(
            channelID: room.channelID, divisionID: room.divisionID, defaultCapacity: defaultCapacity())
        if settings.customAllocation.enabled && !automaticOnly {
            if room.allocationRequestedAt == nil { try await requestAllocation(room, candidate: policy.choose(among: candidates)) }
            return true  // the merchant decides; nothing for the automatic rule to do
        }
        // A reopened room goes back to the agent who had it, when they can take it.
        if settings.preferPreviousAgent, let previous = room.lastAgentID, let agent = try await previousAgent(previous, for: room),
            try await take(room, agent)
        {
            return true
        }
        var tries = 0
        while tries < 16, let choice = policy.choose(among: candidates) {
            tries += 1
            if try await take(room, choice) { return true }
            // The room changed or the agent filled up meanwhile: look again.
            guard let fresh = try await store.room(id: room.id), fresh.status == .waiting, fresh.assignee == nil else { return true }
            candidates = try await store.eligibleAgents(channelID: room.channelID, divisionID: room.divisionID, defaultCapacity: defaultCapacity())
        }
        return false
    }

    /// The room's previous agent, when they could take it now (online, serving
    /// its channel and division, under capacity).
    private func previousAgent(_ id: Int64, for room: Room) async throws -> AgentLoad? {
        guard let user = try await store.user(id: id), user.online, user.serves(channel: room.channelID) else { return nil }
        let capacity = user.maxOpenRooms ?? defaultCapacity()
        guard user.openRooms < capacity else { return nil }
        let defaultDivision = try await store.divisions().first { $0.isDefault }?.id
        let division = room.divisionID ?? defaultDivision
        let inDivision = division == nil || user.divisions.contains(division!) || (user.divisions.isEmpty && division == defaultDivision)
        guard inDivision else { return nil }
        return AgentLoad(userID: user.id, openRooms: user.openRooms, capacity: capacity, lastAssignedAt: nil)
    }

    private func take(_ room: Room, _ agent: AgentLoad) async throws -> Bool {
        guard let transition = try await store.assign(
            roomID: room.id, to: agent.userID, capacity: agent.capacity, actor: "routing", replace: false, force: false)
        else { return false }
        events.publish(transition)
        metrics?.roomAssigned()
        logger.info(
            "room assigned",
            metadata: ["omnichat.room": .stringConvertible(room.id), "omnichat.agent": .stringConvertible(agent.userID), "omnichat.channel": .string(room.channelID)])
        return true
    }

    /// POSTs the room to the merchant's allocation webhook (durably, through the outbox).
    func requestAllocation(_ room: Room, candidate: AgentLoad?) async throws {
        var room = room
        if room.contact.avatarURL?.isEmpty ?? true, let avatar, let url = await avatar(room) {
            room.contact.avatarURL = url
        }
        guard let webhookStore else { throw StoreError(.invalid, "this store cannot build the allocation webhook's body") }
        let webhooks = QiscusWebhooks(store: webhookStore, channels: channels ?? ChannelRegistry([]), appID: appID)
        let body = try await webhooks.allocation(room, candidate: candidate)
        try await store.enqueueWebhook(
            roomID: room.id, target: .allocation, action: AdapterAction(name: "allocate", parameters: ["body": try QiscusWebhooks.json(body)]))
        try await store.markAllocationRequested(roomID: room.id, at: Date())
        wakeOutbox()
    }

    /// Rooms the allocation service did not place in time: automatic allocation, or keep waiting.
    func applyAllocationDeadlines() async {
        let settings = self.settings()
        guard settings.customAllocation.enabled else { return }
        do {
            let before = Date().addingTimeInterval(-TimeInterval(settings.customAllocation.deadlineSeconds))
            for room in try await store.allocationOverdue(before: before, limit: 100) {
                try await store.markAllocationRequested(roomID: room.id, at: .distantPast)
                if settings.customAllocation.fallback == .automatic {
                    logger.notice("allocation deadline passed: automatic allocation", metadata: ["omnichat.room": .stringConvertible(room.id)])
                    _ = try await allocate(room, automaticOnly: true)
                }
            }
        } catch {
            logger.error("allocation deadlines failed", metadata: ["omnichat.error": "\(error)"])
        }
    }

    /// Waiting rooms, oldest first, each to an agent while any has capacity for
    /// its channel and division.
    public func serveWaiting() async {
        do {
            var full: Set<String> = []  // channel+division pairs with nobody free in this pass
            let custom = settings().customAllocation.enabled
            if !custom {
                let free = try await store.hasFreeAgent(defaultCapacity: defaultCapacity())
                nobodyFree.record(free: free)
                if !free { return }
            }
            var offset = 0
            while true {
                let rooms = try await store.waitingRooms(limit: Self.rescanPage, offset: offset)
                var stillWaiting = 0
                for room in rooms {
                    let key = room.channelID + "\u{1}" + (room.divisionID.map { String($0) } ?? "")
                    if full.contains(key) || (custom && room.allocationRequestedAt != nil) {
                        stillWaiting += 1
                        continue
                    }
                    if try await !allocate(room) {
                        full.insert(key)
                        stillWaiting += 1
                    } else if custom {
                        stillWaiting += 1  // asked, still waiting for the merchant's answer
                    }
                }
                // Assigned rooms left the queue: the next page starts after those still waiting.
                guard rooms.count == Self.rescanPage else { break }
                offset += stillWaiting
            }
        } catch {
            logger.error("serving the waiting queue failed", metadata: ["omnichat.error": "\(error)"])
        }
    }
}

/// The last "nobody has room" answer of the store, for `route(roomID:fromQueue:)`.
final class NobodyFree: Sendable {
    private let window: Duration
    private let since = Mutex<ContinuousClock.Instant?>(nil)

    init(window: Duration) {
        self.window = window
    }

    var recently: Bool {
        since.withLock { at in at.map { ContinuousClock.now - $0 < window } ?? false }
    }

    func record(free: Bool) {
        since.withLock { $0 = free ? nil : ContinuousClock.now }
    }
}
