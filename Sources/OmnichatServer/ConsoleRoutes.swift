import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Serves the web console: plain HTML, CSS and JavaScript modules from one
/// folder, no build step. The page is `index.html` at `/` and at the paths
/// people are sent to by link (`/invitations/<token>`); everything else in
/// the folder is under `/ui/`. The console uses only the public API.
struct ConsoleRoutes: Sendable {
    let root: URL

    /// Where the console is when `console_dir` is left at its default
    /// (`./console`, which only exists when the daemon starts in the source
    /// tree): beside the binary (`<bin>/console`), where `make install` puts it
    /// (`<bin>/../share/omnichat/console`), then the source tree the binary was
    /// built from. A `console_dir` set to anything else is used as given.
    static func locate(configured: String, isDefault: Bool) -> String? {
        var candidates = [configured]
        if isDefault {
            let binary = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
                .deletingLastPathComponent()
            candidates.append(binary.appendingPathComponent("console").path)
            candidates.append(binary.deletingLastPathComponent().appendingPathComponent("share/omnichat/console").path)
            // Sources/OmnichatServer/ConsoleRoutes.swift → the tree's console/.
            let tree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(tree.appendingPathComponent("console").path)
        }
        return candidates.first { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent("index.html"), isDirectory: &isDirectory)
                && !isDirectory.boolValue
        }
    }

    /// nil when the folder does not exist: the daemon then serves the API only.
    init?(directory: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return nil }
        root = URL(fileURLWithPath: directory, isDirectory: true).standardizedFileURL
    }

    func register(on router: Router<OmnichatRequestContext>) {
        let console = self
        let page: @Sendable (Request, OmnichatRequestContext) async throws -> Response = { _, _ in
            try console.file("index.html")
        }
        router.get("/", use: page)
        router.get("/invitations/{token}", use: page)
        // One folder level is enough for a console without a build step.
        router.get("/ui/{name}") { request, _ in
            try console.file(String(request.uri.path.dropFirst("/ui/".count)))
        }
        router.get("/ui/{name}/{file}") { request, _ in
            try console.file(String(request.uri.path.dropFirst("/ui/".count)))
        }
    }

    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon",
        "json": "application/json", "woff2": "font/woff2", "txt": "text/plain; charset=utf-8",
    ]

    func file(_ relative: String) throws -> Response {
        let decoded = relative.removingPercentEncoding ?? relative
        let parts = decoded.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." || $0.hasPrefix(".") }) else {
            throw APIError(.notFound, "not_found", "no such console file")
        }
        let url = parts.reduce(root) { $0.appendingPathComponent(String($1)) }.standardizedFileURL
        guard url.path.hasPrefix(root.path + "/"), let data = FileManager.default.contents(atPath: url.path) else {
            throw APIError(.notFound, "not_found", "no such console file")
        }
        let type = Self.types[url.pathExtension.lowercased()] ?? "application/octet-stream"
        var headers: HTTPFields = [
            .contentType: type,
            .cacheControl: "no-cache",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        ]
        if url.pathExtension == "html" {
            // Same-origin only: no inline scripts, no third-party anything.
            headers[HTTPField.Name("Content-Security-Policy")!] =
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
            headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
            headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
