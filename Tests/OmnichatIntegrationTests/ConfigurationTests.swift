import Foundation
import OmnichatAdapters
import OmnichatCore
import OmnichatPostgres
@testable import OmnichatServer
import Testing

@Suite("Configuration files")
struct ConfigurationTests {
    func withAdapters(_ files: [String: String], _ body: (String) throws -> Void) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try body(directory.path)
    }

    func loader(_ env: [String: String] = [:]) -> ChannelLoader {
        ChannelLoader(factories: BuiltinAdapters.all, environment: env)
    }

    func expectError(_ files: [String: String], env: [String: String] = [:], file: String, key: String?, problem: String) throws {
        try withAdapters(files) { directory in
            do {
                _ = try loader(env).load(directory: directory)
                Issue.record("accepted a bad drop-in")
            } catch let error as ConfigurationError {
                #expect(error.file.hasSuffix(file), "\(error)")
                #expect(error.key == key, "\(error)")
                #expect(error.problem.contains(problem), "\(error)")
            }
        }
    }

    @Test("the id defaults to the file name; examples and dotfiles are skipped; ${ENV} is substituted")
    func loads() throws {
        try withAdapters([
            "support.toml": "kind = \"telegram\"\ntoken = \"${BOT_TOKEN}\"\nsecret_token = \"${SECRET:-fallback}\"\n",
            "named.toml": "kind = \"telegram\"\nid = \"sales\"\ntoken = \"2:b\"\nsecret_token = \"s2\"\nenabled = false\n",
            "telegram.toml.example": "this is not even toml",
            ".hidden.toml": "neither is this",
        ]) { directory in
            let channels = try loader(["BOT_TOKEN": "1:a"]).load(directory: directory)
            #expect(channels.map(\.id).sorted() == ["sales", "support"])
            let support = try #require(channels.first { $0.id == "support" })
            let adapter = try #require(support.adapter as? TelegramAdapter)
            #expect(adapter.configuration.token == "1:a")
            #expect(adapter.configuration.secretToken == "fallback")
            #expect(channels.first { $0.id == "sales" }?.enabled == false)
        }
    }

    @Test("a bot's format is omnichat or qiscus; anything else names the key")
    func botFormat() throws {
        let base = "kind = \"telegram\"\ntoken = \"1:a\"\nsecret_token = \"s\"\n[bot]\nwebhook_url = \"http://127.0.0.1:9/bot\"\nsecret = \"b\"\n"
        try expectError(["tg.toml": base + "format = \"rasa\"\n"], file: "tg.toml", key: "bot.format", problem: "must be \"omnichat\" or \"qiscus\"")
        try withAdapters(["tg.toml": base + "format = \"qiscus\"\n"]) { directory in
            let channel = try #require(try loader().load(directory: directory).first)
            #expect((channel.bot as? BotWebhook)?.format == .qiscus)
        }
    }

    @Test("a drop-in that cannot be read (a folder, or not UTF-8) is named with the problem")
    func unreadable() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("folder.toml"), withIntermediateDirectories: true)
        do {
            _ = try loader().load(directory: directory.path)
            Issue.record("accepted a folder as a drop-in")
        } catch let error as ConfigurationError {
            #expect(error.file.hasSuffix("folder.toml") && error.problem.contains("cannot be read"), "\(error)")
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("folder.toml"))
        try Data([0x6B, 0x69, 0x6E, 0x64, 0x20, 0x3D, 0x20, 0x22, 0xFF, 0xFE, 0x22, 0x0A]).write(to: directory.appendingPathComponent("latin.toml"))
        do {
            _ = try loader().load(directory: directory.path)
            Issue.record("accepted a file that is not UTF-8")
        } catch let error as ConfigurationError {
            #expect(error.file.hasSuffix("latin.toml") && error.problem.contains("UTF-8"), "\(error)")
        }
        do {
            _ = try loader().load(directory: directory.appendingPathComponent("missing").path)
            Issue.record("accepted a missing folder")
        } catch let error as ConfigurationError {
            #expect(error.problem.contains("does not exist"), "\(error)")
        }
    }

    @Test func badFilesNameFileKeyAndProblem() throws {
        try expectError(["a.toml": "kind = \"telegram\"\ntoken = \n"], file: "a.toml", key: nil, problem: "invalid TOML at line 2")
        try expectError(["b.toml": "token = \"1:a\"\n"], file: "b.toml", key: "kind", problem: "is required")
        try expectError(["c.toml": "kind = \"fax\"\n"], file: "c.toml", key: "kind", problem: "unknown kind 'fax'")
        try expectError(["d.toml": "kind = \"telegram\"\n"], file: "d.toml", key: "token", problem: "is required")
        try expectError(["e.toml": "kind = \"telegram\"\ntoken = \"1:a\"\nsecret_token = \"s\"\nsecret_tokn = \"x\"\n"], file: "e.toml", key: "secret_tokn", problem: "unknown key")
        try expectError(["u.toml": "kind = \"telegram\"\ntoken = \"1:a\"\n"], file: "u.toml", key: "secret_token", problem: "forged updates")
        try expectError(["f.toml": "kind = \"telegram\"\ntoken = \"${NOPE}\"\n"], file: "f.toml", key: "token", problem: "environment variable NOPE is not set")
        try expectError(["g.toml": "kind = \"telegram\"\ntoken = \"1:a\"\nenabled = \"yes\"\n"], file: "g.toml", key: "enabled", problem: "expected true or false")
        try expectError(["h.toml": "kind = \"telegram\"\nid = \"has space\"\ntoken = \"1:a\"\n"], file: "h.toml", key: "id", problem: "must be 1-64 characters")
        try expectError(
            ["x.toml": "kind = \"telegram\"\nid = \"same\"\ntoken = \"1:a\"\nsecret_token = \"s\"\n", "y.toml": "kind = \"telegram\"\nid = \"same\"\ntoken = \"1:a\"\nsecret_token = \"s\"\n"],
            file: "y.toml", key: "id", problem: "already used")
    }

    @Test("secrets never appear in configuration errors")
    func secretsStayOut() throws {
        try withAdapters(["s.toml": "kind = \"telegram\"\ntoken = \"999:VERYSECRET\"\nsecret_token = \"not valid!\"\n"]) { directory in
            do {
                _ = try loader().load(directory: directory)
                Issue.record("accepted")
            } catch {
                #expect(!"\(error)".contains("VERYSECRET"))
                #expect(!"\(error)".contains("not valid!"))
            }
        }
    }

    @Test("the shipped samples are valid: adapters.d/ and deploy/omnichat.toml")
    func shippedSamples() throws {
        let channels = try loader().load(directory: repositoryRoot.appendingPathComponent("adapters.d").path)
        #expect(channels.map(\.id) == ["telegram"])
        // The .example documents every key: loading it as a channel works once its variables are set.
        let example = try loader(["TELEGRAM_BOT_TOKEN": "1:a", "TELEGRAM_SECRET_TOKEN": "s"])
            .load(file: repositoryRoot.appendingPathComponent("adapters.d/telegram.toml.example").path)
        #expect(example.kind == "telegram")
        let config = try DaemonConfiguration.load(file: repositoryRoot.appendingPathComponent("deploy/omnichat.toml").path, environment: [:])
        #expect(config.defaultMaxOpenRooms == 10)
        #expect(config.synchronous == "full")
        #expect(config.publicBaseURL == "https://chat.example.com")
    }

    @Test("omnichat.toml: unknown keys and bad values are refused; the environment overrides the file")
    func daemonConfiguration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("omnichat.toml")
        try "port = 9000\ndefault_max_open_rooms = 3\n[delivery]\nmax_attempts = 2\n".write(to: file, atomically: true, encoding: .utf8)
        let config = try DaemonConfiguration.load(file: file.path, environment: ["OMNICHAT_PORT": "9100"])
        #expect(config.port == 9100)
        #expect(config.defaultMaxOpenRooms == 3)
        #expect(config.deliveryMaxAttempts == 2)
        #expect(DaemonConfiguration().defaultMaxOpenRooms == 10)

        try "prot = 9000\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError(file: file.path, key: "prot", problem: "unknown key")) {
            try DaemonConfiguration.load(file: file.path, environment: [:])
        }
        try "[store]\nsynchronous = \"sometimes\"\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.load(file: file.path, environment: [:]) }
        try "max_streams_per_user = 2\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try DaemonConfiguration.load(file: file.path, environment: [:]).maxStreamsPerUser == 2)
        #expect(try DaemonConfiguration.load(file: file.path, environment: ["OMNICHAT_MAX_STREAMS_PER_USER": "7"]).maxStreamsPerUser == 7)
        #expect(DaemonConfiguration().maxStreamsPerUser == 5)
        try "max_stream_buffer_bytes = 100\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError(file: file.path, key: "max_stream_buffer_bytes", problem: "must be at least 4096")) {
            try DaemonConfiguration.load(file: file.path, environment: [:])
        }
        try "max_streams_per_user = 0\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError(file: file.path, key: "max_streams_per_user", problem: "must be between 1 and 1000")) {
            try DaemonConfiguration.load(file: file.path, environment: [:])
        }
        try "port = \"eighty\"\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError(file: file.path, key: "port", problem: "expected an integer")) {
            try DaemonConfiguration.load(file: file.path, environment: [:])
        }
    }

    @Test("several daemons: database URLs, [postgres], node_name and trusted_proxies are read and checked; a password never shows")
    func postgresConfiguration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("omnichat.toml")
        try """
            database = "postgres://chat:p%40ss-SECRET@db.internal:6432/omnichat?schema=acme&sslmode=verify-full"
            node_name = "chat-1"
            trusted_proxies = ["10.0.0.2", "::1"]
            [postgres]
            pool_size = 4
            connect_timeout_seconds = 2.5
            statement_timeout_seconds = 5
            outbox_lease_seconds = 12
            """.write(to: file, atomically: true, encoding: .utf8)
        let config = try DaemonConfiguration.load(file: file.path, environment: [:])
        #expect(config.usesPostgres)
        #expect(config.resolvedNodeName == "chat-1")
        #expect(config.trustedProxies == ["10.0.0.2", "::1"])
        #expect(config.postgresPoolSize == 4 && config.postgresConnectTimeoutSeconds == 2.5)
        #expect(config.postgresStatementTimeoutSeconds == 5 && config.postgresOutboxLeaseSeconds == 12)
        let location = try PostgresStore.Location(url: config.database)
        #expect(location.user == "chat" && location.password == "p@ss-SECRET" && location.host == "db.internal" && location.port == 6432)
        #expect(location.database == "omnichat" && location.schema == "acme" && location.sslMode == "verify-full")
        #expect(!location.redacted.contains("SECRET"))
        // The environment overrides the file, as for every key.
        let env = try DaemonConfiguration.load(
            file: file.path, environment: ["OMNICHAT_NODE_NAME": "chat-2", "OMNICHAT_TRUSTED_PROXIES": "10.0.0.3, 10.0.0.4"])
        #expect(env.resolvedNodeName == "chat-2" && env.trustedProxies == ["10.0.0.3", "10.0.0.4"])
        #expect(!DaemonConfiguration().usesPostgres)

        for (text, key) in [
            ("database = \"postgres://u:SECRET@h/db?sslmode=sometimes\"", "database"),
            ("database = \"postgres://u:SECRET@h/db?colour=blue\"", "database"),
            ("database = \"postgres://u:SECRET@/db\"", "database"),
            ("database = \"postgres://u:SECRET@h/db?schema=a;drop\"", "database"),
            ("trusted_proxies = [\"nginx.internal\"]", "trusted_proxies"),
            ("trusted_proxies = \"10.0.0.2\"", "trusted_proxies"),
            ("[postgres]\npool_size = 0", "postgres.pool_size"),
            ("[postgres]\noutbox_lease_seconds = 0.5", "postgres.outbox_lease_seconds"),
            ("[postgres]\npoolsize = 3", "postgres.poolsize"),
        ] {
            try text.write(to: file, atomically: true, encoding: .utf8)
            do {
                _ = try DaemonConfiguration.load(file: file.path, environment: [:])
                Issue.record("accepted: \(text)")
            } catch let error as ConfigurationError {
                #expect(error.key == key, "\(text): \(error)")
                #expect(!"\(error)".contains("SECRET"))
            }
        }
    }
}
