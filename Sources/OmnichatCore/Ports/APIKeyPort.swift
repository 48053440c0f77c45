import Foundation

/// API keys of integrations and bots (only their hashes are stored).
public protocol APIKeyPort: Sendable {
    func createAPIKey(name: String, scope: APIKey.Scope, keyHash: String) async throws -> APIKey
    func apiKey(keyHash: String) async throws -> APIKey?
    /// Every key, revoked ones included, newest first (never the secret).
    func apiKeys() async throws -> [APIKey]
    /// Revokes a key (idempotent); nil when there is no such key.
    func revokeAPIKey(id: Int64, at: Date) async throws -> APIKey?
}
