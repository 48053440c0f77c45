import Foundation
import Hummingbird
import Logging
import OmnichatAdapters
import OmnichatCore
import OmnichatDelivery
import OmnichatPostgres
import OmnichatStore
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The daemon, wired: store, channels, routing, delivery and the HTTP server.
/// `omnichatd serve` and the end-to-end tests build it the same way.
public final class Omnichat: Sendable {
    public let configuration: DaemonConfiguration
    public let store: any DaemonStore
    public let channels: ChannelRegistry
    public let queue: WorkQueue
    public let routing: RoutingService
    public let outbox: OutboxWorker
    public let transport: any HTTPTransport
    public let metrics: ServerMetrics
    public let events: EventBus
    public let live: LiveEvents
    /// What happened, after each commit (see `Consequences` for who reacts).
    public let domain: DomainEvents
    public let logger: Logger
    /// The port `metrics_listen` is bound to, once it is (0 before, or without it).
    let metricsListener = Mutex(0)
    /// Open HTTP connections, capped at `[limits] max_connections`.
    let connections: ConnectionLimiter
    private let ownedTransport: CurlTransport?
    let avatars: CustomerAvatars
    private let loader: ChannelLoader

    public static func make(
        configuration: DaemonConfiguration,
        factories: [AdapterFactory] = BuiltinAdapters.all,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        transport: (any HTTPTransport)? = nil,
        logger: Logger = Logger(label: "omnichat")
    ) async throws -> Omnichat {
        let loader = ChannelLoader(factories: factories, environment: environment)
        let channels = try loader.load(directory: configuration.adapters)
        let store = try await openStore(configuration, logger: logger)
        let daemon = Omnichat(
            configuration: configuration, store: store, channels: channels, loader: loader, transport: transport, logger: logger)
        try await daemon.loadSettings()
        return daemon
    }

    init(
        configuration: DaemonConfiguration, store: any DaemonStore, channels: [ConfiguredChannel], loader: ChannelLoader,
        transport: (any HTTPTransport)?, logger: Logger
    ) {
        self.loader = loader
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.connections = ConnectionLimiter(
            limit: configuration.maxConnections, bodyTimeout: .milliseconds(Int64(configuration.bodyTimeoutSeconds * 1000)),
            writeTimeout: .milliseconds(Int64(configuration.writeTimeoutSeconds * 1000)))
        self.channels = ChannelRegistry(channels)
        self.metrics = ServerMetrics()
        self.events = EventBus()
        self.domain = DomainEvents()
        self.live = LiveEvents(
            store: store, retention: TimeInterval(configuration.eventsRetentionSeconds), maxBufferedBytes: configuration.maxEventBufferBytes,
            log: store.eventLog)
        self.queue = WorkQueue(capacity: configuration.queueCapacity)
        let capacity = configuration.defaultMaxOpenRooms
        let registry = self.channels
        if let transport {
            self.transport = transport
            self.ownedTransport = nil
        } else {
            let curl = CurlTransport(
                maxConnectionsPerHost: max(8, configuration.deliveryConcurrency), allowPrivateNetworks: configuration.allowPrivateNetworks)
            self.transport = curl
            self.ownedTransport = curl
        }
        // Built first: everything that queues outbox rows wakes it.
        let outbox = OutboxWorker(
            store: store, directory: self.channels, transport: self.transport,
            settings: DeliverySettings(
                maxAttempts: configuration.deliveryMaxAttempts,
                timeout: .milliseconds(Int64(configuration.deliveryTimeoutSeconds * 1000)),
                concurrency: configuration.deliveryConcurrency,
                backoff: Backoff(base: .milliseconds(Int64(configuration.deliveryBackoffBaseSeconds * 1000))),
                perChannelConcurrency: configuration.deliveryPerChannelConcurrency,
                circuitThreshold: configuration.deliveryCircuitThreshold,
                circuitCooldown: configuration.deliveryCircuitCooldownSeconds),
            observer: DeliveryObservers(metrics: metrics, live: live), logger: logger)
        self.outbox = outbox
        let avatars = CustomerAvatars(
            store: store, transport: self.transport, channels: registry, publicBaseURL: configuration.effectivePublicBaseURL, logger: logger)
        self.avatars = avatars
        self.routing = RoutingService(
            queue: queue, store: store, defaultCapacity: { registry.webhooks.current.defaultMaxOpenRooms ?? capacity },
            settings: { registry.webhooks.current },
            channels: registry, events: events, appID: configuration.appID, wakeOutbox: { outbox.wake() },
            metrics: metrics, logger: logger, avatar: { await avatars.url(for: $0) })
        // Several daemons: a delivery finished elsewhere may unblock the next
        // reply of that room here (a room's replies go out one at a time).
        live.onDelivery = { outbox.wake() }
        Consequences.wire(domain, bus: events, live: live, metrics: metrics, queue: queue, outbox: outbox)
        // Room changes reach the live stream through the bus.
        live.follow(events)
        avatars.follow(events)
        logConfigurationWarnings(self.channels.all)
        NewSessionNotifier(
            webhooks: QiscusWebhooks(store: store, channels: registry, appID: configuration.appID), wakeOutbox: { outbox.wake() },
            logger: logger
        ).follow(events)
    }

