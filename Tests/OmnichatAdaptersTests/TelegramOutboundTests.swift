import Foundation
import OmnichatCore
import Testing

@testable import OmnichatAdapters

/// Rendered requests compared with golden files in `Golden/`. Set
/// OMNICHAT_UPDATE_GOLDEN=1 to rewrite them (then read the diff).
enum Golden {
    static func describe(_ requests: [HTTPRequestDescription]) -> [[String: Any]] {
        requests.map { r in
            [
                "method": r.method, "url": r.url,
                "headers": r.headers.map { "\($0.name): \($0.value)" },
                "body": (try? JSONSerialization.jsonObject(with: r.body)) ?? String(decoding: r.body, as: UTF8.self),
            ]
        }
    }

    static func check(_ name: String, _ requests: [HTTPRequestDescription], filePath: String = #filePath) throws {
        let actual = describe(requests)
        if ProcessInfo.processInfo.environment["OMNICHAT_UPDATE_GOLDEN"] != nil {
            let folder = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Golden")
            let data = try JSONSerialization.data(withJSONObject: actual, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try data.write(to: folder.appendingPathComponent("\(name).json"))
            return
        }
        let url = try #require(Bundle.module.url(forResource: "Golden/\(name)", withExtension: "json"), "missing golden file \(name).json")
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        #expect((expected as? NSArray) == (actual as NSArray), "rendered requests differ from Golden/\(name).json")
    }
}

@Suite("Telegram outbound")
struct TelegramOutboundTests {
    let adapter = telegram()

    func render(_ content: MessageContent, chat: String = "1111111") -> [HTTPRequestDescription] {
        (try? adapter.render(OutboundMessage(conversationID: chat, content: content))) ?? []
    }

    @Test func textGolden() throws {
        try Golden.check("telegram-text", render(.text("Hello from an agent")))
    }

    @Test func quickRepliesGolden() throws {
        try Golden.check(
            "telegram-quick-replies",
            render(.text("Pick one", quickReplies: [QuickReply(title: "Yes"), QuickReply(title: "No", payload: "answer:no")])))
    }

    @Test func photoGolden() throws {
        try Golden.check("telegram-photo", render(MessageContent(type: .image, text: "Our menu", url: "https://example.com/menu.png")))
    }

    @Test func documentGolden() throws {
        try Golden.check("telegram-document", render(MessageContent(type: .file, url: "https://example.com/invoice.pdf"), chat: "-1001234567890"))
    }

    @Test("text over 4096 characters is split in order, nothing lost")
    func longTextSplits() throws {
        let paragraph = String(repeating: "word ", count: 300)  // 1500 characters
        let text = (0..<7).map { "§\($0) " + paragraph }.joined(separator: "\n")
        let requests = render(.text(text, quickReplies: [QuickReply(title: "OK")]))
        #expect(requests.count == 4)  // two 1.5k paragraphs a part: cuts fall on the newlines
        var joined = ""
        for (index, request) in requests.enumerated() {
            let body = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
            let part = try #require(body["text"] as? String)
            #expect(part.utf16.count <= 4096)
            #expect(request.url.hasSuffix("/sendMessage"))
            #expect((body["reply_markup"] != nil) == (index == requests.count - 1), "quick replies ride on the last part only")
            joined += part
        }
        #expect(joined == text)
    }

    @Test("splitting never cuts inside a character and keeps every character")
    func splitterEdgeCases() {
        let emoji = String(repeating: "👍🏽", count: 3000)  // 4 UTF-16 units each
        let parts = TextSplitter.split(emoji, limit: 4096)
        #expect(parts.joined() == emoji)
        #expect(parts.allSatisfy { $0.utf16.count <= 4096 })
        #expect(TextSplitter.split("short", limit: 4096) == ["short"])
        let noSpaces = String(repeating: "x", count: 10_000)
        #expect(TextSplitter.split(noSpaces, limit: 4096).map(\.count) == [4096, 4096, 1808])
    }

    @Test("a long caption is sent after the photo as text")
    func longCaption() throws {
        let requests = render(MessageContent(type: .image, text: String(repeating: "c", count: 2000), url: "https://example.com/a.png"))
        #expect(requests.map { URL(string: $0.url)!.lastPathComponent } == ["sendPhoto", "sendMessage"])
    }

