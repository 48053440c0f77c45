import Foundation
import Testing

@testable import OmnichatAdapters
@testable import OmnichatCore
@testable import OmnichatDelivery
@testable import OmnichatServer

/// URLs that API callers and customers name (attachments, customers'
/// pictures, webhook URLs set through the API) never reach this host's
/// private networks unless `[outbound] allow_private_networks` says so; URLs
/// the operator wrote in `adapters.d/` are trusted as written.
@Suite("Outbound addresses", .bothEngines)
struct OutboundAddressTests {
    @Test("private, loopback, link-local, metadata and reserved addresses are told from public ones")
    func classification() {
        for address in [
            "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.0.170",
            "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe", "2001:db8::1",
        ] {
            #expect(!PublicAddress.isPublic(ip: address), "\(address) is not public")
        }
        for address in ["8.8.8.8", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            #expect(PublicAddress.isPublic(ip: address), "\(address) is public")
        }
        #expect(!PublicAddress.isPublic(ip: "not an address"))
    }

    @Test("the transport refuses a marked request to loopback after name resolution, also on a kept-alive connection; unmarked or allowed ones pass")
    func transport() async throws {
        let fake = FakeNetwork()
        try await fake.start()
        defer { Task { await fake.stop() } }
        let guarded = CurlTransport(allowPrivateNetworks: false)
        let open = CurlTransport(allowPrivateNetworks: true)
        // An unmarked request (an operator's api_base) opens a kept-alive connection to the fake.
        let trusted = try await guarded.send(HTTPRequestDescription(method: "GET", url: "\(fake.baseURL)/trusted"), timeout: .seconds(5))
        #expect(trusted.status == 200)
        for url in ["\(fake.baseURL)/literal", "http://localhost:\(fake.port)/by-name", "http://[::ffff:127.0.0.1]:\(fake.port)/mapped"] {
            var request = HTTPRequestDescription(method: "GET", url: url)
            request.publicAddressesOnly = true
            do {
                _ = try await guarded.send(request, timeout: .seconds(5))
                Issue.record("\(url) was fetched")
            } catch let error as TransportError {
                #expect(error.kind == .privateAddress, "\(url): \(error)")
                #expect(error.message.contains("allow_private_networks"))
            }
        }
        #expect(fake.calls.map(\.path) == ["/trusted"], "no marked request reached the fake: \(fake.calls.map(\.path))")
        var allowed = HTTPRequestDescription(method: "GET", url: "\(fake.baseURL)/allowed")
        allowed.publicAddressesOnly = true
        #expect(try await open.send(allowed, timeout: .seconds(5)).status == 200)
        #expect(fake.calls.map(\.path) == ["/trusted", "/allowed"])
        await guarded.shutdown()
        await open.shutdown()
    }

    static func customChannel(hook: String, extra: String = "") -> String {
        "kind = \"custom\"\nsecret = \"custom-secret\"\nwebhook_url = \"\(hook)\"\n\(extra)"
    }

    static func send(_ daemon: TestDaemon, channel: String = "acme", event: String, message: [String: Any], user: [String: Any] = ["id": "u1"]) async throws {
        let body = jsonData(["event_id": event, "user": user, "message": message])
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let answer = try await call(
            "POST", "\(daemon.base)/webhooks/\(channel)", body: body,
            headers: [
                ("Content-Type", "application/json"), ("X-Omnichat-Timestamp", timestamp),
                ("X-Omnichat-Signature", "sha256=" + hmacHex("custom-secret", Data("\(timestamp).".utf8) + body)),
            ])
        #expect(answer.status == 200, "\(answer.text)")
    }