    /// Reloads `adapters.d` (SIGHUP): channels added, changed or removed at once,
    /// requests in flight finish with the adapter they started with. An invalid
    /// file keeps the previous configuration running; the error is logged,
    /// counted and shown by `GET /api/v1/channels`. Returns the error, if any.
    @discardableResult
    public func reloadChannels() -> String? {
        do {
            let list = try loader.load(directory: configuration.adapters)
            channels.replace(with: list)
            channels.recordReload(error: nil)
            logConfigurationWarnings(list)
            metrics.reload(outcome: "ok")
            logger.notice("adapters.d reloaded", metadata: ["omnichat.channels": .string(list.map(\.id).joined(separator: ","))])
            queue.offer(.rescan)  // a channel may now have agents for waiting rooms
            return nil
        } catch {
            let message = "\(error)"
            channels.recordReload(error: message)
            metrics.reload(outcome: "error")
            logger.error("adapters.d reload refused; the previous configuration stays", metadata: ["omnichat.error": .string(message)])
            return message
        }
    }

    /// `/metrics` shows channel names, volumes and errors: a client on this
    /// machine (loopback, no proxy between) reads it freely, anyone else with
    /// `Authorization: Bearer <metrics_token>`.
    static func allowMetrics(_ request: Request, _ context: some RequestContext, token: String?, trustedProxies: Set<String>) throws {
        // Hashes compared: the time taken says nothing about the token.
        if let token, let given = Authenticator.bearer(request), Authenticator.tokenHash(given) == Authenticator.tokenHash(token) { return }
        let client = AccountRoutes.clientAddress(request, context, trustedProxies: trustedProxies)
        let proxied = request.headers.contains { $0.name.canonicalName == "x-forwarded-for" }
        if !proxied, client == "::1" || client.hasPrefix("127.") { return }
        throw APIError.forbidden(
            token == nil
                ? "/metrics is served to this machine only; set metrics_token to scrape it from elsewhere"
                : "/metrics needs Authorization: Bearer <metrics_token> from outside this machine")
    }

    /// Each channel's configuration warnings (a Telegram channel accepting unsigned updates).
    func logConfigurationWarnings(_ list: [ConfiguredChannel]) {
        for channel in list {
            for warning in channel.adapter.configurationWarnings {
                logger.warning("channel \(channel.id): \(warning)", metadata: ["omnichat.channel": .string(channel.id)])
            }
        }
    }

    /// Loads what the store keeps about routing (the settings) into memory.
    public func loadSettings() async throws {
        let values = try await store.settings()
        if let text = values["routing"], let settings = try? JSONDecoder().decode(RoutingSettings.self, from: Data(text.utf8)) {
            channels.webhooks.update(settings)
        }
    }

