import ArgumentParser
import Foundation
import Logging
import OmnichatCore
import OmnichatDelivery
import OmnichatPostgres
import OmnichatServer

@main
struct Omnichatd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omnichatd",
        abstract: "Omnichat: the omnichannel customer-service gateway.",
        subcommands: [Serve.self, CheckConfig.self, Migrate.self, Backup.self, Restore.self, Users.self, APIKeys.self, Telegram.self],
        defaultSubcommand: Serve.self)
}

/// Options every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The daemon's TOML configuration file (default: ./omnichat.toml when present).")
    var config: String?

    @Option(name: .long, help: "The folder of channel drop-in files (default: ./adapters.d).")
    var adapters: String?

    @Option(name: .long, help: "The SQLite database file (default: ./omnichat.db), or postgres://user:password@host:port/database for several daemons on one PostgreSQL.")
    var database: String?

    func load(host: String? = nil, port: Int? = nil) throws -> DaemonConfiguration {
        var configuration = try DaemonConfiguration.load(file: config)
        if let adapters { configuration.adapters = adapters }
        if let database { configuration.database = database }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        try configuration.validate(source: "command line")
        return configuration
    }
}

func bootstrapLogging(_ configuration: DaemonConfiguration) {
    let level = Logger.Level(rawValue: configuration.logLevel.lowercased()) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}

