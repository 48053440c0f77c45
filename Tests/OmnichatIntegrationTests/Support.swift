import Foundation
import Hummingbird
import Logging
import OmnichatCore
import OmnichatDelivery
import OmnichatServer
import OmnichatStore
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One libcurl client for all tests: requests go through a real socket.
let client = CurlTransport()

func quietLogger(_ label: String = "test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["OMNICHAT_TEST_LOG"] != nil ? .debug : .critical
    return logger
}

/// A fresh temporary folder, removed by the caller's `defer`.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("omnichat-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// The repository's root (for the sample files and the built binary).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func fixture(_ path: String) throws -> Data {
    try Data(contentsOf: repositoryRoot.appendingPathComponent("Tests/OmnichatAdaptersTests/Fixtures/\(path)"))
}

/// A Telegram update with the given id, chat and text.
func telegramUpdate(_ updateID: Int, chat: Int64 = 1111111, text: String = "hello", name: String = "Ann") -> Data {
    let object: [String: Any] = [
        "update_id": updateID,
        "message": [
            "message_id": updateID, "date": 1_700_000_000, "text": text,
            "chat": ["id": chat, "type": "private", "first_name": name],
            "from": ["id": chat, "is_bot": false, "first_name": name],
        ] as [String: Any],
    ]
    return try! JSONSerialization.data(withJSONObject: object)
}

struct HTTPResult {
    var status: Int
    var json: [String: Any]
    var headers: [(name: String, value: String)]
    var text: String

    subscript(_ key: String) -> Any? { json[key] }
}

func call(
    _ method: String, _ url: String, json: Any? = nil, body: Data? = nil, token: String? = nil,
    headers: [(name: String, value: String)] = []
) async throws -> HTTPResult {
    var all = headers
    if let token { all.append(("Authorization", "Bearer \(token)")) }
    var data = body ?? Data()
    if let json {
        data = try JSONSerialization.data(withJSONObject: json)
        all.append(("Content-Type", "application/json"))
    }
    let response = try await client.send(HTTPRequestDescription(method: method, url: url, headers: all, body: data), timeout: .seconds(30))
    let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    return HTTPResult(status: response.status, json: object, headers: response.headers, text: String(decoding: response.body, as: UTF8.self))
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(10), _ what: String = "condition", _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}

/// A local fake of a network's API: records every call and answers from a
/// script, then with `defaultAnswer` (Telegram's shape unless told otherwise).
final class FakeNetwork: @unchecked Sendable {
    struct Call: Sendable {
        var method: String
        var path: String
        var query: String
        var headers: [(name: String, value: String)]
        var body: Data
        var at: ContinuousClock.Instant

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    struct Answer: Sendable {
        var status: Int
        var body: String
        var headers: [(String, String)] = []
        var contentType = "application/json"
        /// How long to wait before answering (a slow or hanging network).
        var delay: Duration = .zero
    }

