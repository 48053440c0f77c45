import Foundation
import Logging
import OmnichatCore
import ServiceLifecycle

/// Work for the routing core.
public enum RoutingJob: Sendable, Equatable {
    /// A room got a message and may need an agent.
    case room(String)
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
    private let state: LockedState

    final class LockedState: @unchecked Sendable {
        let lock = NSLock()
        var depth = 0
        var overflowed = false
    }

    public init(capacity: Int) {
        self.capacity = capacity
        (stream, continuation) = AsyncStream.makeStream(of: RoutingJob.self, bufferingPolicy: .bufferingOldest(capacity))
        state = LockedState()
    }

    /// Adds a job without waiting; false when the queue is full (a rescan is then owed).
    @discardableResult
    public func offer(_ job: RoutingJob) -> Bool {
        state.lock.lock()
        defer { state.lock.unlock() }
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

    public var depth: Int {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.depth
    }

    func taken() {
        state.lock.lock()
        state.depth -= 1
        state.lock.unlock()
    }

    /// True once after a job was dropped.
    func takeOverflow() -> Bool {
        state.lock.lock()
        defer { state.lock.unlock() }
        let value = state.overflowed
        state.overflowed = false
        return value
    }

    func finish() {
        continuation.finish()
    }
}

/// The routing core: takes rooms off the queue and gives each waiting room to
/// an agent through the allocation policy. The store's conditional update is
/// the final word, so a stale choice can never exceed capacity.
public final class RoutingService: Service, Sendable {
    let queue: WorkQueue
    let store: any Store
    let policy: any AllocationPolicy
    let defaultCapacity: @Sendable () -> Int
    let metrics: ServerMetrics?
    let logger: Logger
    static let rescanPage = 500

    public init(
        queue: WorkQueue, store: any Store, policy: any AllocationPolicy = LeastBusyPolicy(),
        defaultCapacity: @escaping @Sendable () -> Int, metrics: ServerMetrics?, logger: Logger
    ) {
        self.queue = queue
        self.store = store
        self.policy = policy
        self.defaultCapacity = defaultCapacity
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        // Rooms committed before a stop (or a crash) but never assigned.
        await serveWaiting()
        await withGracefulShutdownHandler {
            for await job in queue.stream {
                queue.taken()
                metrics?.setQueueDepth(queue.depth)
                switch job {
                case .room(let id): await route(roomID: id)
                case .rescan: await serveWaiting()
                }
                if queue.takeOverflow() { await serveWaiting() }
            }
        } onGracefulShutdown: {
            // Stop taking new jobs; the loop drains what is queued, then ends.
            self.queue.finish()
        }
    }

    func route(roomID: String) async {
        do {
            guard let room = try await store.room(id: roomID), room.status == .waiting, room.assignee == nil else { return }
            _ = try await allocate(room)
        } catch {
            logger.error("routing failed", metadata: ["omnichat.room": .string(roomID), "omnichat.error": "\(error)"])
        }
    }

    /// Tries the policy's choice, then the next, until one assignment holds or nobody is left.
    func allocate(_ room: Room) async throws -> Bool {
        var candidates = try await store.eligibleAgents(channelID: room.channelID, defaultCapacity: defaultCapacity())
        var tries = 0
        while tries < 16, let choice = policy.choose(among: candidates) {
            tries += 1
            if try await store.assign(roomID: room.id, to: choice.userID, capacity: choice.capacity, actor: "routing") {
                metrics?.roomAssigned()
                logger.info(
                    "room assigned",
                    metadata: ["omnichat.room": .string(room.id), "omnichat.agent": .string(choice.userID), "omnichat.channel": .string(room.channelID)])
                return true
            }
            // The room changed or the agent filled up meanwhile: look again.
            guard let fresh = try await store.room(id: room.id), fresh.status == .waiting, fresh.assignee == nil else { return false }
            candidates = try await store.eligibleAgents(channelID: room.channelID, defaultCapacity: defaultCapacity())
                .filter { $0.userID != choice.userID || $0.openRooms < $0.capacity }
        }
        return false
    }

    /// Waiting rooms, oldest first, each to an agent while any has capacity for its channel.
    func serveWaiting() async {
        do {
            var full: Set<String> = []  // channels with nobody free in this pass
            let rooms = try await store.waitingRooms(limit: Self.rescanPage)
            for room in rooms where !full.contains(room.channelID) {
                if try await !allocate(room) { full.insert(room.channelID) }
            }
        } catch {
            logger.error("serving the waiting queue failed", metadata: ["omnichat.error": "\(error)"])
        }
    }
}
