import Foundation
import OmnichatCore
import Testing

@Suite("Quick replies", .bothEngines)
struct QuickReplyTests {
    @Test("supervisors save the team's replies, agents read them; bad lists are refused naming the entry")
    func saveAndRead() async throws {
        let daemon = try TestDaemon(channels: [:])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let (_, supervisor) = try await daemon.signIn(email: "sue@example.com", role: .supervisor)
        let (_, agent) = try await daemon.signIn(email: "al@example.com", role: .agent)
        let url = daemon.base + "/api/v1/quick-replies"
        #expect((try await call("GET", url, token: agent)["quick_replies"] as? [Any])?.isEmpty == true)

        let list: [[String: String]] = [["shortcut": "greet", "text": "Hello! How can I help? 😊"], ["shortcut": "bye", "text": "Thanks, have a good day."]]
        let saved = try await call("PUT", url, json: ["quick_replies": list], token: supervisor)
        #expect(saved.status == 200)
        let read = try await call("GET", url, token: agent)
        #expect((read["quick_replies"] as? [[String: String]]) == list, "order and text kept")

        #expect(try await call("PUT", url, json: ["quick_replies": list], token: agent).status == 403)
        let twice = try await call("PUT", url, json: ["quick_replies": [list[0], list[0]]], token: supervisor)
        #expect(twice.status == 422 && twice.text.contains("'greet' is used twice"))
        let badShortcut = try await call("PUT", url, json: ["quick_replies": [["shortcut": "Hi There", "text": "x"]]], token: supervisor)
        #expect(badShortcut.status == 422 && badShortcut.text.contains("quick_replies[0].shortcut"))
        let empty = try await call("PUT", url, json: ["quick_replies": [["shortcut": "x", "text": "  "]]], token: supervisor)
        #expect(empty.status == 422 && empty.text.contains("quick_replies[0].text"))
        #expect((try await call("GET", url, token: agent)["quick_replies"] as? [[String: String]]) == list, "refused lists change nothing")
        await daemon.stop()
    }
}
