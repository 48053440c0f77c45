import Foundation
import OmnichatCore
import OmnichatTesting
@testable import OmnichatDelivery
@testable import OmnichatServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Accounts and team management through the real server: tokens, throttling,
/// passwords, API keys, agents and invitations (with a local SMTP sink),
/// deactivation, divisions, channels and the audit log.
@Suite("End to end: accounts and team", .serialized, .bothEngines)
struct TeamTests {
    func withDaemon(
        channels extra: [String: String] = [:],
        configure: (inout DaemonConfiguration) -> Void = { _ in },
        _ body: (TestDaemon, FakeNetwork) async throws -> Void
    ) async throws {
        let network = FakeNetwork()
        try await network.start()
        var channels = ["tg": TestDaemon.telegramChannel(apiBase: network.baseURL)]
        for (name, text) in extra { channels[name] = text.replacingOccurrences(of: "NETWORK", with: network.baseURL) }
        let daemon = try TestDaemon(channels: channels, configure: configure)
        try await daemon.start()
        do {
            try await body(daemon, network)
        } catch {
            await daemon.stop(); await network.stop(); daemon.cleanUp()
            throw error
        }
        await daemon.stop(); await network.stop(); daemon.cleanUp()
    }

    func login(_ daemon: TestDaemon, _ email: String, _ password: String) async throws -> HTTPResult {
        try await call("POST", "\(daemon.base)/api/v1/auth/login", json: ["email": email, "password": password])
    }

    func errorCode(_ result: HTTPResult) -> String? { (result["error"] as? [String: Any])?["code"] as? String }

