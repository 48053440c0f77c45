import Foundation
import OmnichatCore

extension LiveEvent {
    /// An event of the shared log read without JSONSerialization, when its
    /// body has the shape `logBody` writes: type, time, the data object (kept
    /// as the text it is, never parsed and written again), room, audience.
    /// Every daemon reads every event of the log, so this runs once per event
    /// per daemon. Any other shape (a string with escapes in the type, keys in
    /// another order) gives nil, and the general reader takes it.
    static func fromLogBody(_ logged: LoggedEvent) -> LiveEvent? {
        var scanner = LogBodyScanner(bytes: Array(logged.body.utf8))
        guard scanner.take("{\"type\":"), let type = scanner.plainString(), scanner.take(",\"at\":"), let at = scanner.number(),
            scanner.take(",\"data\":"), let data = scanner.object()
        else { return nil }
        var roomID: Int64?
        var audience: Int64?
        if scanner.take(",\"room_id\":") {
            guard let value = scanner.integer() else { return nil }
            roomID = value
        }
        if scanner.take(",\"audience\":") {
            guard let value = scanner.integer() else { return nil }
            audience = value
        }
        guard scanner.take("}"), scanner.atEnd else { return nil }
        return LiveEvent(
            id: logged.id, type: type, roomID: roomID, audience: audience, data: [:], at: Date(timeIntervalSince1970: at), dataJSON: data)
    }
}

/// A forward-only reader of one log body's bytes.
struct LogBodyScanner {
    let bytes: [UInt8]
    var index = 0

    var atEnd: Bool { index == bytes.count }

    mutating func take(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { expected in
            for offset in 0..<count where bytes[index + offset] != expected[offset] { return false }
            return true
        }
        if matches { index += count }
        return matches
    }

    /// A string without escapes (an event type).
    mutating func plainString() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        var end = index + 1
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            if bytes[end] == UInt8(ascii: "\\") || bytes[end] < 0x20 { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        defer { index = end + 1 }
        return String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
    }

    mutating func number() -> Double? {
        let start = index
        while index < bytes.count, Self.numberBytes.contains(bytes[index]) { index += 1 }
        return index > start ? Double(String(decoding: bytes[start..<index], as: UTF8.self)) : nil
    }

    mutating func integer() -> Int64? {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index > start ? Int64(String(decoding: bytes[start..<index], as: UTF8.self)) : nil
    }

    /// A JSON object's text, braces matched outside strings.
    mutating func object() -> String? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        var depth = 0
        var inString = false
        var escaped = false
        var end = index
        while end < bytes.count {
            let byte = bytes[end]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                depth += 1
            } else if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 {
                    defer { index = end + 1 }
                    return String(decoding: bytes[index...end], as: UTF8.self)
                }
            }
            end += 1
        }
        return nil
    }

    private static let numberBytes: Set<UInt8> = Set("0123456789.eE+-".utf8)
}
