import Foundation
import GRDB
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `omnichatd` binary, run as a real process.
final class DaemonProcess: @unchecked Sendable {
    static var binary: URL? {
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["OMNICHATD_BIN"] { candidates.append(URL(fileURLWithPath: explicit)) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("omnichatd"))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("omnichatd"))
        candidates.append(repositoryRoot.appendingPathComponent(".build/debug/omnichatd"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    let process = Process()
    private let lock = NSLock()
    private var output = ""
    private let outputFinished = DispatchSemaphore(value: 0)
    /// Signalled by Foundation's termination handler. `waitUntilExit()` is
    /// not used: it spins a run loop that can hang on Linux
    /// (swiftlang/swift-corelibs-foundation#5153), which once held a CI run
    /// until its time ran out.
    private let exited = DispatchSemaphore(value: 0)

    init(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, directory: URL? = nil) throws {
        let binary = try #require(Self.binary, "omnichatd is not built: run `swift build` (make test does)")
        process.executableURL = binary
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        // A reader thread until EOF, so `wait()` can return only once every
        // byte the process wrote has been read (a readability handler may
        // still be behind when the process has exited).
        let reader = pipe.fileHandleForReading
        let finished = self.outputFinished
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        Thread { [weak self] in
            while true {
                let data = reader.availableData
                if data.isEmpty { break }
                guard let self else { continue }
                self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
            }
            finished.signal()
        }.start()
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
    }

    var text: String { lock.withLock { output } }

    /// The port from the "listening on HOST:PORT" line.
    func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        var port: Int?
        try await eventually(timeout: timeout, "omnichatd to listen") {
            guard process.isRunning else { return true }
            if let line = text.split(separator: "\n").first(where: { $0.contains("omnichatd: listening on") }),
                let value = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                port = value
            }
            return port != nil
        }
        return try #require(port, "omnichatd exited: \(text)")
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// The exit status, once the process has exited and its output is read to
    /// the end. A process still running after `timeout` is recorded as a
    /// failure and SIGKILLed, so a test never waits forever.
    func wait(timeout: Duration = .seconds(60)) async -> Int32 {
        let process = self.process
        let finished = self.outputFinished
        let exited = self.exited
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let inTime = await Task.detached {
            let inTime = exited.wait(timeout: .now() + seconds) == .success
            if !inTime {
                kill(process.processIdentifier, SIGKILL)
                _ = exited.wait(timeout: .now() + 10)
            }
            exited.signal()  // later waits return at once
            _ = finished.wait(timeout: .now() + 5)
            finished.signal()
            return inTime
        }.value
        if !inTime {
            Issue.record("omnichatd \(process.arguments ?? []) was still running after \(timeout); SIGKILLed. Output:\n\(text)")
        }
        return process.isRunning ? -1 : process.terminationStatus
    }
}

@Suite("omnichatd as a process", .serialized)
struct ProcessTests {
    @Test("SIGKILL after acknowledging updates, restart: every acknowledged message is there once, and routed")
    func crashSafety() async throws {
        let fake = FakeTelegram()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        try TestDaemon.telegramChannel(apiBase: fake.baseURL).write(to: adapters.appendingPathComponent("tg.toml"), atomically: true, encoding: .utf8)
        let database = directory.appendingPathComponent("omnichat.db").path
        let common = ["--adapters", adapters.path, "--database", database]
        let env = [
            "OMNICHAT_ADMIN_EMAIL": "root@example.com", "OMNICHAT_ADMIN_PASSWORD": "root-password",
            "OMNICHAT_DEFAULT_MAX_OPEN_ROOMS": "10000", "OMNICHAT_LOG_LEVEL": "warning",
        ]

        // The CLI adds the agent (password on stdin).
        let add = try DaemonProcess(
            ["users", "add", "--email", "agent@example.com", "--name", "Agent", "--role", "agent"] + common, stdin: "agent-password\n")
        #expect(await add.wait() == 0, "users add: \(add.text)")

        var daemon = try DaemonProcess(["serve", "--port", "0"] + common, environment: env)
        var base = "http://127.0.0.1:\(try await daemon.waitForPort())"
        let login = try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "agent@example.com", "password": "agent-password"])
        let token = try #require(login["token"] as? String)
        #expect(try await call("PUT", "\(base)/api/v1/me/status", json: ["online": true], token: token).status == 200)