    /// Creates the first admin when there is none: from `OMNICHAT_ADMIN_EMAIL`
    /// and `OMNICHAT_ADMIN_PASSWORD`, or with a random password returned once.
    /// Returns a line to show the operator, or nil when an admin exists.
    /// When an admin exists and `OMNICHAT_ADMIN_PASSWORD` is set, says it is
    /// ignored and how to change a password (a set password was silently ignored).
    public func bootstrapAdmin(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> String? {
        let email = environment["OMNICHAT_ADMIN_EMAIL"].flatMap { $0.isEmpty ? nil : $0 } ?? "admin@localhost"
        let given = environment["OMNICHAT_ADMIN_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        guard try await store.countUsers(role: .admin) == 0 else {
            guard given != nil else { return nil }
            return "an admin exists; OMNICHAT_ADMIN_PASSWORD is ignored (it only sets the first admin's password); "
                + "change a password with: omnichatd users set-password --email \(email) (the new password on standard input)"
        }
        let password = given ?? Self.randomPassword()
        do {
            _ = try await store.createUser(
                NewUser(email: email, name: "Administrator", role: .admin,
                        passwordHash: Authenticator.hashPassword(password, cost: configuration.bcryptCost)))
        } catch let error as StoreError where error.kind == .conflict {
            return nil  // another daemon on the same database created it first
        }
        if given != nil { return "created admin \(email) with the password from OMNICHAT_ADMIN_PASSWORD" }
        return "created admin \(email) with password \(password) (shown once; change it)"
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return String((0..<20).map { _ in alphabet.randomElement()! })
    }

    public func router() -> Router<OmnichatRequestContext> {
        let router = Router(context: OmnichatRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        let ingest = IngestService(store: store, channels: channels, divisions: DivisionNames(store: store), domain: domain, metrics: metrics)
        WebhookRoutes(
            channels: channels, ingest: ingest, metrics: metrics, maxBodyBytes: configuration.maxBodyBytes,
            // A little after the store's own deadline, which refuses requests still queued
            // (storing nothing); this one covers a commit that itself stalls.
            deadline: .milliseconds(Int64(configuration.ingestDeadlineSeconds * 1000) + 200)
        ).register(on: router)
        let auth = Authenticator(store: store, sessionHours: configuration.sessionHours, bcryptCost: configuration.bcryptCost, appID: configuration.appID)
        let api = APIRoutes(
            store: store, auth: auth, channels: channels, transport: transport,
            maxMediaBytes: configuration.maxMediaBytes, configuredCapacity: configuration.defaultMaxOpenRooms, live: live,
            replies: ReplyService(store: store, domain: domain),
            rooms: RoomLifecycle(store: store, channels: channels, appID: configuration.appID, domain: domain),
            trustedProxies: Set(configuration.trustedProxies),
            allowPrivateNetworks: configuration.allowPrivateNetworks, metrics: metrics)
        api.register(on: router)
        let routing = RoutingRoutes(api: api)
        routing.register(on: router)
        let qiscus = QiscusRoutes(routing: routing)
        qiscus.register(on: router)
        QiscusBotRoutes(qiscus: qiscus).register(on: router)
        CustomerRoutes(api: api, avatars: avatars).register(on: router)
        TeamRoutes(api: api, settings: TeamSettings(configuration: configuration)).register(on: router)
        InboxRoutes(api: api).register(on: router)
        ContactRoutes(api: api).register(on: router)
        EventRoutes(api: api, maxStreamsPerUser: configuration.maxStreamsPerUser, maxBufferBytes: configuration.maxStreamBufferBytes).register(on: router)
        QuickReplyRoutes(api: api).register(on: router)
        let isDefault = configuration.consoleDir == DaemonConfiguration.defaultConsoleDir
        if let found = ConsoleRoutes.locate(configured: configuration.consoleDir, isDefault: isDefault),
            let console = ConsoleRoutes(directory: found)
        {
            console.register(on: router)
            if found != configuration.consoleDir {
                logger.notice("web console served from \(found) (\(configuration.consoleDir) does not exist here)")
            }
        } else {
            logger.warning(
                "no web console: console_dir \(configuration.consoleDir) does not exist (or has no index.html); the API is served, GET / answers 404",
                metadata: ["omnichat.console_dir": .string(configuration.consoleDir)])
        }
        Self.healthRoutes(on: router, store: store)
        let metricsToken = configuration.metricsToken
        let proxies = Set(configuration.trustedProxies)
        let daemon = self
        router.get("/metrics") { request, context in
            try Self.allowMetrics(request, context, token: metricsToken, trustedProxies: proxies)
            return daemon.metricsResponse()
        }
        return router
    }

    /// `/healthz` (the process answers) and `/readyz` (the store answers), on
    /// the main listener and on `metrics_listen`.
    static func healthRoutes(on router: Router<some RequestContext>, store: any DaemonStore) {
        router.get("/healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        router.get("/readyz") { _, _ in
            do {
                try await store.ping()
                return JSONBody.response(["status": "ready"])
            } catch {
                throw APIError(.serviceUnavailable, "unavailable", "store is not reachable")
            }
        }
    }

    /// The Prometheus text, with the gauges read now.
    func metricsResponse() -> Response {
        metrics.setQueueDepth(queue.depth)
        metrics.setConnections(
            open: connections.current, refused: connections.refusedCount, slowBodies: connections.slowBodyCount,
            stalledWrites: connections.stalledWriteCount)
        metrics.setStoreConflictRetries(store.conflictRetries)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
    }

    /// Runs until SIGTERM/SIGINT (or `shutdown` on the returned group), then
    /// stops accepting, drains the routing queue and in-flight deliveries
    /// within `shutdown_grace_seconds`, and returns.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }, signals: Bool = true) async throws {
        let group = makeServiceGroup(onServerRunning: onServerRunning, signals: signals)
        try await group.run()
        await ownedTransport?.shutdown()
    }

    public func makeServiceGroup(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }, signals: Bool = true) -> ServiceGroup {
        let logger = self.logger
        let limiter = self.connections
        let app = Application(
            router: router(),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [limiter.handler()],
                    idleTimeout: .milliseconds(Int64(configuration.idleTimeoutSeconds * 1000)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "omnichatd"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info("listening", metadata: ["omnichat.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                await onServerRunning(port)
            },
            logger: logger)
        var config = ServiceGroupConfiguration(
            services: [
                .init(service: routing, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "routing"),
                .init(service: outbox, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "delivery"),
                .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "http"),
                .init(service: ReloadService(daemon: self, signals: signals), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "reload"),
                .init(service: ClusterSync(daemon: self), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "cluster-sync"),
                .init(service: RetentionJob(daemon: self), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "retention"),
                .init(service: MetricsListener(daemon: self), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "metrics"),
                // Last, so it stops first: open event streams end before the HTTP server drains.
                .init(service: live, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "live-events"),
            ],
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            logger: logger)
        config.maximumGracefulShutdownDuration = .milliseconds(Int64(configuration.shutdownGraceSeconds * 1000))
        return ServiceGroup(configuration: config)
    }

    /// Stops the owned libcurl transport (after the service group has returned).
    public func close() async {
        await ownedTransport?.shutdown()
    }
}

extension Omnichat {
    /// The networks built in.
    public static var defaultFactories: [AdapterFactory] { BuiltinAdapters.all }