    /// The id of the newest message of the only room.
    static func lastMessageID(_ daemon: TestDaemon, token: String) async throws -> (room: Any, message: Any) {
        var room: Any = 0
        try await eventually("the room") {
            let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms", token: token)
            guard let first = (rooms["rooms"] as? [[String: Any]])?.first, let id = first["id"] else { return false }
            room = id
            return true
        }
        let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: token)
        let message = try #require((history["messages"] as? [[String: Any]])?.last?["id"])
        return (room, message)
    }

    @Test("a customer's attachment and picture at a loopback address are not fetched: 403 naming why, the address never called")
    func attachmentToLoopback() async throws {
        let intranet = FakeNetwork()
        try await intranet.start()
        defer { Task { await intranet.stop() } }
        intranet.defaultAnswer = { _, _ in .init(status: 200, body: "internal secret", contentType: "text/plain") }
        let daemon = try TestDaemon(channels: ["acme": Self.customChannel(hook: "\(intranet.baseURL)/hook")]) {
            $0.allowPrivateNetworks = false
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        try await Self.send(
            daemon, event: "e1", message: ["type": "file", "url": "\(intranet.baseURL)/admin/secrets.txt"],
            user: ["id": "u1", "avatar_url": "http://localhost:\(intranet.port)/avatar.png"])
        let (room, message) = try await Self.lastMessageID(daemon, token: token)
        let media = try await call("GET", "\(daemon.base)/api/v1/messages/\(message)/media", token: token)
        #expect(media.status == 403, "\(media.status) \(media.text)")
        #expect((media["error"] as? [String: Any])?["code"] as? String == "address_refused", "\(media.text)")
        #expect(media.text.contains("private"), "\(media.text)")
        #expect(!media.text.contains("internal secret"))
        let picture = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/customer_avatar?proxy=true", token: token)
        #expect(picture.status == 403, "\(picture.status) \(picture.text)")
        #expect(intranet.calls.filter { $0.path != "/hook" }.isEmpty, "nothing was fetched: \(intranet.calls.map(\.path))")
        await daemon.stop()
    }

    @Test("attachment_hosts narrows a custom channel's attachments to the hosts it names")
    func attachmentHosts() async throws {
        let cdn = FakeNetwork()
        try await cdn.start()
        defer { Task { await cdn.stop() } }
        cdn.defaultAnswer = { _, _ in .init(status: 200, body: "picture bytes", contentType: "image/png") }
        let daemon = try TestDaemon(channels: [
            "acme": Self.customChannel(hook: "\(cdn.baseURL)/hook", extra: "attachment_hosts = [\"127.0.0.1\"]\n"),
            "other": Self.customChannel(hook: "\(cdn.baseURL)/hook", extra: "attachment_hosts = [\".example.com\"]\n"),
        ])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        try await Self.send(daemon, event: "e1", message: ["type": "image", "url": "\(cdn.baseURL)/p/1.png"])
        let (_, allowed) = try await Self.lastMessageID(daemon, token: token)
        let fetched = try await call("GET", "\(daemon.base)/api/v1/messages/\(allowed)/media", token: token)
        #expect(fetched.status == 200, "\(fetched.text)")
        #expect(fetched.text == "picture bytes")
        try await Self.send(daemon, channel: "other", event: "e2", message: ["type": "image", "url": "\(cdn.baseURL)/p/2.png"], user: ["id": "u2"])
        var refusedID: Any?
        try await eventually("the second room") {
            let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?channel=other", token: token)
            guard let room = (rooms["rooms"] as? [[String: Any]])?.first?["id"] else { return false }
            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: token)
            refusedID = (history["messages"] as? [[String: Any]])?.last?["id"]
            return refusedID != nil
        }
        let refused = try await call("GET", "\(daemon.base)/api/v1/messages/\(try #require(refusedID))/media", token: token)
        #expect(refused.status == 403, "\(refused.text)")
        #expect(refused.text.contains("attachment_hosts"), "\(refused.text)")
        #expect(cdn.calls.map(\.path) == ["/p/1.png"], "\(cdn.calls.map(\.path))")
        #expect(CustomConfiguration(secret: "s", webhookURL: "https://x", attachmentHosts: [".example.com"]).allowsAttachment(at: "https://cdn.example.com/a"))
        #expect(!CustomConfiguration(secret: "s", webhookURL: "https://x", attachmentHosts: [".example.com"]).allowsAttachment(at: "https://example.com.evil.net/a"))
        await daemon.stop()
    }

    @Test("webhook URLs set through the API that resolve to private addresses are refused with 422; the operator's adapters.d URLs are trusted")
    func settingsWebhooks() async throws {
        let receiver = FakeNetwork()
        try await receiver.start()
        defer { Task { await receiver.stop() } }
        // The custom channel's webhook_url (adapters.d) is on loopback: trusted as written.
        let daemon = try TestDaemon(channels: ["acme": Self.customChannel(hook: "\(receiver.baseURL)/hook")]) {
            $0.allowPrivateNetworks = false
        }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, token) = try await daemon.signIn(email: "admin@example.com", role: .admin)
        for (body, field) in [
            (["custom_allocation": ["enabled": true, "webhook_url": "\(receiver.baseURL)/allocate"]] as [String: Any], "custom_allocation.webhook_url"),
            (["mark_as_resolved_webhook_url": "http://169.254.169.254/latest/meta-data/"], "mark_as_resolved_webhook_url"),
            (["new_session_webhook_url": "http://localhost:\(receiver.port)/new"], "new_session_webhook_url"),
            (["default_bot": ["enabled": true, "webhook_url": "http://[::1]:\(receiver.port)/bot", "secret": "s"]], "default_bot.webhook_url"),
        ] {
            let answer = try await call("PATCH", "\(daemon.base)/api/v1/settings", json: body, token: token)
            #expect(answer.status == 422, "\(field): \(answer.status) \(answer.text)")
            #expect(answer.text.contains(field) && answer.text.contains("allow_private_networks"), "\(answer.text)")
        }
        let settings = try await call("GET", "\(daemon.base)/api/v1/settings", token: token)
        #expect(settings["mark_as_resolved_webhook_url"] is NSNull, "nothing refused was stored: \(settings.text)")
        // A public address is accepted (nothing is called when it is set).
        let publicURL = try await call(
            "PATCH", "\(daemon.base)/api/v1/settings", json: ["mark_as_resolved_webhook_url": "http://93.184.216.34/resolved"], token: token)
        #expect(publicURL.status == 200, "\(publicURL.text)")
        // The hosted product's route for the same setting refuses it too.
        let qiscus = try await call(
            "POST", "\(daemon.base)/api/v1/app/webhook/mark_as_resolved",
            json: ["webhook_url": "http://127.0.0.1:\(receiver.port)/r", "is_webhook_enabled": true], token: token)
        #expect(qiscus.status == 422, "\(qiscus.status) \(qiscus.text)")
        #expect(qiscus.text.contains("allow_private_networks"), "\(qiscus.text)")
        // A reply on the custom channel still reaches the operator's loopback webhook_url.
        try await Self.send(daemon, event: "e1", message: ["type": "text", "text": "hello"])
        let (room, _) = try await Self.lastMessageID(daemon, token: token)
        _ = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/assign", json: [:], token: token)
        let reply = try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/messages", json: ["type": "text", "text": "hi there"], token: token)
        #expect(reply.status == 201 || reply.status == 200, "\(reply.text)")
        try await eventually("the reply at the operator's webhook") { receiver.calls.contains { $0.path == "/hook" } }
        #expect(!receiver.calls.contains { $0.path != "/hook" }, "\(receiver.calls.map(\.path))")
        await daemon.stop()
    }

    @Test("allow_private_networks is read from [outbound] and from OMNICHAT_ALLOW_PRIVATE_NETWORKS")
    func configuration() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("omnichat.toml")
        try "[outbound]\nallow_private_networks = true\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try DaemonConfiguration.load(file: file.path, environment: [:]).allowPrivateNetworks)
        #expect(try DaemonConfiguration.load(file: file.path, environment: ["OMNICHAT_ALLOW_PRIVATE_NETWORKS": "0"]).allowPrivateNetworks == false)
        #expect(try DaemonConfiguration.load(file: nil, environment: ["OMNICHAT_ALLOW_PRIVATE_NETWORKS": "1"]).allowPrivateNetworks)
        #expect(try DaemonConfiguration.load(file: nil, environment: [:]).allowPrivateNetworks == false)
        #expect(throws: ConfigurationError.self) {
            try DaemonConfiguration.load(file: nil, environment: ["OMNICHAT_ALLOW_PRIVATE_NETWORKS": "maybe"])
        }
        try "[outbound]\nallow_private_networks = \"yes\"\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.load(file: file.path, environment: [:]) }
    }
}
