import Foundation
import NIOCore
import Logging
import OmnichatCore
import ServiceLifecycle

/// One event of the live stream (`GET /api/v1/events`).
public struct LiveEvent: Sendable {
    /// Increases across restarts (it starts from the boot time in microseconds).
    public var id: Int64
    /// `room.created`, `room.assigned`, `room.queued`, `room.reopened`, `room.bot`,
    /// `room.resolved`, `message.created`, `message.delivery`, `agent.online`, `agent.offline`.
    public var type: String
    public var roomID: Int64?
    /// Who may see it besides supervisors and admins: the room's agent, or the agent concerned.
    public var audience: Int64?
    public var data: [String: any Sendable]
    public var at: Date
    /// `data` as JSON, when the event came from the cluster's event log.
    var dataJSON: String? = nil
    /// The SSE lines, written once when the event is delivered (every
    /// subscriber sends the same bytes; 100 streams must not mean 100 encodings).
    var encoded: String? = nil
    /// What it holds in the resume buffer, estimated when it is buffered.
    var weight = 0
}

/// The live event hub: keeps the events of the last `retention` for
/// `Last-Event-ID` resumes, fans them out to subscribers, and knows each open
/// room's agent so an agent is sent only what concerns their rooms.
public final class LiveEvents: Service, @unchecked Sendable {
    private let lock = NSLock()
    /// A ring: trimming the oldest is O(1) (an array's `removeFirst` moved all
    /// 50,000 kept events on every new one once the buffer was full).
    private var buffer = CircularBuffer<LiveEvent>(initialCapacity: 1024)
    private var nextID: Int64
    /// Each stream and what its user may see (filtered here, so an event a
    /// subscriber may not see costs it nothing).
    private var subscribers: [Int: Subscriber] = [:]