    /// The schema migrations the configured store still needs, applying none.
    /// Throws when the database was written by a newer release.
    public static func pendingMigrations(_ configuration: DaemonConfiguration, logger: Logger = Logger(label: "omnichatd")) async throws -> [String] {
        if configuration.usesPostgres { return try await PostgresStore.pendingMigrations(url: configuration.database, logger: logger) }
        return try SQLiteStore.pendingMigrations(path: configuration.database)
    }

    /// A consistent copy of the SQLite database while the daemon runs; its size.
    /// PostgreSQL has its own tools (`docs/operations.md`).
    public static func backup(_ configuration: DaemonConfiguration, to destination: String, bytesPerSecond: Int = 64 << 20) throws -> Int {
        guard !configuration.usesPostgres else {
            throw StoreError(.invalid, "omnichatd backup copies the SQLite file; back PostgreSQL up with pg_dump or PITR (docs/operations.md)")
        }
        return try SQLiteStore.backup(path: configuration.database, to: destination, bytesPerSecond: bytesPerSecond)
    }

    /// Puts a backup in place of the configured SQLite database (the daemon stopped).
    public static func restore(_ configuration: DaemonConfiguration, from backup: String, replace: Bool) throws {
        guard !configuration.usesPostgres else {
            throw StoreError(.invalid, "omnichatd restore writes the SQLite file; restore PostgreSQL with pg_restore (docs/operations.md)")
        }
        try SQLiteStore.restore(from: backup, to: configuration.database, replace: replace)
    }

    /// Opens (and migrates) the configured store, for commands that need no daemon.
    public static func openStore(_ configuration: DaemonConfiguration, logger: Logger = Logger(label: "omnichatd")) async throws -> any DaemonStore {
        if configuration.usesPostgres {
            var options = PostgresStore.Options()
            options.poolSize = configuration.postgresPoolSize
            options.connectTimeout = .milliseconds(Int64(configuration.postgresConnectTimeoutSeconds * 1000))
            options.outboxLease = .milliseconds(Int64(configuration.postgresOutboxLeaseSeconds * 1000))
            options.statementTimeout = .milliseconds(Int64(configuration.postgresStatementTimeoutSeconds * 1000))
            options.nodeName = configuration.resolvedNodeName
            options.ingestMaxPending = configuration.ingestMaxPending
            return try await PostgresStore(url: configuration.database, options: options, logger: logger)
        }
        let synchronous = SQLiteStore.Synchronous(rawValue: configuration.synchronous.uppercased()) ?? .full
        return try await SQLiteStore(
            path: configuration.database, synchronous: synchronous, ingestMaxPending: configuration.ingestMaxPending,
            ingestDeadline: .milliseconds(Int64(configuration.ingestDeadlineSeconds * 1000)), nodeName: configuration.resolvedNodeName,
            logger: logger)
    }
}
