import Foundation
import OmnichatCore

/// Limits every adapter applies to a webhook body before decoding it, so a
/// hostile (or broken) sender cannot make a decoder recurse without bound.
/// No network nests its payloads more than a dozen levels deep.
public enum WebhookLimits {
    /// Deepest nesting of JSON arrays and objects accepted.
    public static let maxDepth = 32
    /// Most events one request may carry (Meta batches up to 1,000).
    public static let maxEvents = 1000

    /// One pass over the bytes, strings skipped: refuses nesting deeper than `maxDepth`.
    public static func checkDepth(_ body: Data) throws(WebhookError) {
        var depth = 0
        var inString = false
        var escaped = false
        // Over the raw bytes: iterating `Data` itself costs a call per byte.
        let tooDeep = body.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            for byte in bytes {
                if inString {
                    if escaped {
                        escaped = false
                    } else if byte == UInt8(ascii: "\\") {
                        escaped = true
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    depth += 1
                    if depth > maxDepth { return true }
                case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
                default: break
                }
            }
            return false
        }
        if tooDeep { throw WebhookError(.malformed, "JSON nested deeper than \(maxDepth) levels") }
    }

    /// Refuses a request carrying more than `maxEvents` events, or an event the
    /// store could not keep apart from others: no id to deduplicate on, or a
    /// message with no conversation (it would land in a room shared by strangers).
    public static func checkEvents(_ events: [InboundEvent]) throws(WebhookError) {
        guard events.count <= maxEvents else {
            throw WebhookError(.malformed, "\(events.count) events in one request; at most \(maxEvents) are accepted")
        }
        for (index, event) in events.enumerated() {
            if event.eventID.isEmpty { throw WebhookError(.malformed, "event \(index) has an empty id") }
            if case .message = event.kind, event.conversationID.isEmpty {
                throw WebhookError(.malformed, "event \(index) names no sender or conversation")
            }
        }
    }
}
