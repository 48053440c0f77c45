import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The crash-safety proof (`make test-faults`): signed webhooks from every
/// network and agent replies stream into the real omnichatd binary while it
/// is SIGKILLed at random moments and restarted; unacknowledged webhooks are
/// replayed, as the networks do. `OMNICHAT_FAULT_KILLS` sets the number of
/// kills (`make test` runs a short round, `make test-faults` at least 20).
@Suite("Faults: SIGKILL storm across every network", .serialized)
struct FaultTests {
    static var kills: Int { Int(ProcessInfo.processInfo.environment["OMNICHAT_FAULT_KILLS"] ?? "") ?? 3 }

    /// The fake of every network's send API at once. LINE refuses a retry key
    /// it already accepted with 409, as LINE does; the custom channel's
    /// receiver drops an `event_id` it has seen, as merchants are told to.
    final class Networks: @unchecked Sendable {
        let fake = FakeNetwork()
        private let lock = NSLock()
        private var lineKeys: Set<String> = []
        private var customIDs: Set<String> = []
        /// reply text → (network, requests carrying it, of which accepted as new)
        private var seen: [String: (network: String, requests: Int, delivered: Int)] = [:]

        func start() async throws {
            fake.decide = { [unowned self] call, n in self.answer(call, n) }
            try await fake.start()
        }

        func text(_ call: FakeNetwork.Call) -> (String, String)? {
            let json = call.json
            if call.path.hasSuffix("/sendMessage") { return ("telegram", json["text"] as? String ?? "") }
            if call.path.hasSuffix("/me/messages") { return ("messenger", (json["message"] as? [String: Any])?["text"] as? String ?? "") }
            if call.path.hasSuffix("/106540352242922/messages") { return ("whatsapp", (json["text"] as? [String: Any])?["body"] as? String ?? "") }
            if call.path.contains("/v2/bot/message/") {
                return ("line", (json["messages"] as? [[String: Any]])?.first?["text"] as? String ?? "")
            }
            if call.path == "/hook" { return ("custom", (json["message"] as? [String: Any])?["text"] as? String ?? "") }
            return nil
        }

