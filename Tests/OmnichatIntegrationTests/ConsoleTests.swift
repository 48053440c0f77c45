import Foundation
import Testing

/// The web console's files: served from `console_dir`, never from outside it.
@Suite("Web console files")
struct ConsoleTests {
    @Test("the page is served at / and at invitation links, with a same-origin-only policy")
    func page() async throws {
        let folder = try temporaryDirectory()
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("views"), withIntermediateDirectories: true)
        try "<!doctype html><title>console</title>".write(to: folder.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        try "export const x = 1;".write(to: folder.appendingPathComponent("app.js"), atomically: true, encoding: .utf8)
        try "export const y = 2;".write(to: folder.appendingPathComponent("views/inbox.js"), atomically: true, encoding: .utf8)
        try "secret".write(to: folder.appendingPathComponent(".hidden"), atomically: true, encoding: .utf8)
        let daemon = try TestDaemon(channels: [:]) { $0.consoleDir = folder.path }
        try await daemon.start()
        defer { daemon.cleanUp(); try? FileManager.default.removeItem(at: folder) }

        for path in ["/", "/invitations/abc123"] {
            let page = try await call("GET", daemon.base + path)
            #expect(page.status == 200)
            #expect(page.text.contains("<title>console</title>"))
            let csp = page.headers.first { $0.name.lowercased() == "content-security-policy" }?.value ?? ""
            #expect(csp.contains("default-src 'self'"))
        }
        let script = try await call("GET", daemon.base + "/ui/app.js")
        #expect(script.status == 200)
        #expect(script.headers.first { $0.name.lowercased() == "content-type" }?.value.hasPrefix("text/javascript") == true)
        #expect(try await call("GET", daemon.base + "/ui/views/inbox.js").text == "export const y = 2;")
        // Nothing outside the folder, nothing hidden, nothing missing.
        for path in ["/ui/..%2F..%2Fetc%2Fpasswd", "/ui/%2E%2E/index.html", "/ui/.hidden", "/ui/missing.js", "/ui/views/..%2F..%2Fomnichat.db"] {
            let answer = try await call("GET", daemon.base + path)
            #expect(answer.status == 404, "\(path) answered \(answer.status)")
            #expect(!answer.text.contains("secret"))
        }
        await daemon.stop()
    }

    @Test("without the folder the API still runs and / is 404")
    func absent() async throws {
        let daemon = try TestDaemon(channels: [:]) { $0.consoleDir = "/nonexistent/console" }
        try await daemon.start()
        defer { daemon.cleanUp() }
        #expect(try await call("GET", daemon.base + "/").status == 404)
        #expect(try await call("GET", daemon.base + "/healthz").status == 200)
        await daemon.stop()
    }
}
