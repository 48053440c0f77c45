import Foundation

/// An outbound HTTP call described as data: adapters produce these, the
/// delivery module performs them. No I/O happens where one is built.
public struct HTTPRequestDescription: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: Data
    /// A response body larger than this fails the call (media downloads are capped).
    public var maxResponseBytes: Int?
    /// The URL came from an API caller or a customer (an attachment, a webhook
    /// URL set through the API), not from the operator's files: the transport
    /// refuses to connect to a private, loopback, link-local or metadata
    /// address unless private networks are allowed (`[outbound]`).
    public var publicAddressesOnly = false

    public init(
        method: String = "POST", url: String, headers: [(name: String, value: String)] = [], body: Data = Data(),
        maxResponseBytes: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.maxResponseBytes = maxResponseBytes
    }

    public static func json(url: String, object: Any, headers: [(name: String, value: String)] = []) -> HTTPRequestDescription {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return HTTPRequestDescription(
            method: "POST", url: url, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    public static func == (lhs: HTTPRequestDescription, rhs: HTTPRequestDescription) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.body == rhs.body
            && lhs.headers.map { "\($0.name):\($0.value)" } == rhs.headers.map { "\($0.name):\($0.value)" }
    }
}

public struct HTTPResponseDescription: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Data

    public init(status: Int, headers: [(name: String, value: String)] = [], body: Data = Data()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { headerNamesMatch($0.name, name) }?.value
    }
}

/// A webhook request as received: the raw body bytes (signatures are computed
/// over these exact bytes) and the headers.
public struct WebhookRequest: Sendable {
    public var method: String
    public var headers: [(name: String, value: String)]
    public var query: [String: String]
    public var body: Data
    /// When the request arrived (for signatures that carry a timestamp).
    public var receivedAt: Date

    public init(
        method: String = "POST", headers: [(name: String, value: String)], query: [String: String] = [:], body: Data,
        receivedAt: Date = Date()
    ) {
        self.method = method
        self.headers = headers
        self.query = query
        self.body = body
        self.receivedAt = receivedAt
    }

    public func header(_ name: String) -> String? {
        headers.first { headerNamesMatch($0.name, name) }?.value
    }
}

/// Performs HTTP calls. The delivery module implements it over libcurl.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequestDescription, timeout: Duration) async throws -> HTTPResponseDescription
}

/// A transport-level failure (no HTTP response was received).
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case timeout, connection, invalidRequest, shutdown, tooLarge, privateAddress }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind.rawValue): \(message)" }
}

/// Header names compare ASCII case-insensitively (Foundation's
/// `caseInsensitiveCompare` went through CFString on every lookup).
func headerNamesMatch(_ a: String, _ b: String) -> Bool {
    var left = a.utf8.makeIterator()
    var right = b.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil): return true
        case (let x?, let y?):
            if x == y { continue }
            let lx = (x >= 0x41 && x <= 0x5A) ? x | 0x20 : x
            let ly = (y >= 0x41 && y <= 0x5A) ? y | 0x20 : y
            if lx != ly { return false }
        default: return false
        }
    }
}

extension StringProtocol where UTF8View: BidirectionalCollection {
    /// The value without leading and trailing spaces and tabs: HTTP's optional
    /// whitespace around a header value. Foundation's
    /// `trimmingCharacters(in: .whitespaces)` went through NSString on Linux
    /// and cost more than the HMAC it guarded.
    public func trimmingHTTPWhitespace() -> String {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while end > start {
            let last = bytes.index(before: end)
            guard bytes[last] == 0x20 || bytes[last] == 0x09 else { break }
            end = last
        }
        return String(self[start..<end])
    }
}
