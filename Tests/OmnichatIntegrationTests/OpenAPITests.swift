import Foundation
import Testing

/// `docs/openapi.yaml` describes exactly the routes the server registers.
@Suite("OpenAPI document")
struct OpenAPITests {
    /// (method, path) pairs under `paths:`: path keys at two spaces, operations at four.
    static func documented() throws -> Set<String> {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        var inPaths = false
        var path: String?
        var out: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty && !line.hasPrefix("#") {
                inPaths = line.hasPrefix("paths:")
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).split(separator: ":").first ?? "")
                // Quoted keys are allowed too.
                path = path?.trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), let path {
                let key = line.dropFirst(4).split(separator: ":").first.map(String.init) ?? ""
                if ["get", "post", "put", "patch", "delete"].contains(key) { out.insert("\(key.uppercased()) \(path)") }
            }
        }
        return out
    }

    @Test("every registered route is documented, and nothing else")
    func parity() async throws {
        let daemon = try TestDaemon(channels: ["tg": TestDaemon.telegramChannel(apiBase: "http://127.0.0.1:9")])
        try await daemon.start()
        defer { daemon.cleanUp() }
        let served = RoleMatrixTests.registered(daemon)
        let documented = try Self.documented()
        #expect(documented.count > 50)
        #expect(served.subtracting(documented).sorted() == [], "registered but not in docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.yaml but not registered")
        await daemon.stop()
    }
}
