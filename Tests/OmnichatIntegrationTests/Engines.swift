import Foundation
import OmnichatCore
import OmnichatTesting
@testable import OmnichatPostgres
@testable import OmnichatStore
import Testing

/// The store engines the suites run on.
enum Engine: String, Sendable, CaseIterable {
    case sqlite, postgres
}

/// Which store engine a test is running on. Suites marked `.bothEngines` run
/// every test on SQLite, then on PostgreSQL when `OMNICHAT_TEST_POSTGRES`
/// names a throw-away server (CI starts one): one `swift test`, one suite per
/// behaviour, whatever the engine. Every daemon and store a test makes then
/// gets a fresh schema on that server.
enum TestEngine {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The engine of the running test (set by `.bothEngines`); outside such a
    /// suite, SQLite, or PostgreSQL with `OMNICHAT_TEST_ENGINE=postgres`.
    @TaskLocal static var current: Engine = ProcessInfo.processInfo.environment["OMNICHAT_TEST_ENGINE"] == "postgres" ? .postgres : .sqlite

    static var usesPostgres: Bool { current == .postgres }

    /// The engines this run covers: SQLite always, PostgreSQL when a server is named.
    static var available: [Engine] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// The throw-away PostgreSQL server, e.g. `postgres://postgres@127.0.0.1:5433/omnichat_test`.
    static var postgresURL: String? { environment["OMNICHAT_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 } }

    /// A URL for a schema of its own on the test server.
    static func freshPostgresURL() -> String {
        guard let base = postgresURL else {
            fatalError("OMNICHAT_TEST_ENGINE=postgres needs OMNICHAT_TEST_POSTGRES (a postgres:// URL of a throw-away server)")
        }
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let name = "t_" + String((0..<14).map { _ in letters.randomElement()! })
        return base + (base.contains("?") ? "&" : "?") + "schema=" + name
    }

    /// The database setting for a daemon under test: a SQLite file in
    /// `directory`, or a fresh PostgreSQL schema.
    /// A daemon restarted on the same directory finds the same schema.
    static func database(in directory: URL, file: String = "omnichat.db") -> String {
        guard usesPostgres else { return directory.appendingPathComponent(file).path }
        let saved = directory.appendingPathComponent(file + ".postgres-url")
        if let url = try? String(contentsOf: saved, encoding: .utf8), !url.isEmpty { return url }
        let url = freshPostgresURL()
        try? url.write(to: saved, atomically: true, encoding: .utf8)
        return url
    }

    /// A store of the engine under test.
    static func makeStore(in directory: URL, file: String = "t.db", nodeName: String = "test") async throws -> any TestStore {
        if usesPostgres {
            var options = PostgresStore.Options()
            options.nodeName = nodeName
            options.poolSize = 4
            return try await PostgresStore(url: freshPostgresURL(), options: options, logger: quietLogger())
        }
        return try await SQLiteStore(
            path: directory.appendingPathComponent(file).path, synchronous: .normal, nodeName: nodeName, logger: quietLogger())
    }
}

/// What tests use of either engine beyond `DaemonStore`: fixtures written
/// straight into the tables (`OmnichatTesting`'s seeders; both engines
/// conform with nothing to add).
protocol TestStore: DaemonStore, SeedableStore {}

extension SQLiteStore: TestStore {}
extension PostgresStore: TestStore {}

/// Runs each test of a suite on every available engine in turn (see
/// `TestEngine`). A failure on PostgreSQL is preceded by a line naming it.
struct BothEngines: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        for engine in TestEngine.available {
            if engine != .sqlite { print("▷ again on \(engine.rawValue): \(test.name)") }
            try await TestEngine.$current.withValue(engine) { try await function() }
        }
    }
}

extension Trait where Self == BothEngines {
    /// Every test of the suite on SQLite and, when a server is named, on PostgreSQL.
    static var bothEngines: Self { BothEngines() }
}
