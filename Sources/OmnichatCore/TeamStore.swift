import Foundation

/// Accounts and team management: the store side of the agent API's team
/// routes (agents, invitations, sessions, API keys, divisions, channels' agents,
/// audit log). `Store` includes it.
public protocol TeamStore: Sendable {
}