    struct Subscriber {
        let continuation: AsyncStream<LiveEvent>.Continuation
        let visible: @Sendable (LiveEvent) -> Bool
    }
    /// Whose stream each subscriber is (the per-user limit).
    private var owners: [Int: Int64] = [:]
    private var nextSubscriber = 0
    private var assignees: [Int64: Int64] = [:]  // open rooms' agents (0: none), for visibility
    private var stopped = false
    let retention: TimeInterval
    let maxBuffered: Int
    /// The resume buffer's budget in (estimated) bytes: at 1,000 webhooks/s
    /// it holds seconds, not `retention`; an older resume point gets `stream.reset`.
    let maxBufferedBytes: Int
    private var bufferedBytes = 0
    let store: any ConversationPort & InboxStore
    /// Several daemons on one database: events go through the database's log
    /// (ids from one sequence) and every daemon, this one included, delivers
    /// them from there. `nil`: one daemon, events stay in memory.
    let log: (any LiveEventLog)?
    private var outgoing: [String] = []
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    public init(
        store: any ConversationPort & InboxStore, retention: TimeInterval = 300, maxBuffered: Int = 50_000, maxBufferedBytes: Int = 8 << 20,
        log: (any LiveEventLog)? = nil
    ) {
        self.store = store
        self.retention = retention
        self.maxBuffered = maxBuffered
        self.maxBufferedBytes = maxBufferedBytes
        self.nextID = Int64(Date().timeIntervalSince1970 * 1_000_000)
        self.log = log
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: Publishing

    func emit(_ type: String, roomID: Int64?, audience: Int64?, data: [String: any Sendable]) {
        if log != nil {
            let body = LiveEvent(id: 0, type: type, roomID: roomID, audience: audience, data: data, at: Date()).logBody
            lock.withLock { outgoing.append(body) }
            wake.yield()
            return
        }
        lock.lock()
        nextID += 1
        let event = LiveEvent(id: nextID, type: type, roomID: roomID, audience: audience, data: data, at: Date())
        lock.unlock()
        deliver([event])
    }

    /// Buffers events (for resumes) and hands them to the subscribers.
    private func deliver(_ events: [LiveEvent]) {
        guard !events.isEmpty else { return }
        let subscribers: [Subscriber]
        let weighed = events.map { event -> LiveEvent in
            var event = event
            event.weight = 160 + event.type.utf8.count + (event.dataJSON.map { $0.utf8.count * 2 } ?? LiveEvent.weight(of: event.data))
            return event
        }
        lock.lock()
        buffer.append(contentsOf: weighed)
        bufferedBytes += weighed.reduce(0) { $0 + $1.weight }
        let horizon = Date().addingTimeInterval(-retention)
        while let oldest = buffer.first, buffer.count > maxBuffered || bufferedBytes > maxBufferedBytes || oldest.at < horizon {
            bufferedBytes -= oldest.weight
            buffer.removeFirst()
        }
        subscribers = Array(self.subscribers.values)
        lock.unlock()
        guard !subscribers.isEmpty else { return }
        // Encoded once for every subscriber (nobody listening: not at all).
        let encoded = events.map { event -> LiveEvent in
            var event = event
            event.encoded = event.rendered
            return event
        }
        for subscriber in subscribers {
            for event in encoded where subscriber.visible(event) { subscriber.continuation.yield(event) }
        }
    }

    /// A room changed state. `room.assigned` carries what the new agent's
    /// inbox needs to show a room it never saw: the room and its customer,
    /// their unread count and the newest message (the message that opened the
    /// room was published before the assignment, when only staff could see it).
    public func room(_ t: RoomTransition) async {
        let type: String
        switch (t.from, t.to) {
        case (nil, _): type = "room.created"
        case (_, .assigned): type = "room.assigned"
        case (_, .resolved): type = "room.resolved"
        case (.resolved?, .waiting): type = "room.reopened"
        case (_, .bot): type = "room.bot"
        case (_, .waiting): type = "room.queued"
        }
        let previous = lock.withLock { () -> Int64? in
            let old = assignees[t.roomID].flatMap { $0 == 0 ? nil : $0 }
            assignees[t.roomID] = t.to == .assigned ? (t.assigneeID ?? 0) : 0
            return old
        }
        var data: [String: any Sendable] = [
            "room_id": t.roomID, "channel": t.channelID, "status": t.to.rawValue, "from_status": t.from?.rawValue,
            "assignee_id": t.assigneeID, "division_id": t.divisionID, "actor": t.actor, "at": t.at.iso8601,
        ]
        data["previous_assignee_id"] = previous
        if t.to == .assigned, let assignee = t.assigneeID {
            if let room = try? await store.room(id: t.roomID) { data["room"] = Self.roomData(room) }
            if let summary = try? await store.roomSummaries(roomIDs: [t.roomID], readerID: assignee)[t.roomID] {
                data["unread_count"] = summary.unreadCount
                data["last_message"] = summary.lastMessage.map(Self.messageData)
            }
        }
        emit(type, roomID: t.roomID, audience: t.assigneeID ?? previous, data: data)
        // The agent who lost the room is told too.
        if let previous, previous != t.assigneeID {
            emit(type, roomID: t.roomID, audience: previous, data: data)
        }
    }

    /// A message was stored (inbound or outbound).
    public func message(_ m: StoredMessage, channelID: String?) async {
        let audience = await agent(of: m.roomID)
        emit(
            "message.created", roomID: m.roomID, audience: audience,
            data: [
                "room_id": m.roomID, "channel": channelID, "message_id": m.id, "direction": m.direction.rawValue,
                "type": m.content.type.rawValue, "text": m.content.text, "url": m.content.url, "created_at": m.createdAt.iso8601,
                "delivery_status": m.deliveryStatus.rawValue,
            ])
    }

    /// A message's delivery status changed.
    public func delivery(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) async {
        let audience = await agent(of: roomID)
        emit(
            "message.delivery", roomID: roomID, audience: audience,
            data: ["room_id": roomID, "message_id": messageID, "status": status.rawValue, "attempts": attempts, "error": error])
    }

    /// The network told us something about a room that is not a message (the customer blocked the bot, someone joined).
    public func notice(_ n: RoomNotice) async {
        let audience = await agent(of: n.roomID)
        emit("room.notice", roomID: n.roomID, audience: audience, data: ["room_id": n.roomID, "kind": n.kind, "name": n.name, "at": n.at.iso8601])
    }

    public func agentStatus(_ user: User) {
        emit(
            user.online ? "agent.online" : "agent.offline", roomID: nil, audience: user.id,
            data: ["agent_id": user.id, "name": user.name, "online": user.online])
    }

    /// The room's agent; unknown rooms are read once and remembered ("" for none),
    /// then kept current by the room transitions this process sees.
    private func agent(of roomID: Int64) async -> Int64? {
        if let known = lock.withLock({ assignees[roomID] }) { return known == 0 ? nil : known }
        let room = try? await store.room(id: roomID)
        let agent = room?.status == .assigned ? room?.assignee?.id : nil
        lock.withLock { assignees[roomID] = agent ?? 0 }
        return agent
    }

    // MARK: Subscribing

    public enum Resume: Sendable {
        case fromNow
        /// Events after this id; `nil` when the id is older than what is kept (the client must refetch).
        case after(Int64)
    }

    /// Events the user may see: everything for supervisors and admins, their
    /// rooms and their own status for agents. Returns the replay (for
    /// `Last-Event-ID`), whether the resume point was still kept, and the live stream.
    public func subscribe(user: User, resume: Resume) -> (replay: [LiveEvent], complete: Bool, live: AsyncStream<LiveEvent>) {
        let subscription = subscription(user: user, resume: resume)
        return (subscription.replay, subscription.complete, subscription.events)
    }

    /// A subscription: the replay, whether the resume point was kept, the
    /// live events, and `end`, which stops them at once (a stream that was
    /// reset stops costing anything while its response still drains).
    struct Subscription: Sendable {
        var replay: [LiveEvent]
        var complete: Bool
        var events: AsyncStream<LiveEvent>
        var end: @Sendable () -> Void
    }

    func subscription(user: User, resume: Resume) -> Subscription {
        let (stream, continuation) = AsyncStream.makeStream(of: LiveEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let visible: @Sendable (LiveEvent) -> Bool = { event in user.role >= .supervisor || event.audience == user.id }
        lock.lock()
        if stopped {
            lock.unlock()
            continuation.finish()
            return Subscription(replay: [], complete: true, events: stream, end: {})
        }
        nextSubscriber += 1
        let key = nextSubscriber
        var replay: [LiveEvent] = []
        var complete = true
        if case .after(let last) = resume {
            if let oldest = buffer.first?.id, last < oldest - 1 { complete = false }
            replay = buffer.filter { $0.id > last && visible($0) }
        }
        subscribers[key] = Subscriber(continuation: continuation, visible: visible)
        owners[key] = user.id
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            self?.lock.withLock {
                _ = self?.subscribers.removeValue(forKey: key)
                _ = self?.owners.removeValue(forKey: key)
            }
        }
        return Subscription(replay: replay, complete: complete, events: stream, end: { continuation.finish() })
    }

    public var subscriberCount: Int { lock.withLock { subscribers.count } }

    /// Open streams of one user.
    public func streamCount(userID: Int64) -> Int { lock.withLock { owners.values.filter { $0 == userID }.count } }

    /// Forwards the event bus's room changes to the stream.
    func follow(_ bus: EventBus) {
        let stream = bus.subscribe(buffer: 100_000)
        Task { [weak self] in
            for await transition in stream {
                guard let self else { return }
                await self.room(transition)
            }
        }
    }

    /// Ends every stream (graceful shutdown: open event streams must not hold the HTTP server).
    public func stop() {
        let all = lock.withLock {
            stopped = true
            let all = Array(subscribers.values)
            subscribers.removeAll()
            return all
        }
        for subscriber in all { subscriber.continuation.finish() }
    }

    public func run() async throws {
        if let log {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.relay(log) }
                    group.addTask {
                        for await _ in log.notifications() { self.wake.yield() }
                    }
                    group.addTask {
                        // A poll a second even if a notification is lost.
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(1))
                            self.wake.yield()
                        }
                    }
                    try? await gracefulShutdown()
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                self.wake.finish()
            }
        } else {
            try? await gracefulShutdown()
        }
        stop()
    }

    /// Writes this daemon's events to the log and delivers everyone's from it.
    /// A fresh daemon starts `retention` back, so a client resuming with a
    /// `Last-Event-ID` another daemon gave finds its events here too.
    private func relay(_ log: any LiveEventLog) async {
        var cursor = (try? await log.horizon(olderThan: retention)) ?? 0
        // Ids are taken before commit: an id below the cursor may become visible
        // later (or never: a rolled-back insert). Such holes are asked for again
        // for a few seconds, then forgotten.
        var holes: [Int64: Date] = [:]
        var lastPrune = Date.distantPast
        var iterator = wakes.makeAsyncIterator()
        repeat {
            let bodies = lock.withLock { () -> [String] in
                defer { outgoing.removeAll() }
                return outgoing
            }
            if !bodies.isEmpty {
                do {
                    _ = try await log.append(bodies)
                } catch {
                    // The database is unreachable: keep them for the next try.
                    lock.withLock { outgoing.insert(contentsOf: bodies, at: 0) }
                }
            }
            while let page = try? await log.events(after: cursor, limit: 2_000), !page.isEmpty {
                let now = Date()
                for event in page {
                    if cursor > 0, event.id > cursor + 1, event.id - cursor <= 1_000, holes.count < 10_000 {
                        for missing in (cursor + 1)..<event.id { holes[missing] = now }
                    }
                    cursor = max(cursor, event.id)
                    holes[event.id] = nil
                }
                deliverLogged(page)
                if page.count < 2_000 { break }
            }
            if !holes.isEmpty {
                if let late = try? await log.events(ids: Array(holes.keys)), !late.isEmpty {
                    for event in late { holes[event.id] = nil }
                    deliverLogged(late)
                }
                let expired = Date().addingTimeInterval(-5)
                holes = holes.filter { $0.value > expired }
            }
            if Date().timeIntervalSince(lastPrune) > 60 {
                lastPrune = Date()
                try? await log.prune(olderThan: max(retention, 3_600))
            }
            if await iterator.next() == nil { return }
        } while !Task.isCancelled
    }

    private func deliverLogged(_ logged: [LoggedEvent]) {
        let events = logged.compactMap(LiveEvent.init(logged:))
        for event in events where event.type.hasPrefix("room.") { noteAssignee(event) }
        deliver(events)
        if events.contains(where: { $0.type == "message.delivery" }), let onDelivery { onDelivery() }
    }

    private var deliveryHook: (@Sendable () -> Void)?

    /// Called when delivery events arrive from the event log (several daemons).
    var onDelivery: (@Sendable () -> Void)? {
        get { lock.withLock { deliveryHook } }
        set { lock.withLock { deliveryHook = newValue } }
    }

    /// Keeps the room → agent map current with transitions made on other daemons.
    private func noteAssignee(_ event: LiveEvent) {
        guard let roomID = event.roomID, let json = event.dataJSON,
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        else { return }
        let status = object["status"] as? String
        let agent = status == "assigned" ? ((object["assignee_id"] as? NSNumber)?.int64Value ?? 0) : 0
        lock.withLock { assignees[roomID] = agent }
    }
}