        // A stream of updates, one chat each; the daemon is killed in the middle of it.
        let total = 300
        let acknowledged = AckSet()
        let firstBase = base
        let sender = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<6 {
                    group.addTask {
                        for id in stride(from: worker + 1, through: total, by: 6) {
                            let url = firstBase
                            guard let response = try? await call(
                                "POST", "\(url)/webhooks/tg", body: telegramUpdate(id, chat: Int64(id)),
                                headers: [("X-Telegram-Bot-Api-Secret-Token", "test-secret")])
                            else { continue }
                            if response.status == 200 { acknowledged.insert(id) }
                        }
                    }
                }
            }
        }
        try await eventually("some acknowledgements") { acknowledged.count >= 60 }
        daemon.signal(SIGKILL)
        #expect(await daemon.wait() == SIGKILL)
        await sender.value
        let ackedBeforeKill = acknowledged.snapshot
        #expect(ackedBeforeKill.count >= 60)
        #expect(ackedBeforeKill.count < total, "the kill came before the end of the stream")

        daemon = try DaemonProcess(["serve", "--port", "0"] + common, environment: env)
        base = "http://127.0.0.1:\(try await daemon.waitForPort())"
        // What was acknowledged is stored, once, and every room gets routed (the agent is still online).
        let adminLogin = try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "root@example.com", "password": "root-password"])
        let admin = try #require(adminLogin["token"] as? String)
        var rooms: [[String: Any]] = []
        try await eventually("every stored room to be assigned") {
            rooms = try await allRooms(base, admin)
            return !rooms.isEmpty && rooms.allSatisfy { $0["status"] as? String == "assigned" }
        }
        let stored = Set(rooms.compactMap { ($0["contact"] as? [String: Any])?["external_id"] as? String }.compactMap(Int.init))
        #expect(ackedBeforeKill.isSubset(of: stored), "acknowledged but lost: \(ackedBeforeKill.subtracting(stored).sorted())")
        for room in rooms.prefix(20) {
            let id = try #require(room["id"].asID)
            let messages = try await call("GET", "\(base)/api/v1/rooms/\(id)/messages", token: admin)
            #expect((messages["messages"] as? [Any])?.count == 1)
        }

        // The network replays what was not acknowledged; redeliveries of the rest are dropped.
        // A 503 (the store busy under the parallel test load) is retried, as networks do.
        for id in 1...total {
            var status = 0
            for _ in 0..<20 {
                status = try await call(
                    "POST", "\(base)/webhooks/tg", body: telegramUpdate(id, chat: Int64(id)),
                    headers: [("X-Telegram-Bot-Api-Secret-Token", "test-secret")]
                ).status
                if status != 503 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(status == 200)
        }
        try await eventually("all rooms assigned after the replay") {
            rooms = try await allRooms(base, admin)
            return rooms.count == total && rooms.allSatisfy { $0["status"] as? String == "assigned" }
        }
        var messageCount = 0
        for room in rooms {
            let messages = try await call("GET", "\(base)/api/v1/rooms/\(room["id"].asID!)/messages", token: admin)
            messageCount += (messages["messages"] as? [Any])?.count ?? 0
        }
        #expect(messageCount == total, "each update stored exactly once")

        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0, "SIGTERM exits 0: \(daemon.text)")
    }

    @Test("SIGHUP reloads adapters.d: channels added and removed; an invalid file keeps the previous configuration and is reported")
    func reload() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        try TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9").write(to: adapters.appendingPathComponent("tg.toml"), atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            ["serve", "--port", "0", "--adapters", adapters.path, "--database", directory.appendingPathComponent("r.db").path],
            environment: ["OMNICHAT_ADMIN_EMAIL": "root@example.com", "OMNICHAT_ADMIN_PASSWORD": "root-password", "OMNICHAT_LOG_LEVEL": "warning"])
        let base = "http://127.0.0.1:\(try await daemon.waitForPort())"
        let token = try #require(
            try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "root@example.com", "password": "root-password"])["token"] as? String)
        func post(_ channel: String, _ id: Int) async throws -> Int {
            try await call(
                "POST", "\(base)/webhooks/\(channel)", body: telegramUpdate(id), headers: [("X-Telegram-Bot-Api-Secret-Token", "test-secret")]
            ).status
        }
        #expect(try await post("second", 1) == 404)

        try TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9").write(
            to: adapters.appendingPathComponent("second.toml"), atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await eventually("the new channel") { try await post("second", 2) == 200 }

        try "kind = \"telegram\"\n".write(to: adapters.appendingPathComponent("broken.toml"), atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await eventually("the refused reload to be reported") {
            let channels = try await call("GET", "\(base)/api/v1/channels", token: token)
            return ((channels["config"] as? [String: Any])?["reload_error"] as? String)?.contains("broken.toml") == true
        }
        #expect(try await post("second", 3) == 200, "the previous configuration keeps running")
        #expect(try await post("tg", 4) == 200)
        let metrics = try await call("GET", "\(base)/metrics")
        #expect(metrics.text.contains(#"omnichat_config_reloads_total{outcome="error"} 1"#))

        try FileManager.default.removeItem(at: adapters.appendingPathComponent("broken.toml"))
        try FileManager.default.removeItem(at: adapters.appendingPathComponent("second.toml"))
        daemon.signal(SIGHUP)
        try await eventually("the removed channel to go") { try await post("second", 5) == 404 }
        let channels = try await call("GET", "\(base)/api/v1/channels", token: token)
        #expect((channels["config"] as? [String: Any])?["reload_error"] is NSNull)
        #expect((channels["channels"] as? [[String: Any]])?.map { $0["id"] as? String } == ["tg"])
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0)
    }

    @Test("secrets never reach the logs (even at trace level), the metrics, errors or API answers")
    func noSecretsInLogs() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        try TestDaemon.telegramChannel(apiBase: fake.baseURL, secret: "webhook-secret-XYZ").write(
            to: adapters.appendingPathComponent("tg.toml"), atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(
            ["serve", "--port", "0", "--adapters", adapters.path, "--database", directory.appendingPathComponent("s.db").path],
            environment: ["OMNICHAT_ADMIN_EMAIL": "root@example.com", "OMNICHAT_ADMIN_PASSWORD": "admin-password-XYZ", "OMNICHAT_LOG_LEVEL": "trace"])
        let base = "http://127.0.0.1:\(try await daemon.waitForPort())"
        // A failed login, a bad webhook secret, a good update, a reply delivered, a reply refused.
        _ = try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "root@example.com", "password": "wrong-password-XYZ"])
        _ = try await call("POST", "\(base)/webhooks/tg", body: telegramUpdate(1), headers: [("X-Telegram-Bot-Api-Secret-Token", "guess-XYZ")])
        _ = try await call("POST", "\(base)/webhooks/tg", body: telegramUpdate(2), headers: [("X-Telegram-Bot-Api-Secret-Token", "webhook-secret-XYZ")])
        let login = try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "root@example.com", "password": "admin-password-XYZ"])
        let token = try #require(login["token"] as? String)
        _ = try await call("PUT", "\(base)/api/v1/me/status", json: ["online": true], token: token)
        let roomID = try await { () async throws -> Int64 in
            var id: Int64?
            try await eventually("the room") {
                id = (try await call("GET", "\(base)/api/v1/rooms", token: token)["rooms"] as? [[String: Any]])?.first?["id"].asID
                return id != nil
            }
            return id!
        }()
        _ = try await call("POST", "\(base)/api/v1/rooms/\(roomID)/messages", json: ["text": "ok"], token: token)
        try await eventually("delivered") { fake.calls(to: "sendMessage").count == 1 }
        fake.respond([(401, #"{"ok":false,"error_code":401,"description":"Unauthorized"}"#)])
        _ = try await call("POST", "\(base)/api/v1/rooms/\(roomID)/messages", json: ["text": "refused"], token: token)
        try await eventually("refused") { fake.calls(to: "sendMessage").count == 2 }
        try await Task.sleep(for: .milliseconds(300))
        // What the API, the errors and the metrics show.
        var shown: [String] = []
        for path in ["/metrics", "/api/v1/channels", "/api/v1/settings", "/api/v1/rooms/\(roomID)/messages", "/api/v1/deliveries", "/api/v1/me", "/api/v1/audit"] {
            shown.append(try await call("GET", base + path, token: token).text)
        }
        shown.append(try await call("POST", "\(base)/webhooks/tg", body: telegramUpdate(3), headers: [("X-Telegram-Bot-Api-Secret-Token", "guess-XYZ")]).text)
        shown.append(try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "root@example.com", "password": "wrong-password-XYZ"]).text)
        for text in shown {
            for secret in ["123456:TEST-token", "TEST-token", "webhook-secret-XYZ", "admin-password-XYZ", "wrong-password-XYZ", "guess-XYZ"] {
                #expect(!text.contains(secret), "an API answer or the metrics contain a secret: \(text.prefix(200))")
            }
        }
        #expect(shown[0].contains("omnichat_"), "the metrics were read")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0)
        let logs = daemon.text
        #expect(logs.contains("trace") || logs.contains("debug") || logs.contains("info"), "the daemon logged at all")
        for secret in ["123456:TEST-token", "TEST-token", "webhook-secret-XYZ", "admin-password-XYZ", "wrong-password-XYZ", "guess-XYZ", token] {
            #expect(!logs.contains(secret), "the logs contain a secret")
        }
    }

    @Test("a port already taken: the second daemon exits non-zero at once, saying so (no spinning)")
    func portTaken() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try DaemonProcess(
            ["serve", "--port", "0", "--adapters", repositoryRoot.appendingPathComponent("adapters.d").path, "--database", directory.appendingPathComponent("a.db").path])
        let port = try await first.waitForPort()
        let second = try DaemonProcess(
            ["serve", "--port", "\(port)", "--adapters", repositoryRoot.appendingPathComponent("adapters.d").path, "--database", directory.appendingPathComponent("b.db").path])
        let clock = ContinuousClock()
        let started = clock.now
        let code = await second.wait()
        #expect(code != 0)
        #expect(clock.now - started < .seconds(15))
        #expect(second.text.contains("Address already in use"), "\(second.text.suffix(300))")
        first.signal(SIGTERM)
        #expect(await first.wait() == 0)
    }

    @Test("users set-password: stdin, sessions end, clear errors; a set OMNICHAT_ADMIN_PASSWORD with an admin is said to be ignored")
    func setPassword() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        let common = ["--adapters", adapters.path, "--database", directory.appendingPathComponent("omnichat.db").path]
        let add = try DaemonProcess(["users", "add", "--email", "boss@example.com", "--name", "Boss", "--role", "admin"] + common, stdin: "first-password\n")
        #expect(await add.wait() == 0, "users add: \(add.text)")

        let set = try DaemonProcess(["users", "set-password", "--email", "boss@example.com"] + common, stdin: "second-password\n")
        #expect(await set.wait() == 0, "\(set.text)")
        #expect(set.text.contains("set the password of admin boss@example.com"))
        #expect(!set.text.contains("second-password"))
        let unknown = try DaemonProcess(["users", "set-password", "--email", "nobody@example.com"] + common, stdin: "third-password\n")
        #expect(await unknown.wait() == 1)
        #expect(unknown.text.contains("no user with email 'nobody@example.com'"))
        let short = try DaemonProcess(["users", "set-password", "--email", "boss@example.com"] + common, stdin: "short\n")
        #expect(await short.wait() != 0)
        #expect(short.text.contains("at least 8 characters"))
        let empty = try DaemonProcess(["users", "set-password", "--email", "boss@example.com"] + common, stdin: "")
        #expect(await empty.wait() != 0)
        #expect(empty.text.contains("no password on standard input"))

        // The walk-through's variable, with an admin already there: said to be ignored, and how to change it.
        let daemon = try DaemonProcess(
            ["serve", "--port", "0"] + common, environment: ["OMNICHAT_ADMIN_PASSWORD": "change-me-now", "OMNICHAT_ADMIN_EMAIL": "boss@example.com"])
        let port = try await daemon.waitForPort()
        #expect(daemon.text.contains("OMNICHAT_ADMIN_PASSWORD is ignored"))
        #expect(daemon.text.contains("omnichatd users set-password --email boss@example.com"))
        #expect(!daemon.text.contains("change-me-now"))
        let base = "http://127.0.0.1:\(port)"
        #expect(try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "boss@example.com", "password": "second-password"]).status == 200)
        #expect(try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "boss@example.com", "password": "first-password"]).status == 401)
        #expect(try await call("POST", "\(base)/api/v1/auth/login", json: ["email": "boss@example.com", "password": "change-me-now"]).status == 401)
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0)
    }

    @Test("started outside the source tree, the daemon still serves the console; a console_dir set to a missing folder is said at start")
    func consoleAnywhere() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let adapters = directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        let common = ["serve", "--port", "0", "--adapters", adapters.path, "--database", directory.appendingPathComponent("omnichat.db").path]
        // The working directory has no console/: the default finds the one the binary was built with.
        let daemon = try DaemonProcess(common, environment: ["OMNICHAT_LOG_LEVEL": "notice"], directory: directory)
        let port = try await daemon.waitForPort()
        let page = try await call("GET", "http://127.0.0.1:\(port)/")
        #expect(page.status == 200)
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("console/index.html"), encoding: .utf8)
        #expect(page.text == shipped)
        #expect(daemon.text.contains("web console served from"), "\(daemon.text)")
        daemon.signal(SIGTERM)
        #expect(await daemon.wait() == 0)

        let missing = try DaemonProcess(common, environment: ["OMNICHAT_CONSOLE_DIR": directory.appendingPathComponent("nope").path], directory: directory)
        let other = try await missing.waitForPort()
        #expect(try await call("GET", "http://127.0.0.1:\(other)/").status == 404)
        #expect(try await call("GET", "http://127.0.0.1:\(other)/healthz").status == 200)
        #expect(missing.text.contains("no web console"), "\(missing.text)")
        missing.signal(SIGTERM)
        #expect(await missing.wait() == 0)
    }

    @Test("make run starts the built binary without a build when no source changed", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/make")))
    func makeRunWithoutRebuild() async throws {
        // The binary is newer than every source (as after a build; git checkouts can
        // leave SwiftPM's unchanged binary older, so the test sets it).
        let binary = repositoryRoot.appendingPathComponent(".build/debug/omnichatd").resolvingSymlinksInPath()
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "omnichatd is not built")
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: binary.path)
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-C", repositoryRoot.path, "-n", "run"]
        let pipe = Pipe()
        make.standardOutput = pipe
        make.standardError = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        make.terminationHandler = { _ in done.signal() }
        try make.run()
        let output = await Task.detached { () -> String in
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            _ = done.wait(timeout: .now() + 60)
            return String(decoding: data, as: UTF8.self)
        }.value
        #expect(make.terminationStatus == 0, "\(output)")
        #expect(output.contains("omnichatd serve"), "\(output)")
        #expect(!output.contains("swift build"), "make run would build although nothing changed:\n\(output)")
    }

    @Test("check-config accepts the samples and rejects a bad drop-in naming file and key")
    func checkConfig() async throws {
        let good = try DaemonProcess(["check-config", "--adapters", repositoryRoot.appendingPathComponent("adapters.d").path])
        #expect(await good.wait() == 0, "\(good.text)")
        #expect(good.text.contains("telegram"))

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "kind = \"telegram\"\ntoken = \"1:SECRETPART\"\napi_base = \"not a url\"\n"
            .write(to: directory.appendingPathComponent("broken.toml"), atomically: true, encoding: .utf8)
        let bad = try DaemonProcess(["check-config", "--adapters", directory.path])
        #expect(await bad.wait() != 0)
        #expect(bad.text.contains("broken.toml"))
        #expect(bad.text.contains("api_base"))
        #expect(!bad.text.contains("SECRETPART"))

        // serve refuses to start on the same error.
        let serve = try DaemonProcess(["serve", "--port", "0", "--adapters", directory.path, "--database", directory.appendingPathComponent("x.db").path])
        #expect(await serve.wait() != 0)
        #expect(serve.text.contains("broken.toml"))
    }

    @Test("migrate --dry-run lists what a file needs and applies nothing; a file of a newer release is refused by migrate and serve")
    func migrations() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("m.db")
        let common = ["--adapters", repositoryRoot.appendingPathComponent("adapters.d").path, "--database", file.path]
        let dry = try DaemonProcess(["migrate", "--dry-run"] + common)
        #expect(await dry.wait() == 0, "\(dry.text)")
        #expect(dry.text.contains("pending migration(s) (dry run: nothing applied)") && dry.text.contains("  v1\n"), "\(dry.text)")
        #expect(!FileManager.default.fileExists(atPath: file.path), "a dry run creates no file")

        let apply = try DaemonProcess(["migrate"] + common)
        #expect(await apply.wait() == 0, "\(apply.text)")
        #expect(apply.text.contains("applied"))
        let again = try DaemonProcess(["migrate", "--dry-run"] + common)
        #expect(await again.wait() == 0)
        #expect(again.text.contains("the schema is up to date"), "\(again.text)")

        // A release from the future left a migration this one does not know.
        try await DatabaseQueue(path: file.path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a newer release')")
        }
        let refused = try DaemonProcess(["migrate", "--dry-run"] + common)
        #expect(await refused.wait() == 1)
        #expect(refused.text.contains("was written by a newer omnichatd") && refused.text.contains("v99: from a newer release"), "\(refused.text)")
        let serve = try DaemonProcess(["serve", "--port", "0"] + common, environment: ["OMNICHAT_ADMIN_PASSWORD": "a-long-password"])
        #expect(await serve.wait() == 1)
        #expect(serve.text.contains("was written by a newer omnichatd"), "\(serve.text)")
        let rows = try await DatabaseQueue(path: file.path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations") ?? 0 }
        #expect(rows == (try await dryRunCount(common)) , "nothing was migrated on the newer file")
    }

    /// The number of migrations a fresh file would get (every one this release knows) plus the newer one.
    private func dryRunCount(_ common: [String]) async throws -> Int {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fresh = try DaemonProcess(["migrate", "--dry-run", "--adapters", common[1], "--database", directory.appendingPathComponent("f.db").path])
        _ = await fresh.wait()
        return fresh.text.split(separator: "\n").filter { $0.hasPrefix("  ") }.count + 1
    }

    @Test("backup while webhooks arrive, then restore: every webhook acknowledged before the backup is there; an existing, damaged or newer file is refused")
    func backupAndRestore() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        for n in 1...100 { #expect(try await daemon.postUpdate(telegramUpdate(n, chat: Int64(n % 10 + 1))).status == 200) }
        let common = ["--adapters", daemon.configuration.adapters]
        let copy = daemon.directory.appendingPathComponent("copy.db").path
        // More webhooks while the backup runs.
        let more = Task {
            var acknowledged = 0
            for n in 101...400 where (try? await daemon.postUpdate(telegramUpdate(n, chat: Int64(n % 10 + 1))).status) == 200 { acknowledged += 1 }
            return acknowledged
        }
        try await Task.sleep(for: .milliseconds(50))
        let backup = try DaemonProcess(["backup", "--to", copy, "--database", daemon.configuration.database] + common)
        #expect(await backup.wait() == 0, "\(backup.text)")
        #expect(backup.text.contains("integrity ok"))
        let later = await more.value
        #expect(later == 300)
        let again = try DaemonProcess(["backup", "--to", copy, "--database", daemon.configuration.database] + common)
        #expect(await again.wait() == 1)
        #expect(again.text.contains("exists"), "\(again.text)")
        await daemon.stop()

        let restored = daemon.directory.appendingPathComponent("restored.db").path
        let restore = try DaemonProcess(["restore", "--from", copy, "--database", restored] + common)
        #expect(await restore.wait() == 0, "\(restore.text)")
        let stored = try await DatabaseQueue(path: restored).read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM messages WHERE direction = 'inbound'") ?? 0
        }
        #expect(stored >= 100 && stored <= 400, "the copy holds the 100 acknowledged before it and some of those during it (\(stored))")
        let overwrite = try DaemonProcess(["restore", "--from", copy, "--database", restored] + common)
        #expect(await overwrite.wait() == 1)
        #expect(overwrite.text.contains("add --replace"), "\(overwrite.text)")
        let replaced = try DaemonProcess(["restore", "--from", copy, "--database", restored, "--replace"] + common)
        #expect(await replaced.wait() == 0, "\(replaced.text)")

        let damaged = daemon.directory.appendingPathComponent("damaged.db").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: damaged))
        let refused = try DaemonProcess(["restore", "--from", damaged, "--database", daemon.directory.appendingPathComponent("x.db").path] + common)
        #expect(await refused.wait() == 1)
        #expect(refused.text.contains("is not a readable SQLite database") || refused.text.contains("integrity"), "\(refused.text)")
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.appendingPathComponent("x.db").path))

        try await DatabaseQueue(path: copy).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a newer release')")
        }
        let newer = try DaemonProcess(["restore", "--from", copy, "--database", restored, "--replace"] + common)
        #expect(await newer.wait() == 1)
        #expect(newer.text.contains("was written by a newer omnichatd"), "\(newer.text)")
    }

    @Test("telegram set-webhook registers our URL and secret through the configured API base")
    func setWebhook() async throws {
        let fake = FakeTelegram()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try TestDaemon.telegramChannel(apiBase: fake.baseURL, secret: "hook-secret")
            .write(to: directory.appendingPathComponent("support.toml"), atomically: true, encoding: .utf8)
        let run = try DaemonProcess(
            ["telegram", "set-webhook", "--channel", "support", "--adapters", directory.path, "--database", directory.appendingPathComponent("x.db").path],
            environment: ["OMNICHAT_PUBLIC_BASE_URL": "https://chat.example.com"])
        #expect(await run.wait() == 0, "\(run.text)")
        let call = try #require(fake.calls(to: "setWebhook").first)
        #expect(call.json["url"] as? String == "https://chat.example.com/webhooks/support")
        #expect(call.json["secret_token"] as? String == "hook-secret")
        #expect(!run.text.contains("TEST-token"))
    }
}

final class AckSet: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<Int> = []
    func insert(_ id: Int) { lock.withLock { _ = ids.insert(id) } }
    var count: Int { lock.withLock { ids.count } }
    var snapshot: Set<Int> { lock.withLock { ids } }
}

func allRooms(_ base: String, _ token: String) async throws -> [[String: Any]] {
    var rooms: [[String: Any]] = []
    var cursor: String?
    repeat {
        let query = cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? ""
        let page = try await call("GET", "\(base)/api/v1/rooms?limit=200\(query)", token: token)
        rooms += page["rooms"] as? [[String: Any]] ?? []
        cursor = page["next_cursor"] as? String
    } while cursor != nil
    return rooms
}
