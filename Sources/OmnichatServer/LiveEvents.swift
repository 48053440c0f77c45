import Foundation
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
    public var roomID: String?
    /// Who may see it besides supervisors and admins: the room's agent, or the agent concerned.
    public var audience: String?
    public var data: [String: any Sendable]
    public var at: Date
}

/// The live event hub: keeps the events of the last `retention` for
/// `Last-Event-ID` resumes, fans them out to subscribers, and knows each open
/// room's agent so an agent is sent only what concerns their rooms.
public final class LiveEvents: Service, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer: [LiveEvent] = []
    private var nextID: Int64
    private var subscribers: [Int: AsyncStream<LiveEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    private var assignees: [String: String] = [:]  // open rooms' agents, for visibility
    private var stopped = false
    let retention: TimeInterval
    let maxBuffered: Int
    let store: any Store

    public init(store: any Store, retention: TimeInterval = 300, maxBuffered: Int = 50_000) {
        self.store = store
        self.retention = retention
        self.maxBuffered = maxBuffered
        self.nextID = Int64(Date().timeIntervalSince1970 * 1_000_000)
    }

    // MARK: Publishing

    func emit(_ type: String, roomID: String?, audience: String?, data: [String: any Sendable]) {
        let subscribers: [AsyncStream<LiveEvent>.Continuation]
        let event: LiveEvent
        lock.lock()
        nextID += 1
        event = LiveEvent(id: nextID, type: type, roomID: roomID, audience: audience, data: data, at: Date())
        buffer.append(event)
        let horizon = Date().addingTimeInterval(-retention)
        if buffer.count > maxBuffered || (buffer.first?.at ?? Date()) < horizon {
            let drop = buffer.firstIndex { $0.at >= horizon } ?? buffer.count
            buffer.removeFirst(max(drop, buffer.count - maxBuffered))
        }
        subscribers = Array(self.subscribers.values)
        lock.unlock()
        for subscriber in subscribers { subscriber.yield(event) }
    }

    /// A room changed state.
    public func room(_ t: RoomTransition) {
        let type: String
        switch (t.from, t.to) {
        case (nil, _): type = "room.created"
        case (_, .assigned): type = "room.assigned"
        case (_, .resolved): type = "room.resolved"
        case (.resolved?, .waiting): type = "room.reopened"
        case (_, .bot): type = "room.bot"
        case (_, .waiting): type = "room.queued"
        }
        let previous = lock.withLock { () -> String? in
            let old = assignees[t.roomID].flatMap { $0.isEmpty ? nil : $0 }
            assignees[t.roomID] = t.to == .assigned ? (t.assigneeID ?? "") : ""
            return old
        }
        var data: [String: any Sendable] = [
            "room_id": t.roomID, "channel": t.channelID, "status": t.to.rawValue, "from_status": t.from?.rawValue,
            "assignee_id": t.assigneeID, "division_id": t.divisionID, "actor": t.actor, "at": t.at.iso8601,
        ]
        data["previous_assignee_id"] = previous
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
    public func delivery(roomID: String, messageID: String, status: DeliveryStatus, attempts: Int, error: String?) async {
        let audience = await agent(of: roomID)
        emit(
            "message.delivery", roomID: roomID, audience: audience,
            data: ["room_id": roomID, "message_id": messageID, "status": status.rawValue, "attempts": attempts, "error": error])
    }

    public func agentStatus(_ user: User) {
        emit(
            user.online ? "agent.online" : "agent.offline", roomID: nil, audience: user.id,
            data: ["agent_id": user.id, "name": user.name, "online": user.online])
    }

    /// The room's agent; unknown rooms are read once and remembered ("" for none),
    /// then kept current by the room transitions this process sees.
    private func agent(of roomID: String) async -> String? {
        if let known = lock.withLock({ assignees[roomID] }) { return known.isEmpty ? nil : known }
        let room = try? await store.room(id: roomID)
        let agent = room?.status == .assigned ? room?.assignee?.id : nil
        lock.withLock { assignees[roomID] = agent ?? "" }
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
        let (stream, continuation) = AsyncStream.makeStream(of: LiveEvent.self, bufferingPolicy: .bufferingNewest(10_000))
        let visible: @Sendable (LiveEvent) -> Bool = { event in user.role >= .supervisor || event.audience == user.id }
        lock.lock()
        if stopped {
            lock.unlock()
            continuation.finish()
            return ([], true, stream)
        }
        nextSubscriber += 1
        let key = nextSubscriber
        var replay: [LiveEvent] = []
        var complete = true
        if case .after(let last) = resume {
            if let oldest = buffer.first?.id, last < oldest - 1 { complete = false }
            replay = buffer.filter { $0.id > last && visible($0) }
        }
        subscribers[key] = continuation
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: key) }
        }
        let filtered = AsyncStream<LiveEvent> { output in
            let task = Task {
                for await event in stream where visible(event) { output.yield(event) }
                output.finish()
            }
            output.onTermination = { _ in
                task.cancel()
                continuation.finish()
            }
        }
        return (replay, complete, filtered)
    }

    public var subscriberCount: Int { lock.withLock { subscribers.count } }

    /// Forwards the event bus's room changes to the stream.
    func follow(_ bus: EventBus) {
        let stream = bus.subscribe(buffer: 100_000)
        Task { [weak self] in
            for await transition in stream {
                guard let self else { return }
                self.room(transition)
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
        for subscriber in all { subscriber.finish() }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        stop()
    }
}

extension LiveEvent {
    /// The event as Server-Sent Events lines.
    var sse: String {
        var object: [String: Any] = ["id": String(id), "type": type, "at": at.iso8601]
        var payload: [String: Any] = [:]
        for (key, value) in data {
            let plain = Self.unwrap(value)
            if !(plain is NSNull) { payload[key] = plain }
        }
        object["data"] = payload
        let json = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return "id: \(id)\nevent: \(type)\ndata: \(String(decoding: json, as: UTF8.self))\n\n"
    }

    static func unwrap(_ value: any Sendable) -> Any {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let child = mirror.children.first else { return NSNull() }
            return child.value
        }
        return value
    }
}