        func answer(_ call: FakeNetwork.Call, _ n: Int) -> FakeNetwork.Answer {
            guard call.method == "POST", let (network, text) = text(call) else {
                // Profile look-ups and the like.
                return .init(status: 200, body: #"{"displayName":"Lin","first_name":"Mo","name":"Mo"}"#)
            }
            var fresh = true
            lock.withLock {
                if network == "line", let key = call.header("X-Line-Retry-Key") { fresh = lineKeys.insert(key).inserted }
                if network == "custom", let id = call.json["event_id"] as? String { fresh = customIDs.insert(id).inserted }
                var entry = seen[text] ?? (network, 0, 0)
                entry.requests += 1
                if fresh { entry.delivered += 1 }
                seen[text] = entry
            }
            switch network {
            case "telegram": return .init(status: 200, body: #"{"ok":true,"result":{"message_id":\#(n)}}"#)
            case "messenger": return .init(status: 200, body: #"{"recipient_id":"U","message_id":"m_out_\#(n)"}"#)
            case "whatsapp": return .init(status: 200, body: #"{"messaging_product":"whatsapp","messages":[{"id":"wamid.out\#(n)"}]}"#)
            case "line":
                return fresh
                    ? .init(status: 200, body: #"{"sentMessages":[{"id":"\#(n)","quoteToken":"q"}]}"#)
                    : .init(status: 409, body: #"{"message":"The retry key is already accepted"}"#, headers: [("x-line-accepted-request-id", "req-" + String(n))])
            default: return .init(status: 200, body: "{}")
            }
        }

        var deliveries: [String: (network: String, requests: Int, delivered: Int)] { lock.withLock { seen } }
    }

    /// A signed request for event `id`: networks in turn, 40 customers each.
    static func webhook(_ id: Int) -> (channel: String, body: Data, headers: [(name: String, value: String)]) {
        let networks = ["telegram", "messenger", "whatsapp", "line", "custom"]
        let network = networks[id % networks.count]
        let customer = 100 + (id / networks.count) % 40
        let text = "e-\(id)"
        if network == "telegram" {
            return ("telegram", telegramUpdate(id, chat: Int64(customer), text: text), [("X-Telegram-Bot-Api-Secret-Token", "test-secret")])
        }
        let (body, headers) = networkCases.first { $0.name == network }!.inbound(text, "cust\(customer)", id)
        return (network, body, headers)
    }

    @Test("acknowledged events stored once, rooms routed, replies delivered, store sound")
    func storm() async throws {
        let kills = Self.kills
        let networks = Networks()
        try await networks.start()
        defer { Task { await networks.fake.stop() } }
        let base = networks.fake.baseURL
        var dropIns = ["telegram": TestDaemon.telegramChannel(apiBase: base)]
        for network in networkCases {
            // Exactly once on LINE: pushes carry a retry key (the reply token is single-use and has none).
            dropIns[network.name] = network.dropIn(base) + (network.name == "line" ? "reply_token_lifetime_seconds = 0\n" : "")
        }
        let folder = try await DaemonFolder(dropIns: dropIns)
        defer { folder.remove() }
        let database = folder.database
        let common = folder.common
        let env = [
            "OMNICHAT_ADMIN_EMAIL": "root@example.com", "OMNICHAT_ADMIN_PASSWORD": "root-password",
            "OMNICHAT_DEFAULT_MAX_OPEN_ROOMS": "100000", "OMNICHAT_LOG_LEVEL": "warning",
        ]
        var daemon = try DaemonProcess(["serve", "--port", "0"] + common, environment: env)
        let port = try await daemon.waitForPort()
        let url = "http://127.0.0.1:\(port)"
        let token = try await DaemonFolder.onlineAgent(url)

        // Webhooks: 4 senders work through the events; whatever is not answered 2xx goes back in the queue.
        let total = 60 + kills * 25
        let work = Backlog(Array(1...total))
        let acknowledged = AckSet()
        let sent = SendCounter()
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !work.finished {
                            guard let id = work.take() else {
                                try? await Task.sleep(for: .milliseconds(10))
                                continue
                            }
                            let (channel, body, headers) = Self.webhook(id)
                            sent.add()
                            let answer = try? await call("POST", "\(url)/webhooks/\(channel)", body: body, headers: headers)
                            if answer?.status == 200 {
                                acknowledged.insert(id)
                                work.done()
                                // Paced so that the stream lasts through the storm.
                                try? await Task.sleep(for: .milliseconds(110))
                            } else {
                                work.putBack(id)
                                try? await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
            }
        }
        // Replies: the agent answers rooms while the daemon dies under them.
        let replies = ReplyLog()
        let stopReplies = Flag()
        let replier = Task {
            var n = 0
            var rooms: [Int64] = []
            while !stopReplies.isSet {
                if n % 10 == 0 || rooms.isEmpty {
                    if let page = try? await call("GET", "\(url)/api/v1/rooms?limit=200&status=assigned", token: token) {
                        rooms = (page["rooms"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID }
                    }
                }
                guard let room = rooms.randomElement() else {
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                }
                n += 1
                let text = "r-\(n)"
                replies.attempted(text)
                if let answer = try? await call("POST", "\(url)/api/v1/rooms/\(room)/messages", json: ["text": text], token: token),
                    (200..<300).contains(answer.status)
                {
                    replies.acknowledged(text)
                }
                try? await Task.sleep(for: .milliseconds(25))
            }
        }

        // The storm: a SIGKILL at a random moment, a restart on the same port.
        var done = 0
        for _ in 0..<kills {
            try await Task.sleep(for: .milliseconds(Int.random(in: 150...700)))
            daemon.signal(SIGKILL)
            #expect(await daemon.wait() == SIGKILL)
            done += 1
            daemon = try DaemonProcess(["serve", "--port", "\(port)"] + common, environment: env)
            #expect(try await daemon.waitForPort() == port, "restart on the same port: \(daemon.text)")
        }
        stopReplies.set()
        await replier.value
        await senders.value
        #expect(acknowledged.count == total, "every event acknowledged in the end")

        // Every room routed, every acknowledged reply delivered.
        let admin = try #require(
            try await call("POST", "\(url)/api/v1/auth/login", json: ["email": "root@example.com", "password": "root-password"])["token"] as? String)
        try await eventually(timeout: .seconds(60), "every room assigned") {
            let rooms = try await allRooms(url, admin)
            return !rooms.isEmpty && rooms.allSatisfy { $0["status"] as? String == "assigned" }
        }
        let replied = replies.snapshot
        try await eventually(timeout: .seconds(60), "every acknowledged reply delivered") {
            let seen = networks.deliveries
            return replied.acknowledged.allSatisfy { (seen[$0]?.delivered ?? 0) >= 1 }
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0, "SIGTERM exits 0")

        // Count from the store itself.
        let queue = try DatabaseQueue(path: database)
        let (integrity, foreignKeys, inbound, pendingOutbox) = try await queue.read { db in
            (
                try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "",
                try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count,
                try [String: Int](
                    uniqueKeysWithValues: Row.fetchAll(
                        db, sql: "SELECT text, count(*) AS n FROM messages WHERE direction = 'inbound' GROUP BY text"
                    ).map { ($0["text"] as String? ?? "", $0["n"] as Int) }),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE status NOT IN ('delivered', 'failed')") ?? -1
            )
        }
        let stored = (1...total).filter { inbound["e-\($0)"] != nil }.count
        let duplicates = inbound.values.filter { $0 > 1 }.count
        let lost = acknowledged.snapshot.filter { inbound["e-\($0)"] == nil }.count
        #expect(integrity == "ok")
        #expect(foreignKeys == 0)
        #expect(stored == total)
        #expect(duplicates == 0, "events stored twice")
        #expect(lost == 0, "acknowledged but not stored")
        #expect(pendingOutbox == 0)

        let seen = networks.deliveries
        let lostReplies = replied.acknowledged.filter { (seen[$0]?.delivered ?? 0) == 0 }
        #expect(lostReplies.isEmpty, "acknowledged replies never delivered: \(lostReplies.sorted().prefix(10))")
        // Where the protocol has an idempotency key (LINE pushes, the custom channel's event_id),
        // a resend after a kill is recognised by the receiver: exactly once.
        let idempotent = seen.filter { ["line", "custom"].contains($0.value.network) }
        #expect(idempotent.values.allSatisfy { $0.delivered == 1 }, "a reply delivered twice where the network deduplicates")
        // Telegram, Messenger and WhatsApp have no idempotency key: a kill between the network's
        // answer and our commit of it resends that reply once on restart. Counted, and bounded.
        let resent = seen.values.filter { !["line", "custom"].contains($0.network) && $0.delivered > 1 }.map { $0.delivered - 1 }.reduce(0, +)
        let requests = seen.values.map(\.requests).reduce(0, +)
        #expect(resent <= done * 16, "resends are bounded by the sends in flight at each kill")
        let byNetwork = Dictionary(grouping: seen.values, by: \.network).mapValues { $0.map(\.delivered).reduce(0, +) }
        print(
            """
            fault storm: kills=\(done) events=\(total) sent=\(sent.value) acknowledged=\(acknowledged.count) \
            stored=\(stored) duplicates=\(duplicates) lost=\(lost) integrity=\(integrity) \
            replies_attempted=\(replied.attempted.count) replies_acknowledged=\(replied.acknowledged.count) \
            deliveries=\(seen.values.map(\.delivered).reduce(0, +)) send_requests=\(requests) \
            duplicate_deliveries_idempotent=\(idempotent.values.filter { $0.delivered > 1 }.count) \
            resent_without_idempotency_key=\(resent) lost_replies=\(lostReplies.count) by_network=\(byNetwork.sorted { $0.key < $1.key })
            """)
    }
}

extension FaultTests {
    @Test("SIGTERM under load: exits within the grace period; nothing acknowledged lost; unfinished deliveries go out after restart")
    func gracefulShutdown() async throws {
        let networks = Networks()
        try await networks.start()
        defer { Task { await networks.fake.stop() } }
        // Every send takes 400 ms, so deliveries are in flight when SIGTERM comes.
        let decide = networks.fake.decide!
        networks.fake.decide = { call, n in
            var answer = decide(call, n)
            answer.delay = .milliseconds(400)
            return answer
        }
        let folder = try await DaemonFolder(
            dropIns: ["telegram": TestDaemon.telegramChannel(apiBase: networks.fake.baseURL)], config: "shutdown_grace_seconds = 2\n")
        defer { folder.remove() }
        let database = folder.database
        let common = folder.common
        let env = ["OMNICHAT_DEFAULT_MAX_OPEN_ROOMS": "100000", "OMNICHAT_LOG_LEVEL": "warning"]
        var daemon = try DaemonProcess(["serve", "--port", "0"] + common, environment: env)
        let port = try await daemon.waitForPort()
        let url = "http://127.0.0.1:\(port)"
        let token = try await DaemonFolder.onlineAgent(url)

        // Customers write; the agent answers each room once it is assigned.
        let acknowledged = AckSet()
        let stop = Flag()
        let senders = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        var id = worker
                        while !stop.isSet {
                            id += 6
                            let answer = try? await call(
                                "POST", "\(url)/webhooks/telegram", body: telegramUpdate(id, chat: Int64(id % 50), text: "e-\(id)"),
                                headers: [("X-Telegram-Bot-Api-Secret-Token", "test-secret")])
                            if answer?.status == 200 { acknowledged.insert(id) }
                        }
                    }
                }
            }
        }
        let replies = ReplyLog()
        let replier = Task {
            var n = 0
            while !stop.isSet {
                let page = try? await call("GET", "\(url)/api/v1/rooms?limit=50&status=assigned", token: token)
                for room in (page?["rooms"] as? [[String: Any]] ?? []).compactMap({ $0["id"].asID }).prefix(5) {
                    n += 1
                    if let answer = try? await call("POST", "\(url)/api/v1/rooms/\(room)/messages", json: ["text": "r-\(n)"], token: token),
                        answer.status == 201 || answer.status == 200
                    {
                        replies.acknowledged("r-\(n)")
                    }
                }
                try? await Task.sleep(for: .milliseconds(30))
            }
        }
        try await eventually("load under way") { acknowledged.count >= 100 && replies.snapshot.acknowledged.count >= 10 }
        let clock = ContinuousClock()
        let signalled = clock.now
        daemon.signal(SIGTERM)
        let code = await daemon.wait()
        let took = clock.now - signalled
        stop.set()
        await senders.value
        await replier.value
        #expect(code == 0, "SIGTERM exits 0: \(daemon.text.suffix(500))")
        #expect(took < .seconds(4), "exit took \(took) with a 2 s grace period")

        // Restart: what was acknowledged is there once; every acknowledged reply goes out.
        daemon = try DaemonProcess(["serve", "--port", "0"] + common, environment: env)
        _ = try await daemon.waitForPort()
        let acked = replies.snapshot.acknowledged
        try await eventually(timeout: .seconds(60), "acknowledged replies delivered after the restart") {
            let seen = networks.deliveries
            return acked.allSatisfy { (seen[$0]?.delivered ?? 0) >= 1 }
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0)
        let inbound = try await DatabaseQueue(path: database).read { db in
            try [String: Int](
                uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT text, count(*) AS n FROM messages WHERE direction = 'inbound' GROUP BY text")
                    .map { ($0["text"] as String? ?? "", $0["n"] as Int) })
        }
        let lost = acknowledged.snapshot.filter { inbound["e-\($0)"] == nil }
        #expect(lost.isEmpty, "acknowledged before SIGTERM but not stored: \(lost.sorted().prefix(10))")
        #expect(inbound.values.allSatisfy { $0 == 1 })
        let resent = networks.deliveries.values.filter { $0.delivered > 1 }.count
        print(
            "graceful shutdown: exit=\(code) took=\(took) acknowledged=\(acknowledged.count) lost=\(lost.count) "
                + "replies_acknowledged=\(acked.count) delivered=\(acked.filter { (networks.deliveries[$0]?.delivered ?? 0) >= 1 }.count) resent=\(resent)")
    }
}

/// A daemon's folder for process tests: adapters.d with the given drop-ins,
/// a database path, optionally an omnichat.toml, and an agent added through
/// the CLI (agent@example.com / agent-password).
struct DaemonFolder {
    let directory: URL
    let database: String
    let common: [String]

