import Foundation
import NIOCore
import OmnichatCore
import OmnichatDelivery
import OmnichatPostgres
import TOMLKit

/// The daemon's settings: defaults, then `omnichat.toml`, then `OMNICHAT_*`
/// environment variables, then command-line flags (each overrides the last).
public struct DaemonConfiguration: Sendable {
    /// `host` (string, default `127.0.0.1`)
    public var host = "127.0.0.1"
    /// `port` (integer, default 8080; 0 picks a free port)
    public var port = 8080
    /// `database` (string, default `./omnichat.db`): the SQLite file, or a
    /// `postgres://user:password@host:port/database` URL (several daemons, one database).
    public var database = "./omnichat.db"
    /// `node_name` (string, default `<hostname>:<port>`): this daemon's name in outbox
    /// leases, logs and PostgreSQL's `application_name`.
    public var nodeName: String?
    /// `[postgres] pool_size` (integer, default 10): connections to PostgreSQL per daemon.
    public var postgresPoolSize = 10
    /// `[postgres] connect_timeout_seconds` (number, default 10)
    public var postgresConnectTimeoutSeconds = 10.0
    /// `[postgres] statement_timeout_seconds` (number, default 30): PostgreSQL cancels a longer statement.
    public var postgresStatementTimeoutSeconds = 30.0
    /// `[postgres] outbox_lease_seconds` (number, default 30): how long a daemon holds an
    /// outbox row it is delivering; a dead daemon's rows go to another after this.
    public var postgresOutboxLeaseSeconds = 30.0

    /// `trusted_proxies` (array of IP addresses, default none): load balancers whose
    /// `X-Forwarded-For` is believed for the client's address (sign-in throttling).
    public var trustedProxies: [String] = []
    /// `metrics_token` (string, optional; `OMNICHAT_METRICS_TOKEN`): `/metrics`
    /// answers a client on this machine (loopback, not through a proxy) without
    /// credentials; anyone else needs `Authorization: Bearer <metrics_token>`
    /// (403 without one configured). Never logged.
    public var metricsToken: String?
    /// `metrics_listen` (string `host:port`, optional; `OMNICHAT_METRICS_LISTEN`):
    /// a second listener that serves `/metrics` (and `/healthz`, `/readyz`)
    /// without credentials, for a scraper on a private interface
    /// (`127.0.0.1:9464`, `[::1]:9464`, `10.0.0.5:9464`). The main port's
    /// `/metrics` keeps its rules (this machine, or `metrics_token`).
    public var metricsListen: String?