    private let lock = NSLock()
    private var recorded: [Call] = []
    /// Profile lookups answered by `profiles`.
    private var profileCalls: [Call] = []
    var profileLookups: [Call] { lock.withLock { profileCalls } }
    private var script: [Answer] = []
    private var counter = 1000
    private var task: Task<Void, any Error>?
    private(set) var port = 0
    /// The answer once the script is used up; gets a counter for unique ids.
    var defaultAnswer: @Sendable (_ path: String, _ counter: Int) -> Answer = { _, n in
        Answer(status: 200, body: #"{"ok":true,"result":{"message_id":\#(n)}}"#)
    }

    var calls: [Call] {
        lock.withLock { recorded }
    }

    func calls(to method: String) -> [Call] { calls.filter { $0.path.hasSuffix("/\(method)") } }

    func respond(_ answers: [(Int, String)]) {
        lock.withLock { script = answers.map { Answer(status: $0.0, body: $0.1) } }
    }

    func respond(answers: [Answer]) {
        lock.withLock { script = answers }
    }

    /// When set, decides every answer from the call (after the script); runs under the lock.
    var decide: (@Sendable (Call, Int) -> Answer)?

    /// The daemon looks customers' profile pictures up on each new session
    /// (`getUserProfilePhotos`, LINE's `/v2/bot/profile/`, Messenger's
    /// `fields=profile_pic`). Unless a test answers them (`profiles`), those
    /// calls get a 404, are not recorded and take nothing from the script, so
    /// suites about deliveries see only deliveries.
    var profiles: (@Sendable (Call) -> Answer)?

    static func isProfileLookup(path: String, query: String) -> Bool {
        path.hasSuffix("/getUserProfilePhotos") || path.contains("/v2/bot/profile/") || query.contains("fields=profile_pic")
    }

    func answer(_ request: Request, body: Data) -> Answer {
        lock.withLock {
            let path = request.uri.path, query = request.uri.query ?? ""
            if Self.isProfileLookup(path: path, query: query) {
                let call = Call(
                    method: request.method.rawValue, path: path, query: query,
                    headers: request.headers.map { ($0.name.rawName, $0.value) }, body: body, at: ContinuousClock().now)
                guard let profiles else { return Answer(status: 404, body: #"{"ok":false,"description":"Not Found"}"#) }
                profileCalls.append(call)
                return profiles(call)
            }
            let call = Call(
                method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                headers: request.headers.map { ($0.name.rawName, $0.value) }, body: body, at: ContinuousClock().now)
            recorded.append(call)
            if !script.isEmpty { return script.removeFirst() }
            if let decide {
                counter += 1
                return decide(call, counter)
            }
            counter += 1
            return defaultAnswer(request.uri.path, counter)
        }
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    func start() async throws {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { [self] request, _ in
            let buffer = try await request.body.collect(upTo: 10 << 20)
            let answer = answer(request, body: Data(buffer: buffer))
            if answer.delay > .zero { try? await Task.sleep(for: answer.delay) }
            var headers: HTTPFields = [.contentType: answer.contentType]
            for (name, value) in answer.headers { headers.append(.init(name: .init(name)!, value: value)) }
            return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
        }
        router.post("/**", use: handler)
        router.get("/**", use: handler)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger("fake"))
        task = Task { try await app.runService(gracefulShutdownSignals: []) }
        for await port in ports {
            self.port = port
            break
        }
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
    }
}

typealias FakeTelegram = FakeNetwork

/// omnichatd in this process, on a free loopback port, with its own SQLite
/// file and adapters.d.
final class TestDaemon: @unchecked Sendable {
    let directory: URL
    var configuration: DaemonConfiguration
    private(set) var daemon: Omnichat!
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?
    private(set) var port = 0

    var base: String { "http://127.0.0.1:\(port)" }
    var store: any TestStore { daemon.store as! any TestStore }

    init(directory: URL? = nil, channels: [String: String], configure: (inout DaemonConfiguration) -> Void = { _ in }) throws {
        self.directory = try directory ?? temporaryDirectory()
        let adapters = self.directory.appendingPathComponent("adapters.d")
        try FileManager.default.createDirectory(at: adapters, withIntermediateDirectories: true)
        for (name, text) in channels {
            try text.write(to: adapters.appendingPathComponent("\(name).toml"), atomically: true, encoding: .utf8)
        }
        var configuration = DaemonConfiguration()
        configuration.port = 0
        configuration.database = TestEngine.database(in: self.directory)
        configuration.adapters = adapters.path
        configuration.bcryptCost = 4
        configuration.deliveryBackoffBaseSeconds = 0.05
        configuration.postgresPoolSize = 4
        configuration.allowPrivateNetworks = true  // the tests' fake networks and webhooks listen on loopback
        configure(&configuration)
        self.configuration = configuration
    }

    static func telegramChannel(apiBase: String, secret: String = "test-secret") -> String {
        """
        kind = "telegram"
        token = "123456:TEST-token"
        secret_token = "\(secret)"
        api_base = "\(apiBase)"
        """
    }

    func start() async throws {
        daemon = try await Omnichat.make(configuration: configuration, logger: quietLogger("omnichatd"))
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let group = daemon.makeServiceGroup(onServerRunning: { continuation.yield($0) }, signals: false)
        self.group = group
        task = Task { try await group.run() }
        for await port in ports {
            self.port = port
            break
        }
    }

    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
        await daemon?.close()
        await daemon?.store.close()
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Creates a user straight in the store and signs them in through the API.
    func signIn(email: String, role: Role = .agent, channels: [String]? = nil, maxOpenRooms: Int? = nil, online: Bool = true) async throws -> (User, String) {
        let user = try await store.createUser(
            NewUser(email: email, name: email.components(separatedBy: "@")[0], role: role,
                    passwordHash: Authenticator.hashPassword("password-\(email)", cost: 4), channels: channels, maxOpenRooms: maxOpenRooms))
        let login = try await call("POST", "\(base)/api/v1/auth/login", json: ["email": email, "password": "password-\(email)"])
        #expect(login.status == 200)
        let token = try #require(login["token"] as? String)
        if online {
            let status = try await call("PUT", "\(base)/api/v1/me/status", json: ["online": true], token: token)
            #expect(status.status == 200)
        }
        return (user, token)
    }

    func postUpdate(_ body: Data, channel: String = "tg", secret: String? = "test-secret") async throws -> HTTPResult {
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if let secret { headers.append(("X-Telegram-Bot-Api-Secret-Token", secret)) }
        return try await call("POST", "\(base)/webhooks/\(channel)", body: body, headers: headers)
    }
}

/// A plain TCP socket connected to 127.0.0.1:`port` (tests that must write
/// what no HTTP client would); nil when the connection is refused.
/// A TCP connection to 127.0.0.1; `receiveBuffer` sets SO_RCVBUF before connecting (the window a peer may fill).
func connectLoopback(port: Int, receiveBuffer: Int32? = nil) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    return fd
}

extension Optional where Wrapped == Any {
    /// An id as the API writes it: a JSON number (nil for anything else, a string included).
    var asID: Int64? {
        guard let number = self as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        let value = number.int64Value
        return value > 0 && Double(value) == number.doubleValue ? value : nil
    }

    /// A list of ids as the API writes it.
    var asIDs: [Int64]? {
        guard let list = self as? [Any] else { return nil }
        let ids = list.compactMap { Optional<Any>.some($0).asID }
        return ids.count == list.count ? ids : nil
    }
}

extension Int64 {
    /// Tests wait for an id to appear; 0 is "none yet" (ids start at 1).
    var isEmpty: Bool { self == 0 }
}
