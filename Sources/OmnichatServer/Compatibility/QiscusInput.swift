import Foundation
import Hummingbird
import OmnichatCore

/// A request's fields as services written for the hosted product send them:
/// a JSON object, a form (`application/x-www-form-urlencoded`), or
/// `multipart/form-data`, with the query string filling what the body lacks.
/// Repeated `key[]=` fields and JSON arrays both read as lists.
struct QiscusInput: Sendable {
    /// JSON values (strings, numbers, booleans, arrays, objects) or form strings / lists of strings.
    private(set) var values: [String: any Sendable] = [:]

    static let limit = 1 << 16

    init(values: [String: any Sendable]) { self.values = values }

    init(_ request: Request) async throws {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.limit)
        } catch {
            throw APIError(.contentTooLarge, "too_large", "request body is larger than \(Self.limit) bytes")
        }
        let data = Data(buffer: buffer)
        let type = request.headers[.contentType]?.lowercased() ?? ""
        if type.hasPrefix("multipart/form-data") {
            guard let boundary = Self.boundary(type: request.headers[.contentType] ?? "") else {
                throw APIError.badRequest("multipart/form-data needs a boundary")
            }
            for (name, value) in Self.multipart(data, boundary: boundary) { add(name, value) }
        } else if let first = data.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") {
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw APIError.badRequest("request body is not valid JSON")
            }
            for (key, value) in object { values[key] = Self.sendable(value) }
        } else if !data.isEmpty {
            for pair in String(decoding: data, as: UTF8.self).split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
                }
                add(parts[0], parts.count == 2 ? parts[1] : "")
            }
        }
        var query = QiscusInput(values: [:])
        for (key, value) in APIRoutes.Query(request).pairs { query.add(key, value) }
        for (key, value) in query.values where values[key] == nil { values[key] = value }
    }

    /// `key[]` fields gather into the list `key`.
    mutating func add(_ name: String, _ value: String) {
        if name.hasSuffix("[]") {
            let key = String(name.dropLast(2))
            values[key] = ((values[key] as? [String]) ?? []) + [value]
        } else {
            values[name] = value
        }
    }

    /// A field as text (numbers and booleans as JSON writes them); nil when absent, null or empty.
    func string(_ key: String) -> String? {
        switch values[key] {
        case let text as String: return text.isEmpty ? nil : text
        case let number as NSNumber:
            return JSONBody.isBool(number) ? (number.boolValue ? "true" : "false") : number.stringValue
        default: return nil
        }
    }

    /// A field's raw value (JSON arrays and objects included).
    subscript(_ key: String) -> Any? { values[key] }

    /// A list: a JSON array, repeated `key[]=` fields, or one comma-separated value.
    /// The value as given: a JSON body's object or list, or a form's text.
    func value(_ key: String) -> (any Sendable)? { values[key] }

    func list(_ key: String) -> [String] {
        switch values[key] {
        case let list as [String]: return list.filter { !$0.isEmpty }
        case let list as [any Sendable]:
            return list.compactMap { QiscusInput(values: ["v": $0]).string("v") }
        default:
            return string(key).map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } } ?? []
        }
    }

    /// true / "true" / "1" / "yes".
    func flag(_ key: String) -> Bool { ["true", "1", "yes"].contains(string(key)?.lowercased() ?? "") }

    /// A positive integer field within bounds, or `otherwise` when absent; 422 when it is not one.
    func int(_ key: String, otherwise: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(key) else { return otherwise }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.unprocessable("'\(key)' must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// All fields as text, as the older routes read them.
    var strings: [String: String] {
        var out: [String: String] = [:]
        for key in values.keys { if let value = string(key) { out[key] = value } }
        return out
    }

    static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let text as String: return text
        case let number as NSNumber: return number
        case let list as [Any]: return list.map(sendable)
        case let object as [String: Any]: return object.mapValues(sendable)
        default: return NSNull()
        }
    }

    static func boundary(type: String) -> String? {
        for part in type.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty ? nil : value
            }
        }
        return nil
    }

    /// The text fields of a multipart body (files are not taken).
    static func multipart(_ data: Data, boundary: String) -> [(String, String)] {
        let bytes = [UInt8](data)
        let delimiter = [UInt8](("--" + boundary).utf8)
        var out: [(String, String)] = []
        var starts: [Int] = []
        var i = 0
        while i + delimiter.count <= bytes.count {
            if bytes[i] == delimiter[0], Array(bytes[i..<i + delimiter.count]) == delimiter {
                starts.append(i)
                i += delimiter.count
            } else {
                i += 1
            }
        }
        for (n, start) in starts.enumerated() where n + 1 < starts.count {
            var part = Array(bytes[(start + delimiter.count)..<starts[n + 1]])
            if part.starts(with: [0x0D, 0x0A]) { part.removeFirst(2) }
            if part.suffix(2) == [0x0D, 0x0A] { part.removeLast(2) }
            let separator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
            guard let split = (0...(max(0, part.count - 4))).first(where: { part.count >= 4 && Array(part[$0..<$0 + 4]) == separator }) else {
                continue
            }
            let headers = String(decoding: part[..<split], as: UTF8.self)
            let body = String(decoding: part[(split + 4)...], as: UTF8.self)
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                !disposition.lowercased().contains("filename="),
                let nameRange = disposition.range(of: "name=\"")
            else { continue }
            let rest = disposition[nameRange.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            out.append((String(rest[..<end]), body))
        }
        return out
    }
}

/// The hosted product's route space, for naming what is not supported.
enum QiscusEndpoints {
    static let prefixes = [
        "/api/v1/admin/", "/api/v2/admin/", "/api/v1/agent/", "/api/v2/agent/", "/api/v1/qiscus/", "/api/v1/app/", "/api/v2/app/",
        "/api/v1/room_tag", "/api/v2/customer_rooms", "/api/v1/customer_rooms", "/api/v2/divisions", "/api/v3/",
    ]

    static func isHostedProduct(_ path: String) -> Bool {
        prefixes.contains { path.hasPrefix($0) } || path.hasSuffix("/bot") || path.hasPrefix("/bot/")
    }
}
