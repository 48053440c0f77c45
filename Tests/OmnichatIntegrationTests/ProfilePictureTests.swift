import Foundation
import OmnichatCore
import Testing

/// Customers' profile pictures from the networks' profile APIs, against local
/// fakes of those APIs: looked up once per contact, kept, carried by the
/// allocation webhook and the room's customer, and served by the daemon when
/// only the channel's credentials can fetch them (Telegram).
@Suite("Profile pictures", .serialized, .bothEngines)
struct ProfilePictureTests {
    static let base = "https://omni.example.com"

    func customAllocation(_ daemon: TestDaemon, _ merchant: FakeNetwork, _ adminToken: String) async throws {
        let settings = try await call(
            "PATCH", "\(daemon.base)/api/v1/settings",
            json: ["custom_allocation": ["enabled": true, "webhook_url": "\(merchant.baseURL)/allocate", "fallback": "wait", "deadline_seconds": 30]],
            token: adminToken)
        #expect(settings.status == 200)
    }

    @Test("Telegram: getUserProfilePhotos then getFile; the allocation webhook names the daemon's own address, which serves the picture")
    func telegram() async throws {
        let network = FakeNetwork()
        network.profiles = { call in
            .init(
                status: 200,
                body: #"{"ok":true,"result":{"total_count":1,"photos":[[{"file_id":"small-id","file_unique_id":"s","width":160,"height":160},{"file_id":"big-id","file_unique_id":"b","width":640,"height":640}]]}}"#)
        }
        network.defaultAnswer = { path, n in
            if path.hasSuffix("/getFile") { return .init(status: 200, body: #"{"ok":true,"result":{"file_path":"photos/file_3.jpg"}}"#) }
            if path.contains("/file/bot") { return .init(status: 200, body: "JPEG-BYTES", contentType: "image/jpeg") }
            return .init(status: 200, body: #"{"ok":true,"result":{"message_id":\#(n)}}"#)
        }
        try await network.start()
        let merchant = FakeNetwork()
        merchant.defaultAnswer = { _, _ in .init(status: 200, body: "{}") }
        try await merchant.start()
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: network.baseURL)]) { $0.publicBaseURL = Self.base }
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
        let (_, annToken) = try await daemon.signIn(email: "ann@example.com")
        try await customAllocation(daemon, merchant, adminToken)

        _ = try await daemon.postUpdate(telegramUpdate(1, chat: 4242, name: "Cleo"))
        try await eventually("the allocation webhook call") { !merchant.calls(to: "allocate").isEmpty }
        let payload = try #require(merchant.calls(to: "allocate").first).json
        let roomID = try #require(Int64(payload["room_id"] as? String ?? ""))
        let own = "\(Self.base)/api/v1/rooms/\(roomID)/customer_avatar"
        #expect(payload["avatar_url"] as? String == own, "the bot token never leaves the daemon: our own address instead")
        #expect(!(payload["avatar_url"] as? String ?? "").contains("TEST-token"))

        // Asked once, although the new session and the allocation both wanted it.
        let lookups = network.profileLookups.filter { $0.path.hasSuffix("/getUserProfilePhotos") }
        #expect(lookups.count == 1)
        #expect(lookups.first?.json["user_id"] as? Int == 4242)
        #expect(lookups.first?.json["limit"] as? Int == 1)
        #expect(network.calls(to: "getFile").isEmpty, "the file is fetched when someone asks for it")

        // The room's customer carries it; the route serves the largest size, fetched with the channel's credentials.
        let room = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)", token: adminToken)["room"] as? [String: Any]
        #expect((room?["customer"] as? [String: Any])?["avatar_url"] as? String == own)
        let picture = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_avatar", token: adminToken)
        #expect(picture.status == 200)
        #expect(picture.text == "JPEG-BYTES")
        #expect(picture.headers.first { $0.name.lowercased() == "content-type" }?.value == "image/jpeg")
        #expect(network.calls(to: "getFile").first?.json["file_id"] as? String == "big-id")
        #expect(network.calls.last?.path == "/file/bot123456:TEST-token/photos/file_3.jpg")
        #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_avatar").status == 401)
        #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_avatar", token: annToken).status == 403, "not her room")
        #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/999999/customer_avatar", token: adminToken).status == 404)

        // The customer writes again, in a new session too: the kept picture, no new lookup
        // (the route above looked the photo up afresh: Telegram's file paths expire).
        let lookupsSoFar = network.profileLookups.count
        #expect(lookupsSoFar == 2)
        _ = try await daemon.postUpdate(telegramUpdate(2, chat: 4242, name: "Cleo"))
        #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomID)/resolve", json: [:], token: adminToken).status == 200)
        _ = try await daemon.postUpdate(telegramUpdate(3, chat: 4242, name: "Cleo"))
        try await eventually("the second session's allocation webhook") { merchant.calls(to: "allocate").count >= 2 }
        #expect(merchant.calls(to: "allocate").last?.json["avatar_url"] as? String == own)
        #expect(network.profileLookups.count == lookupsSoFar)

        // The network fails the file: 502 naming it, never the token.
        network.respond([(200, #"{"ok":true,"result":{"file_path":"photos/file_3.jpg"}}"#), (500, "boom")])
        let failed = try await call("GET", "\(daemon.base)/api/v1/rooms/\(roomID)/customer_avatar", token: adminToken)
        #expect(failed.status == 502)
        #expect(failed.text.contains("picture"))
        #expect(!failed.text.contains("TEST-token"))
        await daemon.stop()
        await network.stop()
        await merchant.stop()
    }

    @Test("LINE and Messenger: the profile API's picture address is kept and redirected to; none means asked once; profile_pictures = false asks nothing")
    func lineAndMessenger() async throws {
        let network = FakeNetwork()
        network.profiles = { [network] call in
            if call.path.hasSuffix("/v2/bot/profile/Uwith") {
                return .init(status: 200, body: #"{"userId":"Uwith","displayName":"Lin","pictureUrl":"\#(network.baseURL)/cdn/lin.jpg"}"#)
            }
            if call.path.contains("/v2/bot/profile/") { return .init(status: 200, body: #"{"userId":"Uwithout","displayName":"Nopic"}"#) }
            if call.path.hasSuffix("/PSID77") { return .init(status: 200, body: #"{"profile_pic":"https://platform-lookaside.example/psid77.jpg","id":"PSID77"}"#) }
            return .init(status: 404, body: "{}")
        }
        network.defaultAnswer = { path, _ in
            path == "/cdn/lin.jpg" ? .init(status: 200, body: "LIN-JPEG", contentType: "image/jpeg") : .init(status: 200, body: "{}")
        }
        try await network.start()
        let lin = "\(network.baseURL)/cdn/lin.jpg"
        let line = try #require(networkCases.first { $0.name == "line" })
        let messenger = try #require(networkCases.first { $0.name == "messenger" })
        let quiet = line.dropIn(network.baseURL).replacingOccurrences(of: "channel_secret", with: "profile_pictures = false\nchannel_secret")
        let daemon = try TestDaemon(channels: ["ln": line.dropIn(network.baseURL), "fb": messenger.dropIn(network.baseURL), "quiet": quiet])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)

        func post(_ channel: String, _ request: (Data, [(name: String, value: String)])) async throws {
            let answer = try await call("POST", "\(daemon.base)/webhooks/\(channel)", body: request.0, headers: request.1)
            #expect(answer.status == 200, "\(channel): \(answer.text)")
        }
        func customer(_ channel: String, _ externalID: String) async throws -> [String: Any]? {
            let rooms = try await call("GET", "\(daemon.base)/api/v1/rooms?channel=\(channel)", token: adminToken)["rooms"] as? [[String: Any]] ?? []
            for room in rooms {
                let detail = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room["id"].asID ?? 0)", token: adminToken)["room"] as? [String: Any]
                if let customer = detail?["customer"] as? [String: Any], customer["external_id"] as? String == externalID {
                    return customer.merging(["room_id": room["id"] as Any]) { a, _ in a }
                }
            }
            return nil
        }

        try await post("ln", line.inbound("hi", "Uwith", 1))
        try await post("ln", line.inbound("hi", "Uwithout", 2))
        try await post("fb", messenger.inbound("hi", "PSID77", 3))
        try await post("quiet", line.inbound("hi", "Uquiet", 4))
        try await eventually("the pictures kept") {
            let picture = try await customer("ln", "Uwith")?["avatar_url"] as? String
            let mo = try await customer("fb", "PSID77")?["avatar_url"] as? String
            return picture == lin && mo == "https://platform-lookaside.example/psid77.jpg"
        }
        let lineCall = try #require(network.profileLookups.first { $0.path.hasSuffix("/Uwith") })
        #expect(lineCall.header("Authorization") == "Bearer LINE-TOKEN-123")
        let metaCall = try #require(network.profileLookups.first { $0.path.hasSuffix("/PSID77") })
        #expect(metaCall.query.contains("fields=profile_pic"))

        // The route redirects to the network's address.
        let withRoom = try #require(try await customer("ln", "Uwith")?["room_id"].asID)
        let redirect = try await call("GET", "\(daemon.base)/api/v1/rooms/\(withRoom)/customer_avatar", token: adminToken)
        #expect(redirect.status == 302)
        #expect(redirect.headers.first { $0.name.lowercased() == "location" }?.value == lin)
        // The console asks for the bytes (its content policy loads images from its own origin).
        let proxied = try await call("GET", "\(daemon.base)/api/v1/rooms/\(withRoom)/customer_avatar?proxy=true", token: adminToken)
        #expect(proxied.status == 200)
        #expect(proxied.text == "LIN-JPEG")
        #expect(proxied.headers.first { $0.name.lowercased() == "content-type" }?.value == "image/jpeg")

        // No picture: none kept, 404 from the route, and the customer is not asked about again on their next message.
        try await eventually("the lookup without a picture") { network.profileLookups.contains { $0.path.hasSuffix("/Uwithout") } }
        let without = try #require(try await customer("ln", "Uwithout"))
        #expect((without["avatar_url"] as? String ?? "").isEmpty)
        let before = network.profileLookups.filter { $0.path.hasSuffix("/Uwithout") }.count
        try await post("ln", line.inbound("again", "Uwithout", 5))
        try await Task.sleep(for: .milliseconds(300))
        #expect(network.profileLookups.filter { $0.path.hasSuffix("/Uwithout") }.count == before)
        #expect(try await call("GET", "\(daemon.base)/api/v1/rooms/\(without["room_id"].asID ?? 0)/customer_avatar", token: adminToken).status == 404)

        // A channel with profile_pictures = false never asks.
        #expect(!network.profileLookups.contains { $0.path.hasSuffix("/Uquiet") })
        await daemon.stop()
        await network.stop()
    }
}
