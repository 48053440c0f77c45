import Foundation
import OmnichatCore
import OmnichatTesting
import OmnichatServer
import Testing

/// The customer panel's API through the real server: a contact's details,
/// merging contacts that are one person and undoing it, the network's
/// notices (a blocked bot, people joining a group) and group chats, and the
/// console language kept per user.
@Suite("Customer panel", .serialized, .bothEngines)
struct CustomerPanelTests {
    let inbox = InboxTests()

    func contactOf(_ daemon: TestDaemon, room: Int64, token: String) async throws -> Int64 {
        let detail = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)", token: token)
        return try #require(((detail["room"] as? [String: Any])?["contact"] as? [String: Any])?["id"].asID)
    }

    func telegram(_ update: Int, _ payload: [String: Any]) -> Data {
        var object = payload
        object["update_id"] = update
        return jsonData(object)
    }

    @Test("a contact's details; merge and unmerge by supervisors, recorded; agents read only their customers")
    func mergeAndUnmerge() async throws {
        try await inbox.withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor, online: false)
            let (_, boToken) = try await daemon.signIn(email: "bo@example.com", online: false)
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let roomA = try await inbox.customerWrites(daemon, update: 1, chat: 501, text: "hi", name: "Dee", as: sueToken)
            try await inbox.waitForStatus(daemon, sueToken, roomA, "assigned", assignee: ann.id)
            let roomB = try await inbox.customerWrites(daemon, update: 2, chat: 502, text: "me again, other phone", name: "Dee B", as: sueToken)
            let roomC = try await inbox.customerWrites(daemon, update: 3, chat: 503, text: "third", name: "Dee C", as: sueToken)
            let a = try await contactOf(daemon, room: roomA, token: sueToken)
            let b = try await contactOf(daemon, room: roomB, token: sueToken)
            let c = try await contactOf(daemon, room: roomC, token: sueToken)
            #expect(
                try await call("PUT", "\(daemon.base)/api/v1/rooms/\(roomA)/customer_properties", json: ["properties": [["key": "plan", "value": "gold"]]],
                    token: annToken).status == 200)

            var details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(a)", token: annToken)
            #expect(details.status == 200, "\(details.text)")
            let contact = try #require(details["contact"] as? [String: Any])
            #expect(contact["name"] as? String == "Dee")
            #expect(contact["channel"] as? String == "tg")
            #expect(contact["external_id"] as? String == "501")
            #expect((contact["properties"] as? [[String: Any]])?.first?["value"] as? String == "gold")
            #expect(contact["extras"] is [String: Any])
            #expect((details["linked"] as? [Any])?.isEmpty == true)
            #expect((details["rooms"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [roomA])
            // Bo has no room of hers; an unknown contact is 404.
            #expect(try await call("GET", "\(daemon.base)/api/v1/contacts/\(a)", token: boToken).status == 403)
            #expect(try await call("GET", "\(daemon.base)/api/v1/contacts/999999", token: sueToken).status == 404)

            // Merging: supervisors only, not with itself, not with nobody.
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: ["contact_id": b], token: annToken).status == 403)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: ["contact_id": a], token: sueToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: [String: Any](), token: sueToken).status == 422)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: ["contact_id": 999999], token: sueToken).status == 404)
            let merged = try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: ["contact_id": String(b)], token: sueToken)
            #expect(merged.status == 200, "\(merged.text)")
            #expect(merged["contacts"].asIDs == [a, b])
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(b)", token: sueToken)
            #expect((details["linked"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [a])
            #expect(Set((details["rooms"] as? [[String: Any]])?.compactMap { $0["id"].asID } ?? []) == [roomA, roomB])
            // Ann sees the customer's other conversation in her panel (not the room itself).
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(a)", token: annToken)
            #expect((details["linked"] as? [[String: Any]])?.first?["name"] as? String == "Dee B")

            // A third contact joins the person; the first one leaves it, the other two stay together.
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(c)/merge", json: ["contact_id": b], token: sueToken)["contacts"].asIDs == [a, b, c])
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/unmerge", token: sueToken).status == 200)
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(b)", token: sueToken)
            #expect((details["linked"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [c])
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(a)", token: sueToken)
            #expect((details["linked"] as? [Any])?.isEmpty == true)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/unmerge", token: sueToken).status == 409)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(b)/unmerge", token: sueToken).status == 200)
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(c)", token: sueToken)
            #expect((details["linked"] as? [Any])?.isEmpty == true, "the last one left alone is no longer merged")

            // Each merge and unmerge is in the audit log, with who did it.
            let audit = try await call("GET", "\(daemon.base)/api/v1/audit?action=contact.", token: adminToken)
            let actions = (audit["entries"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "contact.merge" }.count == 2, "\(audit.text)")
            #expect(actions.filter { $0 == "contact.unmerge" }.count == 2)
        }
    }

    @Test("a blocked bot, an unblock and people joining a group are service events; a group's room has its title, each message names its sender")
    func noticesAndGroups() async throws {
        try await inbox.withDaemon { daemon, _ in
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor)
            let room = try await inbox.customerWrites(daemon, update: 1, chat: 601, text: "hello", name: "Fay", as: sueToken)
            func member(_ update: Int, _ status: String) -> Data {
                telegram(update, [
                    "my_chat_member": [
                        "chat": ["id": 601, "type": "private", "first_name": "Fay"],
                        "from": ["id": 601, "is_bot": false, "first_name": "Fay"],
                        "date": 1_700_000_100,
                        "old_chat_member": ["status": status == "kicked" ? "member" : "kicked", "user": ["id": 42, "is_bot": true, "first_name": "Bot"]],
                        "new_chat_member": ["status": status, "user": ["id": 42, "is_bot": true, "first_name": "Bot"]],
                    ] as [String: Any]
                ])
            }
            #expect(try await daemon.postUpdate(member(2, "kicked")).status == 200)
            #expect(try await daemon.postUpdate(member(2, "kicked")).status == 200, "a retry is acknowledged")
            #expect(try await daemon.postUpdate(member(3, "member")).status == 200)
            var kinds: [String] = []
            try await eventually("the blocked and unblocked notices") {
                let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/history", token: sueToken)
                let events = history["events"] as? [[String: Any]] ?? []
                kinds = events.compactMap { $0["kind"] as? String }
                return kinds.contains("unblocked")
            }
            #expect(kinds.filter { $0 == "blocked" }.count == 1, "\(kinds)")
            let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/history", token: sueToken)
            let blocked = try #require((history["events"] as? [[String: Any]])?.first { $0["kind"] as? String == "blocked" })
            #expect(blocked["name"] as? String == "Fay")
            // Not a message: the conversation still has the customer's one message.
            let messages = try await call("GET", "\(daemon.base)/api/v1/rooms/\(room)/messages", token: sueToken)
            #expect((messages["messages"] as? [[String: Any]])?.map { $0["type"] as? String } == ["text"])

            // A group: one room titled with the group's name, each message with its sender.
            func groupMessage(_ update: Int, from id: Int, _ name: String, _ text: String) -> Data {
                telegram(update, [
                    "message": [
                        "message_id": update, "date": 1_700_000_200 + update, "text": text,
                        "chat": ["id": -100_777, "type": "supergroup", "title": "Ops Team"],
                        "from": ["id": id, "is_bot": false, "first_name": name],
                    ] as [String: Any]
                ])
            }
            #expect(try await daemon.postUpdate(groupMessage(10, from: 701, "Gil", "anyone there?")).status == 200)
            #expect(try await daemon.postUpdate(groupMessage(11, from: 702, "Hal", "me too")).status == 200)
            var group: [String: Any] = [:]
            try await eventually("the group's room") {
                let list = try await inbox.rooms(daemon, sueToken)
                group = list.first { $0["title"] as? String != nil } ?? [:]
                return !group.isEmpty
            }
            #expect(group["title"] as? String == "Ops Team")
            #expect((group["contact"] as? [String: Any])?["name"] as? String == "Gil", "the room's contact is who wrote first")
            let groupRoom = try #require(group["id"].asID)
            try await eventually("both group messages") {
                let list = try await call("GET", "\(daemon.base)/api/v1/rooms/\(groupRoom)/messages", token: sueToken)
                return (list["messages"] as? [Any])?.count == 2
            }
            let list = try await call("GET", "\(daemon.base)/api/v1/rooms/\(groupRoom)/messages", token: sueToken)
            #expect((list["messages"] as? [[String: Any]])?.map { $0["sender_name"] as? String } == ["Gil", "Hal"])
            let joined = telegram(12, [
                "message": [
                    "message_id": 12, "date": 1_700_000_300, "chat": ["id": -100_777, "type": "supergroup", "title": "Ops Team"],
                    "from": ["id": 701, "is_bot": false, "first_name": "Gil"],
                    "new_chat_members": [["id": 703, "is_bot": false, "first_name": "Ivy"]],
                ] as [String: Any]
            ])
            #expect(try await daemon.postUpdate(joined).status == 200)
            try await eventually("the joined notice") {
                let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(groupRoom)/history", token: sueToken)
                return (history["events"] as? [[String: Any]])?.contains { $0["kind"] as? String == "joined" && $0["name"] as? String == "Ivy" } == true
            }
            let after = try await call("GET", "\(daemon.base)/api/v1/rooms/\(groupRoom)/messages", token: sueToken)
            #expect((after["messages"] as? [Any])?.count == 2, "a service message is not a message")
        }
    }

    @Test("LINE: unfollowing the account and following it again are blocked and unblocked notices of the customer's room")
    func lineFollow() async throws {
        try await inbox.withDaemon { daemon, _ in
            let (_, sueToken) = try await daemon.signIn(email: "sue@example.com", role: .supervisor)
            func post(_ event: [String: Any]) async throws -> Int {
                let body = jsonData(["destination": "Ubot", "events": [event]])
                return try await call(
                    "POST", "\(daemon.base)/webhooks/ln", body: body,
                    headers: [("X-Line-Signature", hmacBase64("line-secret", body)), ("Content-Type", "application/json")]
                ).status
            }
            let source: [String: Any] = ["type": "user", "userId": "Uline1"]
            #expect(try await post([
                "type": "message", "webhookEventId": "01LINE1", "timestamp": 1_700_000_000_000, "source": source, "replyToken": "r1",
                "message": ["id": "m1", "type": "text", "text": "hello"],
            ]) == 200)
            var room: Int64?
            try await eventually("the LINE room") {
                room = try await inbox.rooms(daemon, sueToken).first { $0["channel"] as? String == "ln" }?["id"].asID
                return room != nil
            }
            let id = try #require(room)
            #expect(try await post(["type": "unfollow", "webhookEventId": "01LINE2", "timestamp": 1_700_000_100_000, "source": source]) == 200)
            #expect(try await post(["type": "follow", "webhookEventId": "01LINE3", "timestamp": 1_700_000_200_000, "source": source, "replyToken": "r2"]) == 200)
            // Routing may still be placing the room meanwhile: its events can come after the notices.
            var kinds: [String] = []
            try await eventually("the notices") {
                let history = try await call("GET", "\(daemon.base)/api/v1/rooms/\(id)/history", token: sueToken)
                kinds = (history["events"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
                return kinds.contains("unblocked")
            }
            #expect(kinds.filter { ["blocked", "unblocked"].contains($0) } == ["blocked", "unblocked"], "\(kinds)")
        }
    }

    @Test("erasing a merged contact leaves the others merged (or alone) and an erased contact cannot be merged; agents see colleagues by name only")
    func eraseMerged() async throws {
        try await inbox.withDaemon { daemon, _ in
            let (ann, annToken) = try await daemon.signIn(email: "ann@example.com")
            let (_, adminToken) = try await daemon.signIn(email: "root@example.com", role: .admin, online: false)
            let roomA = try await inbox.customerWrites(daemon, update: 1, chat: 801, text: "a", name: "Ida", as: adminToken)
            try await inbox.waitForStatus(daemon, adminToken, roomA, "assigned", assignee: ann.id)
            let roomB = try await inbox.customerWrites(daemon, update: 2, chat: 802, text: "b", name: "Ida B", as: adminToken)
            let roomC = try await inbox.customerWrites(daemon, update: 3, chat: 803, text: "c", name: "Ida C", as: adminToken)
            let a = try await contactOf(daemon, room: roomA, token: adminToken)
            let b = try await contactOf(daemon, room: roomB, token: adminToken)
            let c = try await contactOf(daemon, room: roomC, token: adminToken)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(a)/merge", json: ["contact_id": b], token: adminToken)["contacts"].asIDs == [a, b])
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(c)/merge", json: ["contact_id": a], token: adminToken)["contacts"].asIDs == [a, b, c])
            // Ann's view of the customer: her colleagues' rooms name who has them, without their email.
            let seen = try await call("GET", "\(daemon.base)/api/v1/contacts/\(a)", token: annToken)
            let assignees = (seen["rooms"] as? [[String: Any]] ?? []).compactMap { $0["assignee"] as? [String: Any] }
            #expect(!assignees.isEmpty && assignees.allSatisfy { $0["email"] == nil && $0["name"] is String }, "\(seen.text)")
            // Erase the first contact (the person's anchor): b and c stay one person.
            for room in [roomA] { #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(room)/resolve", token: adminToken).status == 200) }
            #expect(try await call("DELETE", "\(daemon.base)/api/v1/contacts/\(a)", token: adminToken).status == 200)
            var details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(b)", token: adminToken)
            #expect((details["linked"] as? [[String: Any]])?.compactMap { $0["id"].asID } == [c])
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(b)/merge", json: ["contact_id": a], token: adminToken).status == 422, "an erased contact")
            // Erase b too: c is left alone, no longer merged.
            #expect(try await call("POST", "\(daemon.base)/api/v1/rooms/\(roomB)/resolve", token: adminToken).status == 200)
            #expect(try await call("DELETE", "\(daemon.base)/api/v1/contacts/\(b)", token: adminToken).status == 200)
            details = try await call("GET", "\(daemon.base)/api/v1/contacts/\(c)", token: adminToken)
            #expect((details["linked"] as? [Any])?.isEmpty == true)
            #expect(try await call("POST", "\(daemon.base)/api/v1/contacts/\(c)/unmerge", token: adminToken).status == 409)
        }
    }

    @Test("the console language is kept per user: en, id or null; anything else is 422")
    func language() async throws {
        try await inbox.withDaemon { daemon, _ in
            let (_, token) = try await daemon.signIn(email: "ann@example.com")
            #expect((try await call("GET", "\(daemon.base)/api/v1/me", token: token)["user"] as? [String: Any])?["language"] is NSNull)
            let set = try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["language": "id"], token: token)
            #expect(set.status == 200)
            #expect((set["user"] as? [String: Any])?["language"] as? String == "id")
            #expect((try await call("GET", "\(daemon.base)/api/v1/me", token: token)["user"] as? [String: Any])?["language"] as? String == "id")
            let wrong = try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["language": "fr"], token: token)
            #expect(wrong.status == 422)
            #expect(inbox.errorMessage(wrong).contains("'language'"))
            #expect((try await call("GET", "\(daemon.base)/api/v1/me", token: token)["user"] as? [String: Any])?["language"] as? String == "id")
            // A bad field refuses the whole change: the language stays.
            #expect(try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["language": "en", "name": ""], token: token).status == 422)
            #expect((try await call("GET", "\(daemon.base)/api/v1/me", token: token)["user"] as? [String: Any])?["language"] as? String == "id")
            #expect(
                (try await call("PATCH", "\(daemon.base)/api/v1/me", json: ["language": NSNull()], token: token)["user"] as? [String: Any])?["language"]
                    is NSNull)
        }
    }
}
