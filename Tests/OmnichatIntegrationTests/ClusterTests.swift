import Foundation
import OmnichatCore
@testable import OmnichatPostgres
import OmnichatServer
import Testing

/// Several daemons on one PostgreSQL database: each invariant the issue
/// names, enforced by the database. Two `PostgresStore`s (or two daemons) on
/// one schema stand for two machines. Run whenever `OMNICHAT_TEST_POSTGRES`
/// names a server (CI starts one; `scripts/postgres-test-server.sh`).
@Suite("Several daemons on one PostgreSQL", .enabled(if: TestEngine.postgresURL != nil, "needs OMNICHAT_TEST_POSTGRES"))
struct ClusterTests {
    /// `count` stores ("daemons") on one fresh schema, opened at the same moment.
    func stores(_ count: Int, lease: Duration = .seconds(30)) async throws -> (String, [PostgresStore]) {
        let url = TestEngine.freshPostgresURL()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for index in 0..<count {
                group.addTask {
                    var options = PostgresStore.Options()
                    options.nodeName = "node\(index + 1)"
                    options.poolSize = 6
                    options.outboxLease = lease
                    return try await PostgresStore(url: url, options: options, logger: quietLogger())
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.nodeName < $1.nodeName }
        }
        return (url, stores)
    }

    func event(_ id: String, chat: String) -> InboundEvent {
        InboundEvent(
            eventID: id, conversationID: chat, contact: ContactProfile(externalID: chat, displayName: "Customer \(chat)"),
            content: .text("message \(id)"), networkMessageID: id, occurredAt: Date(), raw: "{\"id\":\"\(id)\"}")
    }

