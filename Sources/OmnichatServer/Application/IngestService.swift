import Foundation
import Logging
import OmnichatCore

/// Webhook events in: stores one request's events and publishes what they
/// changed. The webhook route only verifies, parses and answers.
struct IngestService: Sendable {
    enum Failure: Error {
        /// Back-pressure: nothing stored; the sender retries after a pause.
        case busy(String)
        /// Not stored (the store failed); the sender must redeliver.
        case unavailable
    }

    let store: any IngestPort
    let channels: ChannelRegistry
    let divisions: DivisionNames
    let domain: DomainEvents
    let metrics: ServerMetrics

    /// Commits the events, then publishes them. `committed` is called as soon
    /// as the transaction holds the events, before the consequences (the
    /// webhook's answer waits for the commit only).
    func ingest(
        _ events: [InboundEvent], channel: ConfiguredChannel, logger: Logger, committed: @Sendable (IngestResult) -> Void = { _ in }
    ) async throws -> IngestResult {
        let hasBot = channels.hasBot(channel)
        let result: IngestResult
        do {
            let division = try await channel.division.asyncMap { try await divisions.id(named: $0) } ?? nil
            result = try await store.ingest(
                IngestBatch(channelID: channel.id, events: events, botEnabled: hasBot, divisionID: division))
        } catch let error as StoreError where error.kind == .busy {
            metrics.webhook(channel: channel.id, outcome: "busy")
            throw Failure.busy(error.message)
        } catch {
            metrics.webhook(channel: channel.id, outcome: "unavailable")
            logger.error("ingest failed", metadata: ["omnichat.channel": .string(channel.id), "omnichat.error": "\(error)"])
            throw Failure.unavailable
        }
        committed(result)
        let wakesOutbox = hasBot || events.contains { $0.followUp != nil }
        await domain.publish(.ingested(channelID: channel.id, result: result, wakesOutbox: wakesOutbox))
        return result
    }
}
