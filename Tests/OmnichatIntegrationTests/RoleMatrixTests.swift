import Foundation
import OmnichatCore
import OmnichatServer
import Testing

/// Walks `docs/roles.md`: every route the server registers is in the table
/// (and nothing else), and every route is called as every role and API key
/// scope, expecting exactly what the table says.
@Suite("Roles on every route", .serialized, .bothEngines)
struct RoleMatrixTests {
    struct Row {
        var method: String
        var path: String
        var cells: [String: String]  // admin, supervisor, agent → ✓ ✗ own —
        var keys: String
    }

    static func table() throws -> [Row] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/roles.md"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { line -> Row? in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 6, ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(cells[0]) else { return nil }
            return Row(method: cells[0], path: cells[1], cells: ["admin": cells[2], "supervisor": cells[3], "agent": cells[4]], keys: cells[5])
        }
    }

    static func registered(_ daemon: TestDaemon) -> Set<String> {
        Set(daemon.daemon.router().routes.map { route in
            let path = route.path.description.split(separator: "/").map { part in
                part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
            }.joined(separator: "/")
            return "\(route.method.rawValue) /\(path)"
        })
    }

    @Test("the table lists exactly the registered routes")
    func parity() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let documented = Set(try Self.table().map { "\($0.method) \($0.path)" })
        let served = Self.registered(daemon)
        #expect(served.subtracting(documented).sorted() == [], "registered but not in docs/roles.md")
        #expect(documented.subtracting(served).sorted() == [], "in docs/roles.md but not registered")
        await daemon.stop()
    }

    final class World: @unchecked Sendable {
        let daemon: TestDaemon
        var counter = 0
        var keys: [APIKey.Scope: String] = [:]
        init(daemon: TestDaemon) { self.daemon = daemon }

        func user(_ role: Role) async throws -> (User, String) {
            counter += 1
            return try await daemon.signIn(email: "\(role.rawValue)\(counter)@example.com", role: role, online: false)
        }

        /// A room assigned to `owner` (or to a bystander agent), with one inbound message.
        func room(for owner: User?) async throws -> (room: Int64, message: Int64) {
            counter += 1
            let event = InboundEvent(
                eventID: "matrix-\(counter)", conversationID: "matrix-\(counter)", contact: ContactProfile(externalID: "c\(counter)"),
                content: .text("hello"), occurredAt: Date(), raw: "{}")
            let result = try await daemon.store.ingest(IngestBatch(channelID: "tg", events: [event]))
            let room = try #require(result.roomIDs.first)
            var assignee = owner
            if assignee == nil { assignee = try await user(.agent).0 }
            _ = try await daemon.store.assign(roomID: room, to: assignee!.id, capacity: 1000, actor: "test", replace: true, force: true)
            let message = try #require(try await daemon.store.messages(roomID: room, cursor: nil, limit: 1).items.first?.id)
            return (room, message)
        }

        func path(_ template: String, caller: User?, ownTarget: Bool) async throws -> String {
            var path = template
            if path.contains("{room_id}") || path.contains("{message_id}") {
                let (room, message) = try await self.room(for: ownTarget ? caller : nil)
                path = path.replacingOccurrences(of: "{room_id}", with: String(room)).replacingOccurrences(of: "{message_id}", with: String(message))
            }
            if path.contains("{contact_id}") {
                let (room, _) = try await self.room(for: ownTarget ? caller : nil)
                let contact = try #require(try await daemon.store.room(id: room)?.contact.id)
                path = path.replacingOccurrences(of: "{contact_id}", with: String(contact))
            }
            if path.contains("{user_id}") { path = path.replacingOccurrences(of: "{user_id}", with: String(try await user(.agent).0.id)) }
            if path.contains("{division_id}") {
                counter += 1
                path = path.replacingOccurrences(of: "{division_id}", with: String(try await daemon.store.createDivision(name: "D\(counter)").id))
            }
            if path.contains("{key_id}") {
                let secret = Authenticator.newAPIKey()
                let key = try await daemon.store.createAPIKey(name: "k", scope: .read, keyHash: Authenticator.tokenHash(secret))
                path = path.replacingOccurrences(of: "{key_id}", with: String(key.id))
            }
            path = path.replacingOccurrences(of: "{channel_id}", with: "tg").replacingOccurrences(of: "{app_id}", with: "omnichat")
            // The live stream would stay open: an invalid resume point answers at once after the role check.
            if path == "/api/v1/events" { path += "?last_event_id=not-a-number" }
            return path
        }

        func send(_ method: String, _ path: String, token: String?) async throws -> Int {
            let hasBody = ["POST", "PUT", "PATCH"].contains(method)
            return try await call(method, "\(daemon.base)\(path)", json: hasBody ? [String: Any]() : nil, token: token).status
        }
    }

    @Test("every route as every role and key scope")
    func matrix() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let world = World(daemon: daemon)
        for scope in APIKey.Scope.allCases {
            let secret = Authenticator.newAPIKey()
            _ = try await daemon.store.createAPIKey(name: scope.rawValue, scope: scope, keyHash: Authenticator.tokenHash(secret))
            world.keys[scope] = secret
        }
        // Credentials that were good once: a deactivated admin's token, an expired admin
        // session, a revoked API key of every scope, and a token nobody issued.
        let (expiredAdmin, _) = try await world.user(.admin)
        let expiredToken = "oc_" + String(Authenticator.newAPIKey().dropFirst(4))
        try await daemon.store.createSession(
            tokenHash: Authenticator.tokenHash(expiredToken), userID: expiredAdmin.id, expiresAt: Date().addingTimeInterval(1))
        #expect(try await world.send("GET", "/api/v1/me", token: expiredToken) == 200, "valid until it expires")
        let (deactivatedAdmin, deactivatedToken) = try await world.user(.admin)
        _ = try await daemon.store.setActive(userID: deactivatedAdmin.id, active: false)
        var revoked: [String] = []
        for scope in APIKey.Scope.allCases {
            let secret = Authenticator.newAPIKey()
            let key = try await daemon.store.createAPIKey(name: "revoked-\(scope.rawValue)", scope: scope, keyHash: Authenticator.tokenHash(secret))
            _ = try await daemon.store.revokeAPIKey(id: key.id, at: Date())
            revoked.append(secret)
        }
        try await Task.sleep(for: .milliseconds(1_100))  // the session above has expired
        let stale = [("a deactivated admin", deactivatedToken), ("an expired session", expiredToken), ("an unknown token", "not-a-token")]
            + revoked.map { ("a revoked key", $0) }
        var checked = 0
        for row in try Self.table() where row.cells["admin"] != "—" {
            let where_ = "\(row.method) \(row.path)"
            // No credentials: 401.
            let anonymous = try await world.send(row.method, try await world.path(row.path, caller: nil, ownTarget: false), token: nil)
            #expect(anonymous == 401, "\(where_) without a token answered \(anonymous)")
            for (what, token) in stale {
                let status = try await world.send(row.method, try await world.path(row.path, caller: nil, ownTarget: false), token: token)
                #expect(status == 401, "\(where_) with \(what) answered \(status), expected 401")
                checked += 1
            }
            for role in [Role.admin, .supervisor, .agent] {
                let expected = row.cells[role.rawValue] ?? "?"
                let (user, token) = try await world.user(role)
                switch expected {
                case "✓":
                    let status = try await world.send(row.method, try await world.path(row.path, caller: user, ownTarget: true), token: token)
                    #expect(![401, 403].contains(status), "\(where_) as \(role.rawValue) was refused (\(status))")
                case "✗":
                    let status = try await world.send(row.method, try await world.path(row.path, caller: user, ownTarget: true), token: token)
                    #expect(status == 403, "\(where_) as \(role.rawValue) answered \(status), expected 403")
                case "own":
                    let own = try await world.send(row.method, try await world.path(row.path, caller: user, ownTarget: true), token: token)
                    #expect(![401, 403].contains(own), "\(where_) as \(role.rawValue) on their own room was refused (\(own))")
                    let (_, second) = try await world.user(role)
                    let other = try await world.send(row.method, try await world.path(row.path, caller: user, ownTarget: false), token: second)
                    #expect(other == 403, "\(where_) as \(role.rawValue) on another agent's room answered \(other)")
                default:
                    Issue.record("\(where_): unknown cell '\(expected)' for \(role.rawValue)")
                }
                checked += 1
            }
            for scope in APIKey.Scope.allCases {
                let allowed = row.keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains(scope.rawValue)
                let status = try await world.send(row.method, try await world.path(row.path, caller: nil, ownTarget: false), token: world.keys[scope])
                if allowed {
                    #expect(![401, 403].contains(status), "\(where_) with a \(scope.rawValue) key was refused (\(status))")
                } else {
                    #expect(status == 403, "\(where_) with a \(scope.rawValue) key answered \(status), expected 403")
                }
                checked += 1
            }
        }
        #expect(checked > 550)
        await daemon.stop()
    }
}