    func header(_ result: HTTPResult, _ name: String) -> String? {
        result.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    // MARK: Tokens and passwords

    @Test("refresh gives a new token and ends the old one")
    func refresh() async throws {
        try await withDaemon { daemon, _ in
            let (ann, token) = try await daemon.signIn(email: "ann@example.com", online: false)
            let refreshed = try await call("POST", "\(daemon.base)/api/v1/auth/refresh", token: token)
            #expect(refreshed.status == 200, "\(refreshed.text)")
            let fresh = try #require(refreshed["token"] as? String)
            #expect(fresh != token)
            #expect(refreshed["expires_at"] is String)
            #expect((refreshed["user"] as? [String: Any])?["id"].asID == ann.id)
            #expect(try await call("GET", "\(daemon.base)/api/v1/me", token: token).status == 401)
            #expect(try await call("GET", "\(daemon.base)/api/v1/me", token: fresh).status == 200)
            #expect(try await call("POST", "\(daemon.base)/api/v1/auth/refresh", token: token).status == 401)
            #expect(try await call("POST", "\(daemon.base)/api/v1/auth/refresh").status == 401)
        }
    }

    @Test("five failed logins: 429 with Retry-After, even with the right password, and for other accounts from that address")
    func throttling() async throws {
        try await withDaemon { daemon, _ in
            _ = try await daemon.signIn(email: "ann@example.com", online: false)
            _ = try await daemon.store.createUser(
                NewUser(email: "bo@example.com", name: "Bo", role: .agent, passwordHash: Authenticator.hashPassword("password-bo", cost: 4)))
            for _ in 0..<5 {
                let wrong = try await login(daemon, "ann@example.com", "not-the-password")
                #expect(wrong.status == 401)
                #expect(errorCode(wrong) == "invalid_credentials")
            }
            let throttled = try await login(daemon, "ann@example.com", "password-ann@example.com")
            #expect(throttled.status == 429)
            #expect(errorCode(throttled) == "throttled")
            let retry = try #require(header(throttled, "Retry-After").flatMap { Int($0) })
            #expect(retry > 0 && retry <= 900)
            // The address is throttled too: another account from it waits as well.
            let other = try await login(daemon, "bo@example.com", "password-bo")
            #expect(other.status == 429)
            #expect(header(other, "Retry-After") != nil)
        }
    }

    @Test("behind a trusted balancer the throttle counts the forwarded client address; from anyone else X-Forwarded-For is ignored")
    func throttlingBehindProxy() async throws {
        try await withDaemon(configure: { $0.trustedProxies = ["127.0.0.1"] }) { daemon, _ in
            _ = try await daemon.signIn(email: "ann@example.com", online: false)
            _ = try await daemon.store.createUser(
                NewUser(email: "bo@example.com", name: "Bo", role: .agent, passwordHash: Authenticator.hashPassword("password-bo", cost: 4)))
            func login(_ email: String, _ password: String, from client: String) async throws -> HTTPResult {
                try await call(
                    "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": email, "password": password],
                    headers: [("X-Forwarded-For", "203.0.113.9, \(client)")])
            }
            // Five wrong passwords for Ann from one client (the left-most entry is the client's to forge).
            for _ in 0..<5 { #expect(try await login("ann@example.com", "wrong-password", from: "198.51.100.7").status == 401) }
            // That client is throttled, for Bo as well; another client behind the same balancer is not.
            #expect(try await login("bo@example.com", "password-bo", from: "198.51.100.7").status == 429)
            #expect(try await login("bo@example.com", "password-bo", from: "198.51.100.8").status == 200)
            // Ann herself, from elsewhere, is slowed down (seconds), not locked out for the window.
            let slowed = try await login("ann@example.com", "password-ann@example.com", from: "198.51.100.9")
            if slowed.status == 429 {
                let wait = try #require(header(slowed, "Retry-After").flatMap { Int($0) })
                #expect(wait <= 2, "a delay, not a lock: \(wait) s")
                try await Task.sleep(for: .seconds(wait))
            }
            #expect(try await login("ann@example.com", "password-ann@example.com", from: "198.51.100.9").status == 200)
        }
        // Without trusted_proxies the header is the client's word: the connection's address counts.
        try await withDaemon { daemon, _ in
            _ = try await daemon.store.createUser(
                NewUser(email: "bo@example.com", name: "Bo", role: .agent, passwordHash: Authenticator.hashPassword("password-bo", cost: 4)))
            for n in 0..<5 {
                let wrong = try await call(
                    "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "bo@example.com", "password": "wrong-password"],
                    headers: [("X-Forwarded-For", "198.51.100.\(n)")])
                #expect(wrong.status == 401)
            }
            let next = try await call(
                "POST", "\(daemon.base)/api/v1/auth/login", json: ["email": "nobody@example.com", "password": "x"],
                headers: [("X-Forwarded-For", "198.51.100.99")])
            #expect(next.status == 429, "a forged header does not escape the address throttle")
        }
    }

    @Test("the throttle: an address locks for the window, an account only slows (growing delays, a minute at most); a success clears the account; failures age out")
    func throttleRules() {
        let throttle = LoginThrottle(maxFailures: 5, window: 900)
        let start = Date(timeIntervalSince1970: 1_000_000)
        let ann = LoginThrottle.keys(email: "Ann@Example.com", client: "10.0.0.1")
        let annElsewhere = LoginThrottle.keys(email: "ann@example.com", client: "10.0.0.2")
        let bo = LoginThrottle.keys(email: "bo@example.com", client: "10.0.0.3")
        for i in 0..<4 { throttle.recordFailure(ann, now: start + Double(i)) }
        #expect(throttle.retryAfter(ann, now: start + 10) == nil)
        throttle.reset(ann.account)  // a success
        throttle.recordFailure(annElsewhere, now: start + 11)
        #expect(throttle.retryAfter(annElsewhere, now: start + 12) == nil, "the success cleared the account's count")
        for i in 0..<4 { throttle.recordFailure(annElsewhere, now: start + 20 + Double(i)) }
        // Five for the account (from another address): it slows down everywhere, it does not lock.
        let annAnywhere = LoginThrottle.keys(email: "ann@example.com", client: "10.9.9.9")
        #expect(throttle.retryAfter(annAnywhere, now: start + 23.5) == 1)
        #expect(throttle.retryAfter(annAnywhere, now: start + 24.5) == nil, "one second after the fifth failure")
        for i in 0..<5 { throttle.recordFailure(LoginThrottle.keys(email: "ann@example.com", client: "10.8.0.\(i)"), now: start + 40 + Double(i)) }
        #expect(throttle.retryAfter(annAnywhere, now: start + 44) == 32, "ten failures: 2^5 seconds after the last")
        for i in 0..<20 { throttle.recordFailure(LoginThrottle.keys(email: "ann@example.com", client: "10.7.0.\(i)"), now: start + 50 + Double(i)) }
        #expect(throttle.retryAfter(annAnywhere, now: start + 69) == 60, "never more than a minute: the account cannot be locked")
        // The first address has 4 failures: not throttled for another account.
        #expect(throttle.retryAfter(LoginThrottle.keys(email: "cy@example.com", client: "10.0.0.1"), now: start + 30) == nil)
        for i in 0..<5 { throttle.recordFailure(bo, now: start + Double(i)) }
        #expect(throttle.retryAfter(LoginThrottle.keys(email: "dee@example.com", client: "10.0.0.3"), now: start + 100) != nil)
        #expect(throttle.retryAfter(bo, now: start + 901) == nil, "failures leave the window")
    }

    @Test("password change: wrong current 403, short 422, then other sessions end; PATCH /me renames")
    func passwordChange() async throws {
        try await withDaemon { daemon, _ in
            let (_, token) = try await daemon.signIn(email: "ann@example.com", online: false)
            let second = try #require(try await login(daemon, "ann@example.com", "password-ann@example.com")["token"] as? String)
            let url = "\(daemon.base)/api/v1/me/password"
            let wrong = try await call("PUT", url, json: ["current_password": "nope", "new_password": "a-new-password"], token: token)
            #expect(wrong.status == 403)
            #expect(errorCode(wrong) == "invalid_credentials")
            let short = try await call("PUT", url, json: ["current_password": "password-ann@example.com", "new_password": "short"], token: token)
            #expect(short.status == 422)
            #expect((short["error"] as? [String: Any])?["message"] as? String == "'new_password' must be at least 8 characters")
            let typed = try await call("PUT", url, json: ["current_password": "password-ann@example.com", "new_password": 12345678], token: token)
            #expect(typed.status == 422)
            let missing = try await call("PUT", url, json: ["new_password": "a-new-password"], token: token)
            #expect(missing.status == 422)
            let changed = try await call(
                "PUT", url, json: ["current_password": "password-ann@example.com", "new_password": "a-new-password", "extra": 1], token: token)
            #expect(changed.status == 204)
            #expect(try await call("GET", "\(daemon.base)/api/v1/me", token: token).status == 200, "this session stays")
            #expect(try await call("GET", "\(daemon.base)/api/v1/me", token: second).status == 401, "the others end")
            #expect(try await login(daemon, "ann@example.com", "password-ann@example.com").status == 401)
            #expect(try await login(daemon, "ann@example.com", "a-new-password").status == 200)

            let renamed = try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["name": "  Ann Lee "], token: token)
            #expect(renamed.status == 200)
            #expect((renamed["user"] as? [String: Any])?["name"] as? String == "Ann Lee")
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["name": 3], token: token).status == 422)
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["name": ""], token: token).status == 422)
        }
    }

    // MARK: API keys

    @Test("API keys over HTTP: created once, listed without the secret, revoked keys get 401")
    func apiKeys() async throws {
        try await withDaemon { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (_, supervisor) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let created = try await call("POST", "\(daemon.base)/api/v1/api-keys", json: ["name": "allocator", "scope": "allocation"], token: admin)
            #expect(created.status == 201, "\(created.text)")
            let secret = try #require(created["key"] as? String)
            #expect(secret.hasPrefix("ock_"))
            let key = try #require(created["api_key"] as? [String: Any])
            let keyID = try #require(key["id"].asID)
            #expect(key["name"] as? String == "allocator")
            #expect(key["scope"] as? String == "allocation")
            #expect(key["created_at"] is String)

            let unserved = "\(daemon.base)/api/v2/admin/service/total_unserved"
            #expect(try await call("GET", unserved, token: secret).status == 200)

            let list = try await call("GET", "\(daemon.base)/api/v1/api-keys", token: admin)
            #expect(list.status == 200)
            #expect((list["api_keys"] as? [[String: Any]])?.map { $0["id"].asID } == [keyID])
            #expect(!list.text.contains(secret))
            #expect(!list.text.contains(String(secret.dropFirst(4))))

            #expect(try await call("POST", "\(daemon.base)/api/v1/api-keys", json: ["name": "x", "scope": "everything"], token: admin).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/api-keys", json: ["scope": "read"], token: admin).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/api-keys", json: ["name": "x", "scope": "read"], token: supervisor).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/api-keys", token: supervisor).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/api-keys", token: secret).status == 403)

            #expect(try await call("DELETE", "\(daemon.base)/api/v1/api-keys/\(keyID)", token: supervisor).status == 403)
            #expect(try await call("DELETE", "\(daemon.base)/api/v1/api-keys/\(keyID)", token: admin).status == 204)
            #expect(try await call("DELETE", "\(daemon.base)/api/v1/api-keys/key_nope", token: admin).status == 404)
            let revoked = try await call("GET", unserved, token: secret)
            #expect(revoked.status == 401)
            let after = try await call("GET", "\(daemon.base)/api/v1/api-keys", token: admin)
            #expect((after["api_keys"] as? [[String: Any]])?.first?["revoked_at"] is String)
        }
    }

    // MARK: Agents

    @Test("agents: created with a password they sign in; roles decide who may create, list and see whom")
    func agents() async throws {
        try await withDaemon { daemon, _ in
            let (admin, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (sue, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (_, annToken) = try await daemon.signIn(email: "ann@example.com", online: true)
            let division = try #require(
                (try await call("POST", "\(daemon.base)/api/v1/divisions", json: ["name": "Sales"], token: sueToken)["division"] as? [String: Any])?["id"].asID)
            let url = "\(daemon.base)/api/v1/agents"

            let made = try await call(
                "POST", url,
                json: [
                    "name": "Cy", "email": "cy@example.com", "role": "agent", "divisions": [division], "channels": ["tg"],
                    "max_open_rooms": 3, "password": "cy-password", "unknown_field": true,
                ], token: sueToken)
            #expect(made.status == 201, "\(made.text)")
            let cy = try #require(made["agent"] as? [String: Any])
            let cyID = try #require(cy["id"].asID)
            #expect(cy["email"] as? String == "cy@example.com")
            #expect(cy["role"] as? String == "agent")
            #expect(cy["divisions"].asIDs == [division])
            #expect(cy["channels"] as? [String] == ["tg"])
            #expect(cy["max_open_rooms"] as? Int == 3)
            #expect(cy["active"] as? Bool == true)
            #expect(cy["invitation_pending"] as? Bool == false)
            #expect(made["invitation"] == nil)
            #expect(try await login(daemon, "cy@example.com", "cy-password").status == 200)

            // Roles.
            let superByAdmin = try await call(
                "POST", url, json: ["name": "Dee", "email": "dee@example.com", "role": "supervisor", "password": "dee-password"], token: adminToken)
            #expect(superByAdmin.status == 201)
            let deeID = try #require((superByAdmin["agent"] as? [String: Any])?["id"].asID)
            let superBySupervisor = try await call(
                "POST", url, json: ["name": "Eve", "email": "eve@example.com", "role": "supervisor", "password": "eve-password"], token: sueToken)
            #expect(superBySupervisor.status == 403)
            #expect(try await call("POST", url, json: ["name": "F", "email": "f@example.com", "role": "admin"], token: adminToken).status == 422)
            #expect(try await call("POST", url, json: ["name": "F", "email": "f@example.com"], token: annToken).status == 403)
            #expect(try await call("GET", url, token: annToken).status == 403)

            // Validation.
            let noEmail = try await call("POST", url, json: ["name": "F"], token: adminToken)
            #expect(noEmail.status == 422)
            #expect(((noEmail["error"] as? [String: Any])?["message"] as? String)?.contains("'email'") == true)
            let badCapacity = try await call("POST", url, json: ["name": "F", "email": "f@example.com", "max_open_rooms": true], token: adminToken)
            #expect(badCapacity.status == 422)
            #expect(((badCapacity["error"] as? [String: Any])?["message"] as? String)?.contains("'max_open_rooms'") == true)
            #expect(try await call("POST", url, json: ["name": "F", "email": "f@example.com", "divisions": ["div_nope"]], token: adminToken).status == 422)
            #expect(try await call("POST", url, json: ["name": "F", "email": "f@example.com", "channels": ["nope"]], token: adminToken).status == 422)
            #expect(try await call("POST", url, json: ["name": "F", "email": "f@example.com", "password": "short"], token: adminToken).status == 422)
            let duplicate = try await call("POST", url, json: ["name": "Cy", "email": "cy@example.com", "password": "cy-password"], token: adminToken)
            #expect(duplicate.status == 409)

            // Listing and filters.
            func ids(_ query: String, _ token: String) async throws -> Set<Int64> {
                let result = try await call("GET", url + query, token: token)
                #expect(result.status == 200, "\(query): \(result.text)")
                return Set((result["agents"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID })
            }
            let all = try await ids("", adminToken)
            #expect(all.contains(admin.id) && all.contains(sue.id) && all.contains(cyID) && all.contains(deeID))
            let seenBySupervisor = try await ids("", sueToken)
            #expect(seenBySupervisor.contains(sue.id) && seenBySupervisor.contains(cyID))
            #expect(!seenBySupervisor.contains(admin.id) && !seenBySupervisor.contains(deeID))
            #expect(try await ids("?role=supervisor", adminToken) == [sue.id, deeID])
            #expect(try await ids("?division=\(division)", adminToken) == [cyID])
            #expect(try await ids("?online=true", adminToken).count == 1)
            #expect(try await ids("?channel=tg&role=agent", adminToken).count == 2)
            #expect(try await call("GET", url + "?role=boss", token: adminToken).status == 422)
            #expect(try await call("GET", url + "?online=maybe", token: adminToken).status == 422)

            #expect(try await call("GET", "\(url)/\(cyID)", token: sueToken).status == 200)
            #expect(try await call("GET", "\(url)/\(sue.id)", token: sueToken).status == 200)
            #expect(try await call("GET", "\(url)/\(admin.id)", token: sueToken).status == 403)
            #expect(try await call("GET", "\(url)/usr_nope", token: adminToken).status == 404)

            // PATCH: name by a supervisor, role by admins only; capacity as before.
            let renamed = try await call("PATCH", "\(url)/\(cyID)", json: ["name": "Cy Twain", "max_open_rooms": 5], token: sueToken)
            #expect(renamed.status == 200)
            #expect((renamed["agent"] as? [String: Any])?["name"] as? String == "Cy Twain")
            #expect((renamed["agent"] as? [String: Any])?["max_open_rooms"] as? Int == 5)
            #expect(try await call("PATCH", "\(url)/\(cyID)", json: ["role": "supervisor"], token: sueToken).status == 403)
            #expect(try await call("PATCH", "\(url)/\(deeID)", json: ["name": "D"], token: sueToken).status == 403)
            #expect(try await call("PATCH", "\(url)/\(cyID)", json: ["role": "boss"], token: adminToken).status == 422)
            let promoted = try await call("PATCH", "\(url)/\(cyID)", json: ["role": "supervisor"], token: adminToken)
            #expect((promoted["agent"] as? [String: Any])?["role"] as? String == "supervisor")
            // The only admin cannot step down.
            #expect(try await call("PATCH", "\(url)/\(admin.id)", json: ["role": "agent"], token: adminToken).status == 409)
        }
    }

    @Test("invitations without SMTP: the link is returned, works once, can be re-sent, expires")
    func invitationWithoutSMTP() async throws {
        try await withDaemon(configure: { $0.publicBaseURL = "https://chat.example.com/" }) { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let made = try await call("POST", "\(daemon.base)/api/v1/agents", json: ["name": "Gus", "email": "gus@example.com"], token: admin)
            #expect(made.status == 201, "\(made.text)")
            let agent = try #require(made["agent"] as? [String: Any])
            let gusID = try #require(agent["id"].asID)
            #expect(agent["invitation_pending"] as? Bool == true)
            let invitation = try #require(made["invitation"] as? [String: Any])
            let link = try #require(invitation["url"] as? String)
            #expect(link.hasPrefix("https://chat.example.com/invitations/oci_"))
            let expires = try #require((invitation["expires_at"] as? String).flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) })
            #expect(abs(expires.timeIntervalSinceNow - 72 * 3600) < 120)
            let token = String(link.split(separator: "/").last!)
            // Not stored in clear.
            #expect(try await daemon.store.invitation(tokenHash: token) == nil)
            #expect(try await daemon.store.invitation(tokenHash: Authenticator.tokenHash(token))?.userID == gusID)
            // No password yet: nothing signs in.
            #expect(try await login(daemon, "gus@example.com", "").status == 401)

            let accept = "\(daemon.base)/api/v1/invitations/\(token)/accept"
            #expect(try await call("POST", accept, json: ["password": "short"]).status == 422)
            // 40 characters but 80 bytes: bcrypt would silently use only the first 72.
            let long = try await call("POST", accept, json: ["password": String(repeating: "é", count: 40)])
            #expect(long.status == 422 && long.text.contains("72 bytes"), "\(long.text)")
            let accepted = try await call("POST", accept, json: ["password": "gus-password"])
            #expect(accepted.status == 200, "\(accepted.text)")
            #expect(accepted["token"] is String)
            #expect((accepted["user"] as? [String: Any])?["id"].asID == gusID)
            #expect(try await login(daemon, "gus@example.com", "gus-password").status == 200)
            let reused = try await call("POST", accept, json: ["password": "another-password"])
            #expect(reused.status == 410)
            #expect(errorCode(reused) == "used")
            #expect(try await call("POST", "\(daemon.base)/api/v1/invitations/oci_nope/accept", json: ["password": "whatever1"]).status == 404)
            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/\(gusID)/invitation", token: admin).status == 409)

            // Re-sent: the old link stops working; expired links are 410.
            let second = try await call("POST", "\(daemon.base)/api/v1/agents", json: ["name": "Hal", "email": "hal@example.com"], token: admin)
            let halID = try #require((second["agent"] as? [String: Any])?["id"].asID)
            let first = try #require((second["invitation"] as? [String: Any])?["url"] as? String).split(separator: "/").last!
            let resent = try await call("POST", "\(daemon.base)/api/v1/agents/\(halID)/invitation", token: admin)
            #expect(resent.status == 200, "\(resent.text)")
            let newer = try #require((resent["invitation"] as? [String: Any])?["url"] as? String).split(separator: "/").last!
            #expect(newer != first)
            #expect(try await call("POST", "\(daemon.base)/api/v1/invitations/\(first)/accept", json: ["password": "hal-password"]).status == 404)
            try await daemon.store.setInvitationExpiry(userID: halID, expiresAt: Date().addingTimeInterval(-1))
            let expired = try await call("POST", "\(daemon.base)/api/v1/invitations/\(newer)/accept", json: ["password": "hal-password"])
            #expect(expired.status == 410)
            #expect(errorCode(expired) == "expired")
        }
    }

    @Test("invitations never lift anyone above their inviter: links only to admins, revoked on a role change, refused above the inviter's role")
    func invitationEscalation() async throws {
        try await withDaemon { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (sue, supervisor) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            // The attack: a supervisor creates an agent (no SMTP) and keeps the link; an admin
            // later promotes the still-pending user; the supervisor accepts and holds an admin session.
            let made = try await call("POST", "\(daemon.base)/api/v1/agents", json: ["name": "Ivy", "email": "ivy@example.com"], token: supervisor)
            #expect(made.status == 201, "\(made.text)")
            let ivyID = try #require((made["agent"] as? [String: Any])?["id"].asID)
            let shown = try #require(made["invitation"] as? [String: Any])
            #expect(shown["url"] == nil, "the link goes to admins only")
            #expect(shown["url_withheld"] as? Bool == true)
            #expect((shown["hint"] as? String ?? "").contains("admin"))
            let resentBySupervisor = try await call("POST", "\(daemon.base)/api/v1/agents/\(ivyID)/invitation", token: supervisor)
            #expect(resentBySupervisor.status == 200 && (resentBySupervisor["invitation"] as? [String: Any])?["url"] == nil)

            // An admin's link, then a promotion: the link dies with the old role.
            let resent = try await call("POST", "\(daemon.base)/api/v1/agents/\(ivyID)/invitation", token: admin)
            let token = try #require((resent["invitation"] as? [String: Any])?["url"] as? String).split(separator: "/").last!
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/agents/\(ivyID)", json: ["role": "admin"], token: admin).status == 200)
            let late = try await call("POST", "\(daemon.base)/api/v1/invitations/\(token)/accept", json: ["password": "ivy-password"])
            #expect(late.status == 404, "a link from before the role change no longer opens anything: \(late.text)")
            #expect(try await login(daemon, "ivy@example.com", "ivy-password").status == 401)

            // A supervisor's invitation for someone who is an admin now is refused, whoever holds it.
            let forged = "oci_supervisor_made_this"
            try await daemon.store.replaceInvitation(
                userID: ivyID, invitation: NewInvitation(tokenHash: Authenticator.tokenHash(forged), expiresAt: Date().addingTimeInterval(3600), createdBy: sue.id))
            let refused = try await call("POST", "\(daemon.base)/api/v1/invitations/\(forged)/accept", json: ["password": "ivy-password"])
            #expect(refused.status == 410, "\(refused.text)")
            #expect(refused["token"] == nil)
            #expect(try await login(daemon, "ivy@example.com", "ivy-password").status == 401)
        }
    }

    @Test("invitations with SMTP: mailed through libcurl with the link; a failing server leaves the link in the response")
    func invitationWithSMTP() async throws {
        let sink = try SMTPSink()
        defer { sink.stop() }
        try await withDaemon(configure: {
            $0.publicBaseURL = "https://chat.example.com"
            $0.invitationHours = 24
            $0.smtp = SMTPSettings(url: "smtp://127.0.0.1:\(sink.port)", from: "Omnichat <noreply@example.com>", starttls: false, timeoutSeconds: 10)
        }) { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let made = try await call("POST", "\(daemon.base)/api/v1/agents", json: ["name": "Ida", "email": "ida@example.com"], token: admin)
            #expect(made.status == 201, "\(made.text)")
            let invitation = try #require(made["invitation"] as? [String: Any])
            #expect(invitation["sent"] as? Bool == true)
            #expect(invitation["url"] == nil, "mailed, not shown")
            #expect(invitation["expires_at"] is String)
            let mail = try #require(sink.mails.first)
            #expect(mail.from == "<noreply@example.com>")
            #expect(mail.recipients == ["<ida@example.com>"])
            #expect(mail.data.contains("To: ida@example.com"))
            #expect(mail.data.contains("Subject: You are invited to Omnichat"))
            let link = try #require(mail.data.split(separator: "\r\n").first { $0.hasPrefix("https://chat.example.com/invitations/oci_") })
            let token = link.split(separator: "/").last!
            let accepted = try await call("POST", "\(daemon.base)/api/v1/invitations/\(token)/accept", json: ["password": "ida-password"])
            #expect(accepted.status == 200)
            #expect(try await login(daemon, "ida@example.com", "ida-password").status == 200)
        }
        // A mail server that is not there: the account exists, the link is returned.
        try await withDaemon(configure: {
            $0.smtp = SMTPSettings(url: "smtp://127.0.0.1:\(closedPort())", from: "noreply@example.com", starttls: false, timeoutSeconds: 5)
        }) { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let made = try await call("POST", "\(daemon.base)/api/v1/agents", json: ["name": "Jo", "email": "jo@example.com"], token: admin)
            #expect(made.status == 201)
            let invitation = try #require(made["invitation"] as? [String: Any])
            #expect(invitation["sent"] as? Bool == false)
            #expect(invitation["url"] is String)
            #expect(invitation["error"] is String)
        }
    }

    @Test("deactivation: rooms go back to the queue and to another agent, sessions end, sign-in refused; reactivation")
    func deactivation() async throws {
        try await withDaemon { daemon, _ in
            let (admin, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (sue, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 4242))
            var roomID: Int64 = 0
            try await eventually("the room assigned to Ann") {
                guard let room = try await daemon.store.rooms(RoomFilter()).items.first else { return false }
                roomID = room.id
                return room.assignee?.id == ann.id
            }
            let (bo, _) = try await daemon.signIn(email: "bo@example.com")
            #expect(try await daemon.store.room(id: roomID)?.assignee?.id == ann.id)

            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/\(sue.id)/deactivate", token: sueToken).status == 409, "not yourself")
            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/\(admin.id)/deactivate", token: sueToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/\(ann.id)/deactivate", token: annToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/usr_nope/deactivate", token: sueToken).status == 404)

            let deactivated = try await call("POST", "\(daemon.base)/api/v1/agents/\(ann.id)/deactivate", token: sueToken)
            #expect(deactivated.status == 200, "\(deactivated.text)")
            let agent = try #require(deactivated["agent"] as? [String: Any])
            #expect(agent["active"] as? Bool == false)
            #expect(agent["online"] as? Bool == false)
            try await eventually("the room reassigned to Bo") { try await daemon.store.room(id: roomID)?.assignee?.id == bo.id }
            let transitions = try await daemon.store.transitions(roomID: roomID)
            #expect(transitions.contains { $0.to == .waiting && $0.actor == String(sue.id) })

            let stale = try await call("GET", "\(daemon.base)/api/v1/me", token: annToken)
            #expect(stale.status == 401)
            let refused = try await login(daemon, "ann@example.com", "password-ann@example.com")
            #expect(refused.status == 401)
            #expect(errorCode(refused) == "deactivated")
            let listed = try await call("GET", "\(daemon.base)/api/v1/agents?active=false", token: adminToken)
            #expect((listed["agents"] as? [[String: Any]])?.map { $0["id"].asID } == [ann.id])
            // No rooms for a deactivated agent, even forced.
            let forced = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/assign", json: ["agent_id": ann.id, "force": true], token: adminToken)
            #expect(forced.status == 409)

            let reactivated = try await call("POST", "\(daemon.base)/api/v1/agents/\(ann.id)/reactivate", token: sueToken)
            #expect(reactivated.status == 200)
            #expect((reactivated["agent"] as? [String: Any])?["active"] as? Bool == true)
            #expect(try await login(daemon, "ann@example.com", "password-ann@example.com").status == 200)
            // The last active admin stays.
            #expect(try await call("POST", "\(daemon.base)/api/v1/agents/\(admin.id)/deactivate", token: adminToken).status == 409)
        }
    }

    // MARK: Divisions and channels

    @Test("divisions: rename (409 on a duplicate), delete refused while something depends on it, default")
    func divisions() async throws {
        let billing = TestDaemon.telegramChannel(apiBase: "NETWORK", secret: "other-secret") + "\ndivision = \"Billing\"\n"
        try await withDaemon(channels: ["billing": billing]) { daemon, _ in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (_, sue) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", online: false)
            func create(_ name: String) async throws -> Int64 {
                let made = try await call("POST", "\(daemon.base)/api/v1/divisions", json: ["name": name], token: sue)
                return try #require((made["division"] as? [String: Any])?["id"].asID)
            }
            let sales = try await create("Sales")
            let billingID = try await create("Billing")
            let url = "\(daemon.base)/api/v1/divisions"

            let renamed = try await call("PATCH", "\(url)/\(sales)", json: ["name": "Support"], token: sue)
            #expect(renamed.status == 200)
            #expect((renamed["division"] as? [String: Any])?["name"] as? String == "Support")
            #expect(try await call("PATCH", "\(url)/\(sales)", json: ["name": "general"], token: sue).status == 409)
            #expect(try await call("PATCH", "\(url)/\(sales)", json: ["name": 7], token: sue).status == 422)
            #expect(try await call("PATCH", "\(url)/div_nope", json: ["name": "X"], token: sue).status == 404)
            #expect(try await call("PATCH", "\(url)/\(sales)", json: ["name": "X"], token: annToken).status == 403)
            let warned = try await call("PATCH", "\(url)/\(billingID)", json: ["name": "Invoices"], token: sue)
            #expect((warned["warnings"] as? [String])?.count == 1)
            _ = try await call("PATCH", "\(url)/\(billingID)", json: ["name": "Billing"], token: sue)

            // Delete: the default, members, open rooms, channel drop-ins.
            #expect(try await call("DELETE", "\(url)/div_default", token: sue).status == 409)
            #expect(try await call("DELETE", "\(url)/\(billingID)", token: sue).status == 409, "a drop-in names it")
            _ = try await call("PATCH", "\(daemon.base)/api/v1/agents/\(ann.id)", json: ["divisions": [sales]], token: sue)
            let busy = try await call("DELETE", "\(url)/\(sales)", token: sue)
            #expect(busy.status == 409)
            #expect(errorCode(busy) == "conflict")
            _ = try await call("PATCH", "\(daemon.base)/api/v1/agents/\(ann.id)", json: ["divisions": [String]()], token: sue)
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 77))
            var roomID: Int64 = 0
            try await eventually("the room") {
                roomID = try await daemon.store.rooms(RoomFilter()).items.first?.id ?? 0
                return !roomID.isEmpty
            }
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/transfer", json: ["division_id": sales], token: sue)
            #expect(try await daemon.store.room(id: roomID)?.divisionID == sales)
            #expect(try await call("DELETE", "\(url)/\(sales)", token: sue).status == 409, "a waiting room is in it")
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", token: admin).status == 200)
            #expect(try await call("DELETE", "\(url)/\(sales)", token: annToken).status == 403)
            #expect(try await call("DELETE", "\(url)/\(sales)", token: sue).status == 204)
            #expect(try await daemon.store.room(id: roomID)?.divisionID == nil)
            #expect(try await call("DELETE", "\(url)/\(sales)", token: sue).status == 404)

            // Default: admins only.
            #expect(try await call("POST", "\(url)/\(billingID)/default", token: sue).status == 403)
            let made = try await call("POST", "\(url)/\(billingID)/default", token: admin)
            #expect(made.status == 200)
            #expect((made["division"] as? [String: Any])?["is_default"] as? Bool == true)
            let list = try await call("GET", url, token: sue)
            #expect((list["divisions"] as? [[String: Any]])?.filter { $0["is_default"] as? Bool == true }.map { $0["id"].asID } == [billingID])
            #expect(try await call("POST", "\(url)/div_nope/default", token: admin).status == 404)
        }
    }

    @Test("channels: status from the store, who serves each; PUT agents adds and removes")
    func channels() async throws {
        try await withDaemon { daemon, network in
            let (_, admin) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (_, sue) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com", channels: ["tg"])
            let (bo, _) = try await daemon.signIn(email: "bo@example.com", channels: [], online: false)
            let (cy, _) = try await daemon.signIn(email: "cy@example.com", online: false)
            func channel(_ token: String) async throws -> [String: Any] {
                let list = try await call("GET", "\(daemon.base)/api/v1/channels", token: token)
                #expect(list.status == 200, "\(list.text)")
                return try #require((list["channels"] as? [[String: Any]])?.first { $0["id"] as? String == "tg" })
            }
            var tg = try await channel(sue)
            #expect(tg["kind"] as? String == "telegram")
            #expect(tg["enabled"] as? Bool == true)
            #expect(tg["bot"] as? Bool == false)
            #expect(tg["division"] is NSNull)
            var status = try #require(tg["status"] as? [String: Any])
            #expect(status["last_webhook_at"] is NSNull)
            #expect(status["last_delivery_error"] is NSNull)
            var agents = Set((tg["agents"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID })
            #expect(agents.contains(ann.id) && agents.contains(cy.id) && !agents.contains(bo.id))

            // A webhook, then a reply the network refuses.
            _ = try await daemon.postUpdate(telegramUpdate(1, chat: 99))
            var roomID: Int64 = 0
            try await eventually("Ann's room") {
                roomID = try await daemon.store.rooms(RoomFilter(assigneeID: ann.id)).items.first?.id ?? 0
                return !roomID.isEmpty
            }
            network.respond([(400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#)])
            _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/messages", json: ["text": "hi"], token: annToken)
            try await eventually("the delivery failure") {
                let page = try await daemon.store.messages(roomID: roomID, cursor: nil, limit: 10)
                return page.items.contains { $0.deliveryStatus == .failed }
            }
            tg = try await channel(annToken)
            status = try #require(tg["status"] as? [String: Any])
            #expect(status["last_webhook_at"] is String)
            #expect((status["last_delivery_error"] as? String)?.contains("chat not found") == true)
            #expect(status["last_delivery_error_at"] is String)

            // PUT agents: Bo gets it; Ann (explicit, not listed) loses it; Cy (every channel) keeps serving.
            let url = "\(daemon.base)/api/v1/channels/tg/agents"
            #expect(try await call("PUT", url, json: ["agent_ids": [bo.id]], token: annToken).status == 403)
            #expect(try await call("PUT", "\(daemon.base)/api/v1/channels/nope/agents", json: ["agent_ids": [bo.id]], token: sue).status == 404)
            #expect(try await call("PUT", url, json: ["agent_ids": "all"], token: sue).status == 422)
            #expect(try await call("PUT", url, json: ["agent_ids": ["usr_nope"]], token: admin).status == 422)
            let put = try await call("PUT", url, json: ["agent_ids": [bo.id]], token: sue)
            #expect(put.status == 200, "\(put.text)")
            agents = Set(((put["channel"] as? [String: Any])?["agents"] as? [[String: Any]] ?? []).compactMap { $0["id"].asID })
            #expect(agents.contains(bo.id) && agents.contains(cy.id) && !agents.contains(ann.id))
            #expect(try await daemon.store.user(id: bo.id)?.channels == ["tg"])
            #expect(try await daemon.store.user(id: ann.id)?.channels == [])
            #expect(try await daemon.store.user(id: cy.id)?.channels == nil)
        }
    }

    // MARK: Configuration and mail

    @Test("omnichat.toml: [smtp] and invitation_hours are read and checked")
    func smtpConfiguration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("omnichat.toml")
        try """
            [auth]
            invitation_hours = 12
            [smtp]
            url = "smtps://mail.example.com:465"
            from = "Omnichat <noreply@example.com>"
            username = "omnichat"
            password = "${SMTP_PASSWORD}"
            starttls = false
            timeout_seconds = 5
            """.write(to: file, atomically: true, encoding: .utf8)
        let config = try DaemonConfiguration.load(file: file.path, environment: ["SMTP_PASSWORD": "s3cret"])
        #expect(config.invitationHours == 12)
        #expect(
            config.smtp
                == SMTPSettings(
                    url: "smtps://mail.example.com:465", from: "Omnichat <noreply@example.com>", username: "omnichat", password: "s3cret",
                    starttls: false, timeoutSeconds: 5))
        #expect(DaemonConfiguration().smtp == nil)
        #expect(DaemonConfiguration().invitationHours == 72)

        func refused(_ text: String, key: String) throws {
            try text.write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: ConfigurationError.self) { try DaemonConfiguration.load(file: file.path, environment: [:]) }
            do {
                _ = try DaemonConfiguration.load(file: file.path, environment: [:])
            } catch let error as ConfigurationError {
                #expect(error.key == key)
            }
        }
        try refused("[smtp]\nfrom = \"a@example.com\"\n", key: "smtp.url")
        try refused("[smtp]\nurl = \"http://mail.example.com\"\nfrom = \"a@example.com\"\n", key: "smtp.url")
        try refused("[smtp]\nurl = \"smtp://mail.example.com\"\nfrom = \"nobody\"\n", key: "smtp.from")
        try refused("[smtp]\nurl = \"smtp://mail.example.com\"\nfrom = \"a@example.com\"\nport = 25\n", key: "smtp.port")
        try refused("[auth]\ninvitation_hours = 0\n", key: "auth.invitation_hours")
    }

    @Test("mail: CRLF lines, headers that cannot be split, non-ASCII bodies in base64")
    func mailFormat() throws {
        let ascii = Mailer.compose(
            MailMessage(to: "ann@example.com", subject: "Hi\r\nBcc: evil@example.com", body: "line one\nline two"),
            from: "Omnichat <noreply@example.com>", now: Date(timeIntervalSince1970: 0))
        #expect(ascii.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(ascii.contains("Subject: Hi  Bcc: evil@example.com\r\n"), "no header injection")
        #expect(ascii.contains("Content-Transfer-Encoding: 7bit\r\n\r\nline one\r\nline two\r\n"))
        #expect(!ascii.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let accented = Mailer.compose(MailMessage(to: "ann@example.com", subject: "Bienvenue, Zoë", body: "Zoë"), from: "noreply@example.com", now: Date())
        #expect(accented.contains("Subject: =?UTF-8?B?\(Data("Bienvenue, Zoë".utf8).base64EncodedString())?="))
        #expect(accented.contains("Content-Transfer-Encoding: base64\r\n\r\n\(Data("Zoë".utf8).base64EncodedString())\r\n"))
        #expect(throws: MailError.self) { try Mailer.address("a@example.com>\r\nRCPT TO:<b@example.com") }
        #expect(try Mailer.address("Omnichat <noreply@example.com>") == "noreply@example.com")
    }

    // MARK: Audit log

    @Test("the audit log records admin and supervisor actions, newest first, paged, without secrets")
    func auditLog() async throws {
        try await withDaemon { daemon, _ in
            let (admin, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let (sue, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let key = try await call("POST", "\(daemon.base)/api/v1/api-keys", json: ["name": "bot", "scope": "bot"], token: adminToken)
            let secret = try #require(key["key"] as? String)
            let keyID = try #require((key["api_key"] as? [String: Any])?["id"].asID)
            _ = try await call("DELETE", "\(daemon.base)/api/v1/api-keys/\(keyID)", token: adminToken)
            _ = try await call(
                "PATCH", "\(daemon.base)/api/v1/settings",
                json: ["custom_allocation": ["enabled": false, "secret": "very-secret-value"], "offline_returns_rooms": true], token: adminToken)
            let division = try await call("POST", "\(daemon.base)/api/v1/divisions", json: ["name": "Sales"], token: sueToken)
            let divisionID = try #require((division["division"] as? [String: Any])?["id"].asID)
            let made = try await call(
                "POST", "\(daemon.base)/api/v1/agents", json: ["name": "Cy", "email": "cy@example.com", "password": "cy-password-1"], token: sueToken)
            let cyID = try #require((made["agent"] as? [String: Any])?["id"].asID)
            _ = try await call("PATCH", "\(daemon.base)/api/v1/agents/\(cyID)", json: ["max_open_rooms": 4], token: sueToken)

            let log = try await call("GET", "\(daemon.base)/api/v1/audit", token: adminToken)
            #expect(log.status == 200, "\(log.text)")
            let entries = try #require(log["entries"] as? [[String: Any]])
            // The two sign-ins of the set-up (admin, Sue) come first in time: sign-ins are audited too.
            #expect(entries.map { $0["action"] as? String } == [
                "agent.update", "agent.create", "division.create", "settings.update", "api_key.revoke", "api_key.create",
                "auth.sign_in", "auth.sign_in",
            ])
            #expect(log["next_cursor"] is NSNull)
            let create = entries[1]
            #expect(create["actor"] as? String == String(sue.id))
            #expect(create["actor_role"] as? String == "supervisor")
            #expect(create["target_type"] as? String == "user")
            #expect(create["target_id"] as? String == String(cyID))
            #expect((create["details"] as? [String: Any])?["email"] as? String == "cy@example.com")
            #expect(create["at"] is String)
            #expect(entries[2]["target_id"] as? String == String(divisionID))
            #expect(entries[3]["actor"] as? String == String(admin.id))
            #expect(entries[5]["target_id"] as? String == String(keyID))
            #expect(!log.text.contains("very-secret-value"))
            #expect(!log.text.contains(secret))
            #expect(!log.text.contains("cy-password-1"))

            let first = try await call("GET", "\(daemon.base)/api/v1/audit?limit=4", token: adminToken)
            #expect((first["entries"] as? [Any])?.count == 4)
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try await call("GET", "\(daemon.base)/api/v1/audit?limit=4&cursor=\(cursor)", token: adminToken)
            #expect(
                (second["entries"] as? [[String: Any]])?.map { $0["action"] as? String } == ["api_key.revoke", "api_key.create", "auth.sign_in", "auth.sign_in"])
            #expect(second["next_cursor"] is NSNull)
            #expect(try await call("GET", "\(daemon.base)/api/v1/audit?cursor=garbage", token: adminToken).status == 422)
            #expect(try await call("GET", "\(daemon.base)/api/v1/audit", token: sueToken).status == 403)
        }
    }
}

