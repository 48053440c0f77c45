import Foundation
import OmnichatCore
import OmnichatDelivery
import Prometheus

/// The daemon's Prometheus metrics. Labels are bounded: channel ids come from
/// configuration, outcomes from a fixed list; never raw ids from requests.
public final class ServerMetrics: DeliveryObserver, @unchecked Sendable {
    /// Live events to tell about delivery status changes (set once at start).
    var live: LiveEvents?

    public let registry = PrometheusCollectorRegistry()
    private let queueDepth: Gauge
    private let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    public init() {
        queueDepth = registry.makeGauge(name: "omnichat_queue_depth", help: "Rooms waiting in the in-memory routing queue")
        // Make the families visible from the first scrape.
        _ = registry.makeCounter(name: "omnichat_rooms_assigned_total", help: "Rooms assigned to an agent")
    }

    /// A webhook answered: outcome is one of accepted, duplicate, unauthorized, malformed, too_large, unavailable.
    public func webhook(channel: String, outcome: String) {
        registry.makeCounter(
            name: "omnichat_webhooks_total", labels: [("channel", channel), ("outcome", outcome)],
            help: "Webhook requests by channel and outcome"
        ).increment()
    }

    public func events(channel: String, stored: Int, duplicates: Int) {
        if stored > 0 {
            registry.makeCounter(name: "omnichat_events_total", labels: [("channel", channel), ("result", "stored")], help: "Inbound events")
                .increment(by: Int64(stored))
        }
        if duplicates > 0 {
            registry.makeCounter(name: "omnichat_events_total", labels: [("channel", channel), ("result", "duplicate")], help: "Inbound events")
                .increment(by: Int64(duplicates))
        }
    }

    public func setQueueDepth(_ depth: Int) {
        queueDepth.set(Int64(depth))
    }

    /// Open HTTP connections, and those closed on accept past `max_connections`.
    public func setConnections(open: Int, refused: Int, slowBodies: Int) {
        registry.makeGauge(
            name: "omnichat_http_slow_bodies", help: "Connections closed because a request body did not arrive within body_timeout_seconds (since start)"
        ).set(Int64(slowBodies))
        registry.makeGauge(name: "omnichat_http_connections", help: "Open HTTP connections").set(Int64(open))
        registry.makeGauge(
            name: "omnichat_http_connections_refused", help: "Connections closed on accept because max_connections were open (since start)"
        ).set(Int64(refused))
    }

    /// Store transactions run again after a conflict with another daemon (PostgreSQL).
    public func setStoreConflictRetries(_ count: Int) {
        registry.makeGauge(
            name: "omnichat_store_conflict_retries", help: "Transactions run again after a serialization failure or deadlock (since start)"
        ).set(Int64(count))
    }

    public func roomAssigned() {
        registry.makeCounter(name: "omnichat_rooms_assigned_total", help: "Rooms assigned to an agent").increment()
    }

    public func attempted(channelID: String, outcome: String, latency: Duration) {
        registry.makeCounter(
            name: "omnichat_deliveries_total", labels: [("channel", channelID), ("outcome", outcome)],
            help: "Outbound delivery attempts by channel and outcome"
        ).increment()
        registry.makeDurationHistogram(
            name: "omnichat_delivery_latency_seconds", labels: [("channel", channelID)], buckets: latencyBuckets,
            help: "Time of one delivery call to a network"
        ).recordNanoseconds(Int64(latency.components.seconds) * 1_000_000_000 + latency.components.attoseconds / 1_000_000_000)
    }

    public func statusChanged(roomID: Int64, messageID: Int64, status: DeliveryStatus, attempts: Int, error: String?) async {
        await live?.delivery(roomID: roomID, messageID: messageID, status: status, attempts: attempts, error: error)
    }

    public func retryScheduled(channelID: String, delay: Duration) {
        registry.makeDurationHistogram(
            name: "omnichat_delivery_retry_delay_seconds", labels: [("channel", channelID)], buckets: latencyBuckets + [.seconds(60), .seconds(300)],
            help: "Backoff before a delivery retry"
        ).recordNanoseconds(Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
    }

    public func circuit(channelID: String, open: Bool) {
        registry.makeGauge(name: "omnichat_delivery_circuit_open", labels: [("channel", channelID)], help: "1 while a channel's circuit is open")
            .set(Int64(open ? 1 : 0))
        if open {
            registry.makeCounter(name: "omnichat_delivery_circuit_opened_total", labels: [("channel", channelID)], help: "Circuit openings")
                .increment()
        }
    }

    /// A reload of adapters.d: outcome is ok or error.
    public func reload(outcome: String) {
        registry.makeCounter(name: "omnichat_config_reloads_total", labels: [("outcome", outcome)], help: "Reloads of adapters.d").increment()
    }

    public func render() -> String {
        registry.emitToString()
    }
}