    /// `metrics_listen` split into host and port; nil when unset.
    public var metricsAddress: (host: String, port: Int)? {
        guard let text = metricsListen, let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port), !host.isEmpty else { return nil }
        return (host, port)
    }
    /// `[outbound] allow_private_networks` (boolean, default false;
    /// `OMNICHAT_ALLOW_PRIVATE_NETWORKS=1`): let URLs that come from API
    /// callers or customers (attachments, webhook URLs set through the API)
    /// reach private, loopback, link-local and metadata addresses. Off, they
    /// are refused after name resolution. URLs in `adapters.d/` are trusted as
    /// written either way.
    public var allowPrivateNetworks = false
    /// `[retention]` (each in days, default: kept): `messages_days` (text,
    /// media references and raw payloads of messages, internal notes),
    /// `media_days` (media references only), `live_events_days`,
    /// `delivery_logs_days` (finished deliveries), `audit_log_days`. Applied
    /// by a background job in bounded batches; reports keep their counts.
    public var retention = RetentionPolicy()

    /// Whether `database` names a PostgreSQL server rather than a SQLite file.
    public var usesPostgres: Bool { database.hasPrefix("postgres://") || database.hasPrefix("postgresql://") }

    /// This daemon's name (configured, or host name and port).
    public var resolvedNodeName: String { nodeName ?? "\(ProcessInfo.processInfo.hostName):\(port)" }
    /// `adapters` (string, default `./adapters.d`): the drop-in folder.
    public var adapters = "./adapters.d"
    /// `public_base_url` (string, default `http://<host>:<port>`): where networks reach us.
    public var publicBaseURL: String?
    /// `app_id` (string, default `omnichat`): names this installation.
    public var appID = "omnichat"
    /// `default_max_open_rooms` (integer, default 10): an agent's capacity unless set per agent.
    public var defaultMaxOpenRooms = 10
    /// `log_level` (string, default `info`)
    public var logLevel = "info"
    /// `[store] synchronous` (`full` | `normal` | `off` | `extra`, default `full`)
    public var synchronous = "full"
    /// `[delivery] max_attempts` (integer, default 8)
    public var deliveryMaxAttempts = 8
    /// `[delivery] timeout_seconds` (number, default 15)
    public var deliveryTimeoutSeconds = 15.0
    /// `[delivery] concurrency` (integer, default 64)
    public var deliveryConcurrency = 64
    /// `[delivery] per_channel_concurrency` (integer, default 16): one channel's share of the slots.
    public var deliveryPerChannelConcurrency = 16
    /// `[delivery] circuit_threshold` (integer, default 5): failed calls in a row that open a channel's circuit.
    public var deliveryCircuitThreshold = 5
    /// `[delivery] circuit_cooldown_seconds` (number, default 5): the first pause of an open circuit (doubles, up to 5 min).
    public var deliveryCircuitCooldownSeconds = 5.0
    /// `[delivery] backoff_base_seconds` (number, default 1)
    public var deliveryBackoffBaseSeconds = 1.0
    /// `[limits] max_body_bytes` (integer, default 1 MiB): larger webhooks get 413.
    public var maxBodyBytes = 1 << 20
    /// `[limits] max_media_bytes` (integer, default 25 MiB): attachments fetched for agents.
    public var maxMediaBytes = 25 << 20
    /// `[limits] queue_capacity` (integer, default 10000): the routing work queue.
    public var queueCapacity = 10_000
    /// `[limits] ingest_max_pending` (integer, default 4096): webhook requests allowed to wait
    /// for a commit; beyond that they are answered 503 with `Retry-After` (nothing stored).
    public var ingestMaxPending = 4096
    /// `[limits] ingest_deadline_seconds` (number, default 1.5): a webhook request not yet in a
    /// commit after this long is answered 503, inside the networks' deadlines (LINE: 2 s).
    public var ingestDeadlineSeconds = 1.5
    /// `[limits] idle_timeout_seconds` (number, default 30): a connection that sends nothing for
    /// this long (between requests, or while its request head trickles in) is closed.
    public var idleTimeoutSeconds = 30.0
    /// `[limits] body_timeout_seconds` (number, default 10): a request body not received in full
    /// within this long of its head has its connection closed (slow senders cannot hold a request open).
    public var bodyTimeoutSeconds = 10.0
    /// `[limits] write_timeout_seconds` (default 30): a connection whose client
    /// takes nothing we send for this long (a stalled event stream) is closed.
    public var writeTimeoutSeconds = 30.0
    /// `[limits] max_connections` (integer, default 2048): connections beyond this many are
    /// closed on accept (networks retry), so those already open keep their deadlines.
    public var maxConnections = 2048
    /// `[auth] session_hours` (integer, default 168)
    public var sessionHours = 168
    /// `[auth] bcrypt_cost` (integer, default 10)
    public var bcryptCost = 10
    /// `[auth] invitation_hours` (integer, default 72): how long an invitation link works.
    public var invitationHours = 72
    /// `[smtp]` (table, optional): `url` (`smtp://` or `smtps://`), `from`, `username`,
    /// `password`, `starttls` (bool, default true), `timeout_seconds` (default 30).
    /// Without it, invitation links are returned by the API instead of mailed.
    public var smtp: SMTPSettings?
    /// `events_retention_seconds` (integer, default 300): how far back `Last-Event-ID` can resume.
    public var eventsRetentionSeconds = 300
    /// `max_event_buffer_bytes` (integer, default 8 MiB, at least 64 KiB): the
    /// most memory the resume buffer of live events holds (estimated); under a
    /// heavy load it keeps less than `events_retention_seconds`.
    public var maxEventBufferBytes = 8 << 20
    /// `max_streams_per_user` (integer, default 5; `OMNICHAT_MAX_STREAMS_PER_USER`):
    /// live event streams one user may hold open at once (tabs, devices); one
    /// more is refused with 429 `too_many_streams`.
    public var maxStreamsPerUser = 5
    /// `max_stream_buffer_bytes` (integer, default 262144, at least 4096):
    /// bytes of events one live stream may have waiting for a client that
    /// reads slowly; past it the stream gets `stream.reset` and ends.
    public var maxStreamBufferBytes = 256 << 10
    /// `shutdown_grace_seconds` (number, default 10): how long SIGTERM waits for drains.
    public var shutdownGraceSeconds = 10.0
    /// `console_dir` (string, default `./console`): the web console's files, served at `/`.
    /// Left at the default and absent (the daemon started outside the source
    /// tree), the console beside the binary, installed by `make install`, or in
    /// the source tree it was built from is served. A folder set explicitly that
    /// does not exist means no console (the API still is), said at start.
    public var consoleDir = DaemonConfiguration.defaultConsoleDir
    public static let defaultConsoleDir = "./console"

    public init() {}

    public var effectivePublicBaseURL: String { publicBaseURL ?? "http://\(host):\(port)" }

    /// Loads `file` (when given; when nil, `./omnichat.toml` if it exists), then the environment.
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DaemonConfiguration {
        var config = DaemonConfiguration()
        let path = file ?? environment["OMNICHAT_CONFIG"] ?? (FileManager.default.fileExists(atPath: "omnichat.toml") ? "omnichat.toml" : nil)
        if let path { try config.apply(file: path, environment: environment) }
        try config.apply(environment: environment)
        try config.validate(source: "configuration")
        return config
    }

    mutating func apply(file path: String, environment: [String: String]) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, key: nil, problem: "cannot be read")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: path, key: nil, problem: "invalid TOML at line \(error.source.begin.line): \(error.description)")
        }
        let values = try TOMLSettings.values(table, file: path, environment: environment)
        var known: Set<String> = []
        func take<T>(_ key: String, _ read: (SettingValue) -> T?, _ type: String, _ apply: (T) -> Void) throws {
            known.insert(key)
            let parts = key.split(separator: ".").map(String.init)
            var node: SettingValue? = .table(values)
            for part in parts {
                guard case .table(let t)? = node else { node = nil; break }
                node = t[part]
            }
            guard let node else { return }
            guard let value = read(node) else {
                throw ConfigurationError(file: path, key: key, problem: "expected \(type)")
            }
            apply(value)
        }
        let str: (SettingValue) -> String? = { if case .string(let s) = $0 { s } else { nil } }
        let int: (SettingValue) -> Int? = { if case .int(let i) = $0 { i } else { nil } }
        let num: (SettingValue) -> Double? = {
            switch $0 {
            case .int(let i): Double(i)
            case .double(let d): d
            default: nil
            }
        }
        try take("host", str, "a string") { host = $0 }
        try take("port", int, "an integer") { port = $0 }
        try take("database", str, "a string") { database = $0 }
        try take("adapters", str, "a string") { adapters = $0 }
        try take("public_base_url", str, "a string") { publicBaseURL = $0 }
        try take("app_id", str, "a string") { appID = $0 }
        try take("console_dir", str, "a string") { consoleDir = $0 }
        try take("default_max_open_rooms", int, "an integer") { defaultMaxOpenRooms = $0 }
        try take("log_level", str, "a string") { logLevel = $0 }
        try take("shutdown_grace_seconds", num, "a number") { shutdownGraceSeconds = $0 }
        try take("events_retention_seconds", int, "an integer") { eventsRetentionSeconds = $0 }
        try take("max_event_buffer_bytes", int, "an integer") { maxEventBufferBytes = $0 }
        try take("max_streams_per_user", int, "an integer") { maxStreamsPerUser = $0 }
        try take("max_stream_buffer_bytes", int, "an integer") { maxStreamBufferBytes = $0 }
        try take("store.synchronous", str, "a string") { synchronous = $0 }
        try take("node_name", str, "a string") { nodeName = $0 }
        let strings: (SettingValue) -> [String]? = {
            guard case .array(let items) = $0 else { return nil }
            let texts = items.compactMap { item -> String? in if case .string(let s) = item { s } else { nil } }
            return texts.count == items.count ? texts : nil
        }
        try take("trusted_proxies", strings, "an array of IP address strings") { trustedProxies = $0 }
        try take("metrics_token", str, "a string") { metricsToken = $0.isEmpty ? nil : $0 }
        try take("metrics_listen", str, "a string") { metricsListen = $0.isEmpty ? nil : $0 }
        try take("postgres.pool_size", int, "an integer") { postgresPoolSize = $0 }
        try take("postgres.connect_timeout_seconds", num, "a number") { postgresConnectTimeoutSeconds = $0 }
        try take("postgres.outbox_lease_seconds", num, "a number") { postgresOutboxLeaseSeconds = $0 }
        try take("postgres.statement_timeout_seconds", num, "a number") { postgresStatementTimeoutSeconds = $0 }
        try take("delivery.max_attempts", int, "an integer") { deliveryMaxAttempts = $0 }
        try take("delivery.timeout_seconds", num, "a number") { deliveryTimeoutSeconds = $0 }
        try take("delivery.concurrency", int, "an integer") { deliveryConcurrency = $0 }
        try take("delivery.backoff_base_seconds", num, "a number") { deliveryBackoffBaseSeconds = $0 }
        try take("delivery.per_channel_concurrency", int, "an integer") { deliveryPerChannelConcurrency = $0 }
        try take("delivery.circuit_threshold", int, "an integer") { deliveryCircuitThreshold = $0 }
        try take("delivery.circuit_cooldown_seconds", num, "a number") { deliveryCircuitCooldownSeconds = $0 }
        try take("limits.max_body_bytes", int, "an integer") { maxBodyBytes = $0 }
        try take("limits.queue_capacity", int, "an integer") { queueCapacity = $0 }
        try take("limits.ingest_max_pending", int, "an integer") { ingestMaxPending = $0 }
        try take("limits.ingest_deadline_seconds", num, "a number") { ingestDeadlineSeconds = $0 }
        try take("limits.idle_timeout_seconds", num, "a number") { idleTimeoutSeconds = $0 }
        try take("limits.body_timeout_seconds", num, "a number") { bodyTimeoutSeconds = $0 }
        try take("limits.write_timeout_seconds", num, "a number") { writeTimeoutSeconds = $0 }
        try take("limits.max_connections", int, "an integer") { maxConnections = $0 }
        try take("limits.max_media_bytes", int, "an integer") { maxMediaBytes = $0 }
        try take("auth.session_hours", int, "an integer") { sessionHours = $0 }
        try take("auth.bcrypt_cost", int, "an integer") { bcryptCost = $0 }
        try take("auth.invitation_hours", int, "an integer") { invitationHours = $0 }
        let bool: (SettingValue) -> Bool? = { if case .bool(let b) = $0 { b } else { nil } }
        try take("outbound.allow_private_networks", bool, "true or false") { allowPrivateNetworks = $0 }
        for (key, path) in [
            ("messages_days", \RetentionPolicy.messagesDays), ("media_days", \.mediaDays), ("live_events_days", \.liveEventsDays),
            ("delivery_logs_days", \.deliveryLogsDays), ("audit_log_days", \.auditLogDays),
        ] {
            try take("retention.\(key)", int, "a whole number of days") { retention[keyPath: path] = $0 }
            // The short form (`messages = 30`) means the same.
            try take("retention.\(key.dropLast(5))", int, "a whole number of days") { retention[keyPath: path] = $0 }
        }
        var mail = SMTPSettings(url: "", from: "")
        try take("smtp.url", str, "a string") { mail.url = $0 }
        try take("smtp.from", str, "a string") { mail.from = $0 }
        try take("smtp.username", str, "a string") { mail.username = $0.isEmpty ? nil : $0 }
        try take("smtp.password", str, "a string") { mail.password = $0.isEmpty ? nil : $0 }
        try take("smtp.starttls", bool, "true or false") { mail.starttls = $0 }
        try take("smtp.timeout_seconds", num, "a number") { mail.timeoutSeconds = $0 }
        if case .table? = values["smtp"] {
            guard !mail.url.isEmpty else { throw ConfigurationError(file: path, key: "smtp.url", problem: "is required in [smtp]") }
            guard !mail.from.isEmpty else { throw ConfigurationError(file: path, key: "smtp.from", problem: "is required in [smtp]") }
            smtp = mail
        }
        // Unknown keys are typos until proven otherwise.
        for (key, value) in values {
            if case .table(let inner) = value, ["store", "delivery", "limits", "auth", "smtp", "postgres", "outbound", "retention"].contains(key) {
                for sub in inner.keys where !known.contains("\(key).\(sub)") {
                    throw ConfigurationError(file: path, key: "\(key).\(sub)", problem: "unknown key")
                }
            } else if !known.contains(key) {
                throw ConfigurationError(file: path, key: key, problem: "unknown key")
            }
        }
        try validate(source: path)
    }

    mutating func apply(environment env: [String: String]) throws {
        func int(_ name: String) throws -> Int? {
            guard let raw = env[name] else { return nil }
            guard let value = Int(raw) else { throw ConfigurationError(file: "environment", key: name, problem: "expected an integer, got '\(raw)'") }
            return value
        }
        if let v = env["OMNICHAT_HOST"] { host = v }
        if let v = try int("OMNICHAT_PORT") { port = v }
        if let v = env["OMNICHAT_DATABASE"] { database = v }
        if let v = env["OMNICHAT_ADAPTERS"] { adapters = v }
        if let v = env["OMNICHAT_PUBLIC_BASE_URL"] { publicBaseURL = v }
        if let v = env["OMNICHAT_APP_ID"] { appID = v }
        if let v = env["OMNICHAT_CONSOLE_DIR"] { consoleDir = v }
        if let v = env["OMNICHAT_METRICS_TOKEN"] { metricsToken = v.isEmpty ? nil : v }
        if let v = env["OMNICHAT_METRICS_LISTEN"] { metricsListen = v.isEmpty ? nil : v }
        if let v = try int("OMNICHAT_DEFAULT_MAX_OPEN_ROOMS") { defaultMaxOpenRooms = v }
        if let v = try int("OMNICHAT_MAX_STREAMS_PER_USER") { maxStreamsPerUser = v }
        if let v = env["OMNICHAT_LOG_LEVEL"] { logLevel = v }
        if let v = env["OMNICHAT_ALLOW_PRIVATE_NETWORKS"] {
            switch v.lowercased() {
            case "1", "true", "yes": allowPrivateNetworks = true
            case "0", "false", "no", "": allowPrivateNetworks = false
            default:
                throw ConfigurationError(file: "environment", key: "OMNICHAT_ALLOW_PRIVATE_NETWORKS", problem: "expected 1 or 0, got '\(v)'")
            }
        }
        if let v = env["OMNICHAT_SYNCHRONOUS"] { synchronous = v }
        if let v = env["OMNICHAT_NODE_NAME"], !v.isEmpty { nodeName = v }
        if let v = env["OMNICHAT_TRUSTED_PROXIES"] {
            trustedProxies = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let v = try int("OMNICHAT_POSTGRES_POOL_SIZE") { postgresPoolSize = v }
        if let v = try int("OMNICHAT_DELIVERY_MAX_ATTEMPTS") { deliveryMaxAttempts = v }
    }
}