/// Configuration errors end the command with their message and exit code 2.
func withConfigurationErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ConfigurationError {
        FileHandle.standardError.write(Data("omnichatd: configuration error: \(error)\n".utf8))
        throw ExitCode(2)
    } catch let error as StoreError where error.kind != .busy {
        // The database cannot be used as asked (written by a newer release, a
        // backup target that exists, a damaged backup…).
        FileHandle.standardError.write(Data("omnichatd: \(error.message)\n".utf8))
        throw ExitCode(1)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon.")

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "Address to listen on (default: 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "Port to listen on (default: 8080).")
    var port: Int?

    func run() async throws {
        let (configuration, daemon) = try await withConfigurationErrors {
            let configuration = try options.load(host: host, port: port)
            bootstrapLogging(configuration)
            let daemon = try await Omnichat.make(configuration: configuration, logger: Logger(label: "omnichatd"))
            return (configuration, daemon)
        }
        if let line = try await daemon.bootstrapAdmin() {
            print("omnichatd: \(line)")
        }
        daemon.logger.info(
            "starting",
            metadata: [
                "omnichat.database": .string(
                    configuration.usesPostgres
                        ? ((try? PostgresStore.Location(url: configuration.database).redacted) ?? "postgres") : configuration.database),
                "omnichat.node": .string(configuration.resolvedNodeName),
                "omnichat.channels": .string(daemon.channels.all.map(\.id).joined(separator: ",")),
            ])
        try await daemon.run(onServerRunning: { port in
            // A line that scripts wait for (the port is useful with --port 0).
            print("omnichatd: listening on \(configuration.host):\(port)")
            fflush(nil)
        })
        daemon.logger.info("stopped")
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and every drop-in; exit non-zero on error.")

    @OptionGroup var options: CommonOptions

    func run() async throws {
        try await withConfigurationErrors {
            let configuration = try options.load()
            let channels = try ChannelLoader(factories: Omnichat.defaultFactories).load(directory: configuration.adapters)
            if configuration.usesPostgres {
                // The URL was validated with the configuration; the server is not contacted here.
                let location = try PostgresStore.Location(url: configuration.database)
                print("database: PostgreSQL \(location.redacted)")
            } else {
                let folder = ((configuration.database as NSString).deletingLastPathComponent as String)
                let directory = folder.isEmpty ? "." : folder
                guard FileManager.default.isWritableFile(atPath: directory) else {
                    throw ConfigurationError(file: "configuration", key: "database", problem: "folder \(directory) is not writable")
                }
            }
            print("configuration ok: \(channels.count) channel(s)")
            for channel in channels {
                print("  \(channel.id) (\(channel.kind))\(channel.enabled ? "" : " disabled") from \(channel.file)")
                for warning in channel.adapter.configurationWarnings { print("    warning: \(warning)") }
            }
        }
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage users.", subcommands: [Add.self, SetPassword.self])

    /// The password piped in on standard input, checked as the API checks it.
    static func passwordFromStandardInput(_ command: String) throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("no password on standard input (pipe it in: echo 'secret' | omnichatd users \(command) ...)")
        }
        guard line.count >= 8 else { throw ValidationError("the password must be at least 8 characters") }
        guard line.utf8.count <= 72 else { throw ValidationError("the password must be at most 72 bytes (bcrypt ignores what follows)") }
        return line
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Set a user's password (read from standard input); their sessions end.")

        @OptionGroup var options: CommonOptions

        @Option(name: .long, help: "The user's email.")
        var email: String

        func run() async throws {
            let configuration = try await withConfigurationErrors { try options.load() }
            let password = try Users.passwordFromStandardInput("set-password")
            let store = try await Omnichat.openStore(configuration)
            let found: (User, String)?
            if let exact = try await store.credentials(email: email) {
                found = exact
            } else {
                found = try await store.credentials(email: email.lowercased())
            }
            guard let (user, _) = found else {
                FileHandle.standardError.write(Data("omnichatd: no user with email '\(email)'\n".utf8))
                throw ExitCode(1)
            }
            try await store.setPassword(userID: user.id, passwordHash: Authenticator.hashPassword(password, cost: configuration.bcryptCost))
            try await store.deleteSessions(userID: user.id, except: nil)
            try await store.recordAudit(NewAuditEntry(actor: "cli", actorRole: "operator", action: "user.password_set", targetType: "user", targetID: String(user.id)))
            print("set the password of \(user.role.rawValue) \(user.email) (\(user.id)); their sessions ended")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password is read from standard input.")

        @OptionGroup var options: CommonOptions

        @Option(name: .long, help: "Email, used to sign in.")
        var email: String

        @Option(name: .long, help: "Display name.")
        var name: String

        @Option(name: .long, help: "admin, supervisor or agent.")
        var role: String

        @Option(name: .long, help: "Channel ids this agent serves, comma-separated (default: every channel).")
        var channels: String?

        @Option(name: .customLong("max-open-rooms"), help: "This agent's capacity (default: the daemon's).")
        var maxOpenRooms: Int?

        @Option(name: .long, help: "Division names, comma-separated (default: the default division).")
        var divisions: String?

        func validate() throws {
            guard Role(rawValue: role) != nil else { throw ValidationError("--role must be admin, supervisor or agent") }
            guard email.contains("@"), !email.contains(where: \.isWhitespace) else { throw ValidationError("--email is not an email address") }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--name must not be empty") }
            if let maxOpenRooms, maxOpenRooms < 1 { throw ValidationError("--max-open-rooms must be at least 1") }
        }

        func run() async throws {
            let configuration = try await withConfigurationErrors { try options.load() }
            let line = try Users.passwordFromStandardInput("add")
            let list = channels.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            let store = try await Omnichat.openStore(configuration)
            do {
                let user = try await store.createUser(
                    NewUser(email: email, name: name, role: Role(rawValue: role)!,
                            passwordHash: Authenticator.hashPassword(line, cost: configuration.bcryptCost),
                            channels: list, maxOpenRooms: maxOpenRooms))
                if let divisions {
                    let all = try await store.divisions()
                    var ids: [Int64] = []
                    for name in divisions.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                        let division = try await all.first(where: { $0.name.lowercased() == name.lowercased() }).asyncOr { try await store.createDivision(name: name) }
                        ids.append(division.id)
                    }
                    _ = try await store.setUserDivisions(userID: user.id, divisionIDs: ids)
                }
                print("created \(user.role.rawValue) \(user.email) (\(user.id))")
            } catch let error as StoreError {
                FileHandle.standardError.write(Data("omnichatd: \(error.message)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

struct Telegram: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Telegram channel tools.", subcommands: [SetWebhook.self])

    struct SetWebhook: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-webhook", abstract: "Point a Telegram bot's webhook at this daemon (with the channel's secret).")

        @OptionGroup var options: CommonOptions

        @Option(name: .long, help: "The channel id (its drop-in's id).")
        var channel: String

        @Option(name: .long, help: "The webhook URL (default: <public_base_url>/webhooks/<channel>).")
        var url: String?

        func run() async throws {
            let (configuration, channels) = try await withConfigurationErrors {
                let configuration = try options.load()
                return (configuration, try ChannelLoader(factories: Omnichat.defaultFactories).load(directory: configuration.adapters))
            }
            guard let found = channels.first(where: { $0.id == channel }) else {
                throw ValidationError("no channel '\(channel)' in \(configuration.adapters)")
            }
            guard found.kind == "telegram" else { throw ValidationError("channel '\(channel)' is of kind \(found.kind), not telegram") }
            let target = url ?? "\(configuration.effectivePublicBaseURL)/webhooks/\(found.id)"
            guard let request = found.adapter.webhookRegistration(url: target) else {
                throw ValidationError("channel '\(channel)' does not register webhooks by API")
            }
            let transport = CurlTransport()
            let response: HTTPResponseDescription
            do {
                response = try await transport.send(request, timeout: .seconds(30))
                await transport.shutdown()
            } catch {
                await transport.shutdown()
                FileHandle.standardError.write(Data("omnichatd: could not reach the Telegram API: \(error)\n".utf8))
                throw ExitCode(1)
            }
            switch found.adapter.classify(response) {
            case .delivered:
                print("webhook for \(found.id) set to \(target)")
            case .retry(_, let reason), .permanent(let reason):
                FileHandle.standardError.write(Data("omnichatd: Telegram refused setWebhook: \(reason)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}

struct APIKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-keys", abstract: "Manage API keys for integrations (bots, allocation services, reporting).",
        subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key; it is printed once and stored hashed.")

        @OptionGroup var options: CommonOptions

        @Option(name: .long, help: "A name to recognise the key by.")
        var name: String

        @Option(name: .long, help: "allocation, bot or read.")
        var scope: String

        func validate() throws {
            guard APIKey.Scope(rawValue: scope) != nil else { throw ValidationError("--scope must be allocation, bot or read") }
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--name must not be empty") }
        }

        func run() async throws {
            let configuration = try await withConfigurationErrors { try options.load() }
            let store = try await Omnichat.openStore(configuration)
            let secret = Authenticator.newAPIKey()
            let key = try await store.createAPIKey(name: name, scope: APIKey.Scope(rawValue: scope)!, keyHash: Authenticator.tokenHash(secret))
            print("created \(key.scope.rawValue) key \(key.name) (\(key.id)); it is shown only this once:")
            print(secret)
        }
    }
}

extension Optional {
    func asyncOr(_ make: () async throws -> Wrapped) async rethrows -> Wrapped {
        if let value = self { return value }
        return try await make()
    }
}