/// A port nothing listens on (bound, then closed).
func closedPort() -> Int {
    let sink = try! SMTPSink()
    let port = sink.port
    sink.stop()
    return port
}

/// A loopback SMTP server that accepts everything and keeps what it got:
/// enough SMTP for libcurl (greeting, EHLO, MAIL, RCPT, DATA, QUIT).
final class SMTPSink: @unchecked Sendable {
    struct Mail: Sendable {
        var from: String
        var recipients: [String]
        var data: String
    }

    private let lock = NSLock()
    private var received: [Mail] = []
    private let listener: Int32
    let port: Int

    var mails: [Mail] { lock.withLock { received } }

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let thread = Thread { [self] in serve(client) }
            thread.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        func say(_ line: String) {
            let bytes = Array((line + "\r\n").utf8)
            _ = bytes.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        func readLine() -> String? {
            while true {
                if let end = buffer.indices.dropLast().first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 }) {
                    let line = String(decoding: buffer[..<end], as: UTF8.self)
                    buffer.removeSubrange(...(end + 1))
                    return line
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let count = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return nil }
                buffer.append(contentsOf: chunk[..<count])
            }
        }
        say("220 sink.test ESMTP")
        var from = ""
        var recipients: [String] = []
        while let line = readLine() {
            let upper = line.uppercased()
            if upper.hasPrefix("EHLO") || upper.hasPrefix("HELO") {
                say("250 sink.test")
            } else if upper.hasPrefix("MAIL FROM:") {
                from = String(line.dropFirst("MAIL FROM:".count)).trimmingCharacters(in: .whitespaces)
                say("250 OK")
            } else if upper.hasPrefix("RCPT TO:") {
                recipients.append(String(line.dropFirst("RCPT TO:".count)).trimmingCharacters(in: .whitespaces))
                say("250 OK")
            } else if upper == "DATA" {
                say("354 end with <CRLF>.<CRLF>")
                var lines: [String] = []
                while let data = readLine(), data != "." { lines.append(data.hasPrefix(".") ? String(data.dropFirst()) : data) }
                let mail = Mail(from: from, recipients: recipients, data: lines.joined(separator: "\r\n"))
                lock.withLock { received.append(mail) }
                say("250 OK queued")
            } else if upper == "QUIT" {
                say("221 bye")
                return
            } else if upper == "RSET" || upper == "NOOP" {
                say("250 OK")
            } else {
                say("502 not implemented")
            }
        }
    }
}