    @Test("callback data is cut to 64 bytes")
    func callbackDataLimit() throws {
        let long = String(repeating: "é", count: 50)  // 100 bytes
        let request = try #require(render(.text("x", quickReplies: [QuickReply(title: "t", payload: long)])).first)
        let body = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        let markup = try #require(body["reply_markup"] as? [String: Any])
        let rows = try #require(markup["inline_keyboard"] as? [[[String: String]]])
        #expect(rows[0][0]["callback_data"]?.utf8.count == 64)
    }

    @Test func classification() {
        func response(_ status: Int, _ body: String, headers: [(name: String, value: String)] = []) -> HTTPResponseDescription {
            HTTPResponseDescription(status: status, headers: headers, body: Data(body.utf8))
        }
        #expect(adapter.classify(response(200, #"{"ok":true,"result":{"message_id":99}}"#)) == .delivered(networkMessageID: "99"))
        #expect(adapter.classify(response(200, #"{"ok":true,"result":true}"#)) == .delivered(networkMessageID: nil))
        #expect(
            adapter.classify(response(429, #"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#))
                == .retry(after: .seconds(7), reason: "rate limited: Too Many Requests: retry after 7"))
        #expect(adapter.classify(response(502, "<html>Bad Gateway</html>")) == .retry(after: nil, reason: "server error: HTTP 502"))
        #expect(
            adapter.classify(response(403, #"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#))
                == .permanent(reason: "Forbidden: bot was blocked by the user"))
        #expect(
            adapter.classify(response(400, #"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#))
                == .permanent(reason: "Bad Request: chat not found"))
    }

    @Test func setWebhookCarriesTheSecret() throws {
        let request = try #require(adapter.webhookRegistration(url: "https://chat.example.com/webhooks/tg"))
        #expect(request.url == "https://api.telegram.org/bot123456:ABC-def/setWebhook")
        let body = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(body["url"] as? String == "https://chat.example.com/webhooks/tg")
        #expect(body["secret_token"] as? String == "s3cret_token")
    }
}

@Suite("Telegram configuration")
struct TelegramConfigurationTests {
    func settings(_ values: [String: SettingValue]) -> ChannelSettings {
        ChannelSettings(file: "adapters.d/tg.toml", values: values)
    }

    @Test func valid() throws {
        let config = try TelegramConfiguration(
            settings: settings(["token": .string("1:abc"), "secret_token": .string("s3"), "api_base": .string("http://127.0.0.1:9/")]))
        #expect(config.apiBase == "http://127.0.0.1:9")
        #expect(config.secretToken == "s3")
        #expect(TelegramAdapter(channelID: "tg", configuration: config).configurationWarnings.isEmpty)
    }

    @Test("without secret_token a channel is refused, unless allow_unsigned says so knowingly (and is warned about)")
    func unsigned() throws {
        let open = try TelegramConfiguration(settings: settings(["token": .string("1:abc"), "allow_unsigned": .bool(true)]))
        #expect(open.secretToken == nil && open.allowUnsigned)
        let warnings = TelegramAdapter(channelID: "tg", configuration: open).configurationWarnings
        #expect(warnings.count == 1 && warnings[0].contains("forged updates"))
    }

    @Test("errors name the file, the key and the problem",
          arguments: [
            ([String: SettingValue](), "token", "is required"),
            (["token": .string("1:a")], "secret_token", "is required"),
            (["token": .string("1:a"), "allow_unsigned": .bool(false)], "secret_token", "is required"),
            (["token": .int(5)], "token", "expected a string, found integer"),
            (["token": .string("no-colon")], "token", "does not look like a bot token"),
            (["token": .string("1:a"), "secret_token": .string("has space")], "secret_token", "must be 1-256 characters"),
            (["token": .string("1:a"), "api_base": .string("ftp://x")], "api_base", "must be an http:// or https:// URL"),
          ])
    func invalid(_ values: [String: SettingValue], _ key: String, _ problem: String) {
        do {
            _ = try TelegramConfiguration(settings: settings(values))
            Issue.record("accepted an invalid configuration")
        } catch let error as ConfigurationError {
            #expect(error.file == "adapters.d/tg.toml")
            #expect(error.key == key)
            #expect(error.problem.contains(problem))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
