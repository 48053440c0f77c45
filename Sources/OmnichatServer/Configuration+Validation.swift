import Foundation
import NIOCore
import OmnichatCore
import OmnichatDelivery
import OmnichatPostgres
import TOMLKit

// The configuration's checks: every value in range, named in the error by its key.
extension DaemonConfiguration {
    public func validate(source: String) throws {
        func bad(_ key: String, _ problem: String) -> ConfigurationError { ConfigurationError(file: source, key: key, problem: problem) }
        guard (0...65535).contains(port) else { throw bad("port", "must be between 0 and 65535") }
        guard defaultMaxOpenRooms >= 1 else { throw bad("default_max_open_rooms", "must be at least 1") }
        if let listen = metricsListen {
            guard let address = metricsAddress else {
                throw bad("metrics_listen", "must be host:port (127.0.0.1:9464, [::1]:9464), got '\(listen)'")
            }
            guard (try? SocketAddress(ipAddress: address.host, port: 0)) != nil || address.host == "localhost" else {
                throw bad("metrics_listen", "'\(address.host)' is not an IP address (or localhost)")
            }
        }
        guard maxEventBufferBytes >= 65536 else { throw bad("max_event_buffer_bytes", "must be at least 65536") }
        guard maxStreamBufferBytes >= 4096 else { throw bad("max_stream_buffer_bytes", "must be at least 4096") }
        guard (1...1000).contains(maxStreamsPerUser) else { throw bad("max_streams_per_user", "must be between 1 and 1000") }
        guard ["full", "normal", "off", "extra"].contains(synchronous.lowercased()) else {
            throw bad("store.synchronous", "must be one of full, normal, off, extra")
        }
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(logLevel.lowercased()) else {
            throw bad("log_level", "must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard deliveryMaxAttempts >= 1 else { throw bad("delivery.max_attempts", "must be at least 1") }
        guard deliveryTimeoutSeconds > 0 else { throw bad("delivery.timeout_seconds", "must be positive") }
        guard deliveryConcurrency >= 1 else { throw bad("delivery.concurrency", "must be at least 1") }
        guard deliveryPerChannelConcurrency >= 1 else { throw bad("delivery.per_channel_concurrency", "must be at least 1") }
        guard deliveryCircuitThreshold >= 1 else { throw bad("delivery.circuit_threshold", "must be at least 1") }
        guard deliveryCircuitCooldownSeconds > 0 else { throw bad("delivery.circuit_cooldown_seconds", "must be positive") }
        guard maxBodyBytes >= 1024 else { throw bad("limits.max_body_bytes", "must be at least 1024") }
        guard ingestMaxPending >= 1 else { throw bad("limits.ingest_max_pending", "must be at least 1") }
        guard ingestDeadlineSeconds > 0 else { throw bad("limits.ingest_deadline_seconds", "must be positive") }
        guard idleTimeoutSeconds > 0 else { throw bad("limits.idle_timeout_seconds", "must be positive") }
        guard bodyTimeoutSeconds > 0 else { throw bad("limits.body_timeout_seconds", "must be positive") }
        guard writeTimeoutSeconds > 0 else { throw bad("limits.write_timeout_seconds", "must be positive") }
        guard maxConnections >= 1 else { throw bad("limits.max_connections", "must be at least 1") }
        guard queueCapacity >= 1 else { throw bad("limits.queue_capacity", "must be at least 1") }
        for (key, days) in [
            ("messages_days", retention.messagesDays), ("media_days", retention.mediaDays), ("live_events_days", retention.liveEventsDays),
            ("delivery_logs_days", retention.deliveryLogsDays), ("audit_log_days", retention.auditLogDays),
        ] {
            if let days, !(1...36_500).contains(days) { throw bad("retention.\(key)", "must be from 1 to 36500 days, got \(days)") }
        }
        for proxy in trustedProxies where (try? SocketAddress(ipAddress: proxy, port: 0)) == nil {
            throw bad("trusted_proxies", "'\(proxy)' is not an IP address")
        }
        guard (1...500).contains(postgresPoolSize) else { throw bad("postgres.pool_size", "must be between 1 and 500") }
        guard postgresConnectTimeoutSeconds > 0 else { throw bad("postgres.connect_timeout_seconds", "must be positive") }
        guard postgresStatementTimeoutSeconds > 0 else { throw bad("postgres.statement_timeout_seconds", "must be positive") }
        guard postgresOutboxLeaseSeconds >= 1 else { throw bad("postgres.outbox_lease_seconds", "must be at least 1") }
        if usesPostgres {
            do {
                _ = try PostgresStore.Location(url: database)
            } catch {
                throw bad("database", "\(error)".replacingOccurrences(of: "database: ", with: ""))
            }
        }
        guard sessionHours >= 1 else { throw bad("auth.session_hours", "must be at least 1") }
        guard (4...31).contains(bcryptCost) else { throw bad("auth.bcrypt_cost", "must be between 4 and 31") }
        guard (1...8760).contains(invitationHours) else { throw bad("auth.invitation_hours", "must be between 1 and 8760") }
        if let smtp {
            let scheme = URL(string: smtp.url)?.scheme?.lowercased()
            guard scheme == "smtp" || scheme == "smtps", URL(string: smtp.url)?.host != nil else {
                throw bad("smtp.url", "must be an smtp:// or smtps:// URL")
            }
            guard (try? Mailer.address(smtp.from)) != nil else { throw bad("smtp.from", "must be an email address") }
            guard smtp.timeoutSeconds > 0 else { throw bad("smtp.timeout_seconds", "must be positive") }
        }
        if let url = publicBaseURL, URL(string: url)?.scheme == nil { throw bad("public_base_url", "must be a URL") }
    }
}
