import Foundation
import Hummingbird
import Logging
import OmnichatCore
import ServiceLifecycle
import UnixSignals

/// Several daemons on one database: what one daemon changes in memory
/// (routing settings) and capacity freed on another daemon reach this one
/// within `interval`: the settings are reloaded and the waiting rooms
/// rescanned (cheap when no agent is free). One daemon: nothing to do.
struct ClusterSync: Service {
    let daemon: Omnichat
    var interval: Duration = .seconds(2)

    func run() async throws {
        guard daemon.store.eventLog != nil else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                try? await daemon.loadSettings()
                daemon.queue.offer(.rescan)
            }
        }
    }
}

/// Reloads `adapters.d` on SIGHUP.
struct ReloadService: Service {
    let daemon: Omnichat
    let signals: Bool

    func run() async throws {
        guard signals else {
            try? await gracefulShutdown()
            return
        }
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            daemon.reloadChannels()
        }
    }
}

/// `[retention]`: scrubs and deletes what is older than the configured days,
/// a minute after start and then every `interval`, in transactions of
/// `batchSize` rows with a pause between them, so webhooks never wait long
/// behind it. Several daemons may run it at once: each step is idempotent.
struct RetentionJob: Service {
    let daemon: Omnichat
    var interval: Duration = .seconds(3600)
    var firstRun: Duration = .seconds(60)
    var batchSize = 500

    func run() async throws {
        let policy = daemon.configuration.retention
        guard !policy.keepsEverything else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            var wait = firstRun
            while !Task.isCancelled {
                try? await Task.sleep(for: wait)
                if Task.isCancelled { break }
                _ = await sweep(policy)
                wait = interval
            }
        }
    }

    /// One sweep to the end (or cancellation); what it changed.
    @discardableResult
    func sweep(_ policy: RetentionPolicy, now: Date = Date()) async -> RetentionPass {
        var total = RetentionPass()
        var cursor = RetentionCursor()
        while !Task.isCancelled {
            do {
                let pass = try await daemon.store.applyRetention(policy, now: now, batchSize: batchSize, cursor: cursor)
                total.messages += pass.messages
                total.media += pass.media
                total.deliveries += pass.deliveries
                total.auditEntries += pass.auditEntries
                cursor = pass.cursor
                if pass.done { break }
                try? await Task.sleep(for: .milliseconds(20))
            } catch {
                daemon.logger.warning("retention: a batch failed; the next sweep tries again", metadata: ["omnichat.error": "\(error)"])
                return total
            }
        }
        if let days = policy.liveEventsDays, let log = daemon.store.eventLog {
            try? await log.prune(olderThan: Double(days) * 86_400)
        }
        if total.messages + total.media + total.deliveries + total.auditEntries > 0 {
            daemon.logger.info(
                "retention applied",
                metadata: [
                    "omnichat.messages": "\(total.messages)", "omnichat.media": "\(total.media)",
                    "omnichat.deliveries": "\(total.deliveries)", "omnichat.audit_entries": "\(total.auditEntries)",
                ])
        }
        return total
    }
}

/// `metrics_listen`: `/metrics`, `/healthz` and `/readyz` on a second
/// address, without credentials (the operator chose who can reach it). Ends
/// at once when it is not configured.
struct MetricsListener: Service {
    let daemon: Omnichat

    func run() async throws {
        guard let address = daemon.configuration.metricsAddress else {
            try? await gracefulShutdown()
            return
        }
        let router = Router()
        router.get("/metrics") { _, _ in daemon.metricsResponse() }
        Omnichat.healthRoutes(on: router, store: daemon.store)
        router.middlewares.add(JSONErrorMiddleware())
        let logger = daemon.logger
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "omnichatd-metrics"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                daemon.metricsListener.withLock { $0 = port }
                logger.info("metrics listening", metadata: ["omnichat.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
            },
            logger: logger)
        try await app.run()
    }
}