/// TOML → `SettingValue`, with `${ENV}` and `${ENV:-default}` substitution in strings.
enum TOMLSettings {
    static func values(_ table: TOMLTable, file: String, environment: [String: String], prefix: String = "") throws -> [String: SettingValue] {
        var out: [String: SettingValue] = [:]
        for key in table.keys {
            guard let value = table[key] else { continue }
            out[key] = try convert(value, key: prefix + key, file: file, environment: environment)
        }
        return out
    }

    static func convert(_ value: any TOMLValueConvertible, key: String, file: String, environment: [String: String]) throws -> SettingValue {
        switch value.type {
        case .string: return .string(try substitute(value.string ?? "", key: key, file: file, environment: environment))
        case .int: return .int(value.int ?? 0)
        case .bool: return .bool(value.bool ?? false)
        case .double: return .double(value.double ?? 0)
        case .array:
            return .array(try (value.array.map(Array.init) ?? []).map { try convert($0, key: key, file: file, environment: environment) })
        case .table:
            return .table(try values(value.table ?? TOMLTable(), file: file, environment: environment, prefix: key + "."))
        default:
            throw ConfigurationError(file: file, key: key, problem: "dates and times are not supported here")
        }
    }

    static func substitute(_ text: String, key: String, file: String, environment: [String: String]) throws -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigurationError(file: file, key: key, problem: "unterminated ${ in value")
            }
            let expression = rest[start.upperBound..<end]
            let name: Substring
            var fallback: Substring?
            if let dash = expression.range(of: ":-") {
                name = expression[..<dash.lowerBound]
                fallback = expression[dash.upperBound...]
            } else {
                name = expression
            }
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                throw ConfigurationError(file: file, key: key, problem: "invalid environment variable name '\(name)'")
            }
            if let value = environment[String(name)], !value.isEmpty {
                out += value
            } else if let fallback {
                out += fallback
            } else {
                throw ConfigurationError(file: file, key: key, problem: "environment variable \(name) is not set")
            }
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }
}
