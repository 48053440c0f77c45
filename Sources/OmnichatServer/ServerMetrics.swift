import Foundation
import OmnichatCore
import OmnichatDelivery
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics. Labels are bounded: channel ids come from
/// configuration, outcomes from a fixed list; never raw ids from requests.
public final class ServerMetrics: DeliveryObserver, Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let queueDepth: Gauge
    private let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    public init() {
        queueDepth = registry.makeGauge(descriptor: Self.named("omnichat_queue_depth", "Rooms waiting in the in-memory routing queue"))
        // Make the families visible from the first scrape.
        _ = registry.makeCounter(descriptor: Self.named("omnichat_rooms_assigned_total", "Rooms assigned to an agent"))
    }

    /// A webhook answered: outcome is one of accepted, duplicate, unauthorized, malformed, too_large, unavailable.
    public func webhook(channel: String, outcome: String) {
        registry.makeCounter(descriptor: Self.named("omnichat_webhooks_total", "Webhook requests by channel and outcome"), labels: [("channel", channel), ("outcome", outcome)]).increment()
    }

    public func events(channel: String, stored: Int, duplicates: Int) {
        if stored > 0 {
            registry.makeCounter(descriptor: Self.named("omnichat_events_total", "Inbound events"), labels: [("channel", channel), ("result", "stored")])
                .increment(by: Int64(stored))
        }
        if duplicates > 0 {
            registry.makeCounter(descriptor: Self.named("omnichat_events_total", "Inbound events"), labels: [("channel", channel), ("result", "duplicate")])
                .increment(by: Int64(duplicates))
        }
    }

    public func setQueueDepth(_ depth: Int) {
        queueDepth.set(Int64(depth))
    }

    /// Open HTTP connections, and those closed on accept past `max_connections`.
    public func setConnections(open: Int, refused: Int, slowBodies: Int, stalledWrites: Int = 0) {
        registry.makeGauge(descriptor: Self.named("omnichat_http_stalled_writes", "Connections closed because the client took nothing for write_timeout_seconds (since start)")).set(Int64(stalledWrites))
        registry.makeGauge(descriptor: Self.named("omnichat_http_slow_bodies", "Connections closed because a request body did not arrive within body_timeout_seconds (since start)")).set(Int64(slowBodies))
        registry.makeGauge(descriptor: Self.named("omnichat_http_connections", "Open HTTP connections")).set(Int64(open))
        registry.makeGauge(descriptor: Self.named("omnichat_http_connections_refused", "Connections closed on accept because max_connections were open (since start)")).set(Int64(refused))
    }

    /// Store transactions run again after a conflict with another daemon (PostgreSQL).
    public func setStoreConflictRetries(_ count: Int) {
        registry.makeGauge(descriptor: Self.named("omnichat_store_conflict_retries", "Transactions run again after a serialization failure or deadlock (since start)")).set(Int64(count))
    }

    public func roomAssigned() {
        registry.makeCounter(descriptor: Self.named("omnichat_rooms_assigned_total", "Rooms assigned to an agent")).increment()
    }

    public func attempted(channelID: String, outcome: String, latency: Duration) {
        registry.makeCounter(descriptor: Self.named("omnichat_deliveries_total", "Outbound delivery attempts by channel and outcome"), labels: [("channel", channelID), ("outcome", outcome)]).increment()
        registry.makeDurationHistogram(descriptor: Self.named("omnichat_delivery_latency_seconds", "Time of one delivery call to a network"), labels: [("channel", channelID)], buckets: latencyBuckets).recordNanoseconds(Int64(latency.components.seconds) * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000)
    }

    public func retryScheduled(channelID: String, delay: Duration) {
        registry.makeDurationHistogram(descriptor: Self.named("omnichat_delivery_retry_delay_seconds", "Backoff before a delivery retry"), labels: [("channel", channelID)], buckets: latencyBuckets + [.seconds(60), .seconds(300)]).recordNanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
    }

    /// Channels whose delivery circuit is open in this daemon (the channels page shows it).
    private let openCircuits = Mutex<Set<String>>([])
    public var channelsWithOpenCircuit: Set<String> { openCircuits.withLock { $0 } }

    public func circuit(channelID: String, open: Bool) {
        openCircuits.withLock { if open { $0.insert(channelID) } else { $0.remove(channelID) } }
        registry.makeGauge(descriptor: Self.named("omnichat_delivery_circuit_open", "1 while a channel's circuit is open"), labels: [("channel", channelID)])
            .set(Int64(open ? 1 : 0))
        if open {
            registry.makeCounter(descriptor: Self.named("omnichat_delivery_circuit_opened_total", "Circuit openings"), labels: [("channel", channelID)])
                .increment()
        }
    }

    /// A reload of adapters.d: outcome is ok or error.
    public func reload(outcome: String) {
        registry.makeCounter(descriptor: Self.named("omnichat_config_reloads_total", "Reloads of adapters.d"), labels: [("outcome", outcome)]).increment()
    }

    /// A metric's name and help, as the registry takes them (no unit suffix: the names carry it).
    static func named(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    public func render() -> String {
        registry.emitToString()
    }
}

/// What the delivery worker reports, to whom: metrics count every attempt,
/// retry and circuit change; live events tell agents a reply's status.
struct DeliveryObservers: DeliveryObserver {
    let metrics: ServerMetrics
    let live: LiveEvents

    func attempted(channelID: String, outcome: String, latency: Duration) {
        metrics.attempted(channelID: channelID, outcome: outcome, latency: latency)
    }

    func retryScheduled(channelID: String, delay: Duration) {
        metrics.retryScheduled(channelID: channelID, delay: delay)
    }

    func circuit(channelID: String, open: Bool) {
        metrics.circuit(channelID: channelID, open: open)
    }

    func statusChanged(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) async {
        await live.delivery(roomID: roomID, messageID: messageID, status: status, attempts: attempts, error: error)
    }
}
