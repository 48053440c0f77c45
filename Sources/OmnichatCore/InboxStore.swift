import Foundation

/// The inbox and reports: the store side of room search, read marks, notes,
/// tags and performance reports. `Store` includes it.
public protocol InboxStore: Sendable {
}