    init(dropIns: [String: String], config: String? = nil) async throws {
        directory = try temporaryDirectory()
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        for (name, text) in dropIns {
            try text.write(to: adapters.appendingPathComponent("\(name).toml"), atomically: true, encoding: .utf8)
        }
        database = directory.appendingPathComponent("omnichat.db").path
        var common = ["--adapters", adapters.path, "--database", database]
        if let config {
            let file = directory.appendingPathComponent("omnichat.toml")
            try config.write(to: file, atomically: true, encoding: .utf8)
            common += ["--config", file.path]
        }
        self.common = common
        let add = try DaemonProcess(
            ["users", "add", "--email", "agent@example.com", "--name", "Agent", "--role", "agent"] + common, stdin: "agent-password\n")
        #expect(await add.wait() == 0, "users add: \(add.text)")
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Signs the agent in and puts them online; returns their token.
    static func onlineAgent(_ url: String) async throws -> String {
        let login = try await call("POST", "\(url)/api/v1/auth/login", json: ["email": "agent@example.com", "password": "agent-password"])
        let token = try #require(login["token"] as? String)
        #expect(try await call("PUT", "\(url)/api/v1/me/status", json: ["online": true], token: token).status == 200)
        return token
    }
}

/// Work handed out to senders; failures go back to the end.
final class Backlog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int]
    private var outstanding: Int
    init(_ items: [Int]) {
        self.items = items.reversed()
        outstanding = items.count
    }
    func take() -> Int? { lock.withLock { items.popLast() } }
    var finished: Bool { lock.withLock { outstanding == 0 } }
    func putBack(_ item: Int) { lock.withLock { items.insert(item, at: 0) } }
    func done() { lock.withLock { outstanding -= 1 } }
}

final class SendCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var on = false
    func set() { lock.withLock { on = true } }
    var isSet: Bool { lock.withLock { on } }
}

final class ReplyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var tried: Set<String> = []
    private var acked: Set<String> = []
    func attempted(_ text: String) { lock.withLock { _ = tried.insert(text) } }
    func acknowledged(_ text: String) { lock.withLock { _ = acked.insert(text) } }
    var snapshot: (attempted: Set<String>, acknowledged: Set<String>) { lock.withLock { (tried, acked) } }
}