    @Test("daemons starting together migrate once; a webhook redelivered to another daemon is stored once")
    func dedupeAcrossDaemons() async throws {
        let (_, stores) = try await stores(3)
        defer { for store in stores { Task { await store.close() } } }
        // 300 events, each sent to all three daemons at once (a network redelivering
        // after a timeout, to whichever daemon the balancer picks).
        let results = try await withThrowingTaskGroup(of: IngestResult.self) { group in
            for i in 0..<300 {
                for store in stores {
                    group.addTask { try await store.ingest(IngestBatch(channelID: "tg", events: [self.event("e\(i)", chat: "c\(i % 40)")])) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.map(\.stored).reduce(0, +) == 300)
        #expect(results.map(\.duplicates).reduce(0, +) == 600)
        #expect(try await stores[0].countMessages() == 300)
        // One room per conversation, whoever opened it.
        #expect(try await stores[1].rooms(RoomFilter(limit: 500)).items.count == 40)
        let retries = stores.map(\.conflictRetries).reduce(0, +)
        print("cluster dedupe: daemons=3 events=300 deliveries=900 stored=300 duplicates=600 serialization_retries=\(retries)")
    }

    @Test("agents' capacity holds and a room gets one agent when daemons allocate at the same moment")
    func capacityAcrossDaemons() async throws {
        let (_, stores) = try await stores(3)
        defer { for store in stores { Task { await store.close() } } }
        var agents: [User] = []
        for index in 0..<4 {
            let user = try await stores[0].createUser(NewUser(email: "a\(index)@x", name: "A\(index)", role: .agent, passwordHash: "x", maxOpenRooms: 2))
            agents.append(try await stores[0].setOnline(userID: user.id, online: true))
        }
        var rooms: [Int64] = []
        for i in 0..<30 {
            let result = try await stores[i % 3].ingest(IngestBatch(channelID: "tg", events: [event("m\(i)", chat: "c\(i)")]))
            rooms += result.roomIDs
        }
        // Every daemon tries every room for every agent at once.
        let assigned = try await withThrowingTaskGroup(of: Bool.self) { group in
            for room in rooms {
                for agent in agents {
                    for store in stores {
                        group.addTask {
                            try await store.assign(roomID: room, to: agent.id, capacity: 2, actor: store.nodeName, replace: false, force: false) != nil
                        }
                    }
                }
            }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(assigned == 8, "4 agents × capacity 2")
        let retried = stores.map(\.conflictRetries).reduce(0, +)
        print("cluster capacity: daemons=3 attempts=\(rooms.count * agents.count * stores.count) assigned=\(assigned) serialization_retries=\(retried)")
        for agent in agents {
            let open = try await stores[2].rooms(RoomFilter(assigneeID: agent.id, statuses: [.assigned], limit: 100)).items
            #expect(open.count == 2)
            #expect(try await stores[1].user(id: agent.id)?.openRooms == 2)
        }
        // Each room's audit trail shows at most one assignment.
        for room in rooms {
            let assignments = try await stores[0].transitions(roomID: room).filter { $0.to == .assigned }
            #expect(assignments.count <= 1)
        }
        // The waiting queue is one queue, oldest first, whichever daemon reads it.
        let waiting0 = try await stores[0].waitingRooms(limit: 100).map(\.id)
        let waiting2 = try await stores[2].waitingRooms(limit: 100).map(\.id)
        #expect(waiting0 == waiting2 && waiting0.count == 22)
        #expect(waiting0 == rooms.filter(waiting0.contains), "oldest first")
    }

    @Test("an outbox row is claimed by one daemon; a dead daemon's lease is taken over when it runs out")
    func outboxLeases() async throws {
        let (_, stores) = try await stores(2, lease: .seconds(1))
        defer { for store in stores { Task { await store.close() } } }
        let agent = try await stores[0].createUser(NewUser(email: "r@x", name: "R", role: .agent, passwordHash: "x"))
        var rooms: [Int64] = []
        for i in 0..<20 {
            rooms += try await stores[0].ingest(IngestBatch(channelID: "tg", events: [event("o\(i)", chat: "o\(i)")])).roomIDs
        }
        for room in rooms {
            _ = try await stores[0].addOutbound(roomID: room, content: .text("reply"), senderUserID: agent.id, senderKeyID: nil)
        }
        // Both daemons claim at once, repeatedly: no row is handed to both.
        let claims = try await withThrowingTaskGroup(of: (Int, [Int64]).self) { group in
            for (index, store) in stores.enumerated() {
                for _ in 0..<5 {
                    group.addTask { (index, try await store.dueOutbox(now: Date(), limit: 3, excluding: []).map(\.id)) }
                }
            }
            return try await group.reduce(into: [[Int64]](repeating: [], count: 2)) { $0[$1.0] += $1.1 }
        }
        let all = claims[0] + claims[1]
        #expect(all.count == Set(all).count, "a row claimed twice: \(all.sorted())")
        #expect(all.count == 20)
        // Daemon 2 gives its rows back (say, its share of a channel is full): daemon 1 takes them.
        try await stores[1].releaseOutbox(claims[1])
        let rest = try await stores[0].dueOutbox(now: Date(), limit: 50, excluding: [])
        #expect(Set(rest.map(\.id)) == Set(claims[1]))
        // Daemon 1 is alive: it renews its leases, so they outlast the 1 s lease.
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await stores[1].dueOutbox(now: Date(), limit: 50, excluding: []).isEmpty)
        // Daemon 1 dies holding all 20 rows: once its lease runs out, daemon 2 takes them over.
        await stores[0].close()
        let died = ContinuousClock.now
        var takenOver: [OutboxItem] = []
        try await eventually(timeout: .seconds(5), "the leases to run out") {
            takenOver += try await stores[1].dueOutbox(now: Date(), limit: 50, excluding: [])
            return takenOver.count == 20
        }
        #expect(ContinuousClock.now - died >= .milliseconds(500), "not before the lease ran out")
        for item in takenOver { try await stores[1].markDelivered(outboxID: item.id, attempts: 1, networkMessageID: nil) }
        #expect(try await stores[1].dueOutbox(now: Date().addingTimeInterval(5), limit: 50, excluding: []).isEmpty)
        #expect(try await stores[1].nextOutboxDue() == nil)
    }

    @Test("an agent on daemon A sees live events caused on daemon B, and Last-Event-ID resumes on either")
    func liveEventsAcrossDaemons() async throws {
        let url = TestEngine.freshPostgresURL()
        let channels = ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]
        let a = try TestDaemon(channels: channels) { $0.database = url; $0.nodeName = "a" }
        let b = try TestDaemon(channels: channels) { $0.database = url; $0.nodeName = "b" }
        try await a.start()
        try await b.start()
        defer {
            a.cleanUp()
            b.cleanUp()
        }
        let (_, token) = try await a.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let onA = try SSEClient(port: a.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("subscribed on a") { a.daemon.live.subscriberCount == 1 }
        for id in 1...3 { #expect(try await b.postUpdate(telegramUpdate(id, chat: Int64(id))).status == 200) }
        try await eventually("a sees b's messages") { onA.events.filter { $0.type == "message.created" }.count == 3 }
        let lastSeen = try #require(onA.events.last?.id)
        onA.close()
        for id in 4...5 { #expect(try await a.postUpdate(telegramUpdate(id, chat: Int64(id))).status == 200) }
        // The session made on a works on b (sessions are in the database); the
        // resume point a gave is understood by b.
        let onB = try SSEClient(port: b.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)", "Last-Event-ID": lastSeen])
        try await eventually("b replays what a's client missed") { onB.events.filter { $0.type == "message.created" }.count == 2 }
        #expect(!onB.events.contains { $0.type == "stream.reset" })
        #expect(onB.events.compactMap { $0.id.flatMap(Int64.init) }.allSatisfy { $0 > Int64(lastSeen)! })
        #expect(Set(onB.events.filter { $0.type == "message.created" }.compactMap { $0.payload["text"] as? String }) == ["hello"])
        onB.close()
        await a.stop()
        await b.stop()
    }

    @Test(
        "TLS: sslmode=verify-full trusts only the given authority; the error names the cause, never the password",
        .enabled(if: ProcessInfo.processInfo.environment["OMNICHAT_TEST_POSTGRES_CA"] != nil, "the test server has no certificate"))
    func tls() async throws {
        let ca = try #require(ProcessInfo.processInfo.environment["OMNICHAT_TEST_POSTGRES_CA"])
        let base = TestEngine.freshPostgresURL().replacingOccurrences(of: "postgres://postgres@", with: "postgres://postgres:s3cret-pw@")
        let verified = try await PostgresStore(url: base + "&sslmode=verify-full&sslrootcert=" + ca, logger: quietLogger())
        let encrypted = try await verified.pool.read { db in try Bool.fetchOne(db, sql: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") }
        #expect(encrypted == true)
        #expect(!verified.location.redacted.contains("s3cret"))
        await verified.close()
        // Without the authority, the self-signed certificate is refused.
        do {
            let store = try await PostgresStore(url: base + "&sslmode=verify-full", logger: quietLogger())
            await store.close()
            Issue.record("an unverifiable certificate was accepted")
        } catch {
            #expect("\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
            #expect(!"\(error)".contains("s3cret"))
        }
        #expect(throws: StorePostgresError.self) { try PostgresStore.Location(url: base + "&sslmode=sometimes") }
    }

    @Test("a daemon whose PostgreSQL connections are all cut answers 503 at worst, reconnects, loses nothing, and its live events resume")
    func connectionsCut() async throws {
        let url = TestEngine.freshPostgresURL()
        let node = "cut-" + String(UUID().uuidString.prefix(8)).lowercased()
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")]) {
            $0.database = url
            $0.nodeName = node
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let admin = try await PostgresStore(url: url, logger: quietLogger())
        let (_, token) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
        let stream = try SSEClient(port: daemon.port, path: "/api/v1/events", headers: ["Authorization": "Bearer \(token)"])
        try await eventually("subscribed") { daemon.daemon.live.subscriberCount == 1 }
        #expect(try await daemon.postUpdate(telegramUpdate(1, chat: 1)).status == 200)
        try await eventually("the first message live") { stream.events.contains { $0.type == "message.created" } }

        // PostgreSQL ends every connection of this daemon (a failover, a network cut).
        let cut = try await admin.pool.writeWithoutTransaction { db in
            try Int.fetchAll(
                db, sql: "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity WHERE application_name = ?",
                arguments: ["omnichatd " + node])
        }
        #expect(cut.count >= 2, "the pool's connections and the listening one")
        // A network redelivers until it gets a 2xx: every message arrives once.
        var refused = 0
        for id in 2...6 {
            var status = 0
            for _ in 0..<20 where status != 200 {
                status = try await daemon.postUpdate(telegramUpdate(id, chat: Int64(id))).status
                if status != 200 {
                    #expect(status == 503, "a lost connection is 'try again', not an error of the request")
                    refused += 1
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(status == 200)
        }
        #expect(refused <= 3)
        print("connections cut: terminated=\(cut.count) answered_503=\(refused) stored=6/6")
        #expect(try await daemon.store.countMessages() == 6)
        try await eventually("live events after the cut") { stream.events.filter { $0.type == "message.created" }.count == 6 }
        #expect(try await call("GET", "\(daemon.base)/readyz").status == 200)
        stream.close()
        await admin.close()
        await daemon.stop()
    }
}
