import Foundation

/// Finds where values lie in a JSON document, as byte ranges of the document
/// itself, so each event's `raw` can be the exact bytes the network sent (one
/// request may batch many events) rather than a re-encoding.
///
/// Only walks what it is asked for, without recursion; meant to run after the
/// body decoded, and answers `nil` for anything it does not understand (callers
/// then fall back, usually to the whole body). Lookups chain, with `nil`
/// flowing through:
///
/// ```swift
/// let raw = RawJSON(request.body)
/// let events = raw.elements(raw.value("events", in: raw.root))  // [Range<Int>]?
/// let first = events?.first.map(raw.text)                       // the first event's JSON, byte for byte
/// ```
///
/// Used by LINE and the custom channel (`events[]`), Messenger
/// (`entry[].messaging[]`) and WhatsApp (`entry[].changes[].value.messages[]`
/// and `.statuses[]`).
struct RawJSON {
    /// The document, as received.
    let bytes: [UInt8]

    init(_ data: Data) {
        bytes = Array(data)
    }

    /// The whole document's value (without surrounding whitespace); nil when
    /// the document holds no value or ends inside it.
    var root: Range<Int>? {
        let start = skipWhitespace(0)
        guard let end = valueEnd(start) else { return nil }
        return start..<end
    }

    /// The bytes at `range` as a string (invalid UTF-8 repaired, as `String(decoding:as:)` does).
    func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The value of `key` in the object at `range`: nil when `range` is nil or
    /// not an object, or when the key is absent. Keys are compared after
    /// unescaping (`"a\u0062"` is `ab`); with a repeated key, the first wins.
    func value(_ key: String, in range: Range<Int>?) -> Range<Int>? {
        guard let range, let members = members(range) else { return nil }
        let wanted = Array(key.utf8)
        return members.first { self.key($0.key, equals: wanted) }?.value
    }

    /// The elements of the array at `range`, in order, each without surrounding
    /// whitespace; nil when `range` is nil or not an array.
    func elements(_ range: Range<Int>?) -> [Range<Int>]? {
        guard let range, range.lowerBound < bytes.count, bytes[range.lowerBound] == UInt8(ascii: "[") else { return nil }
        var result: [Range<Int>] = []
        var i = skipWhitespace(range.lowerBound + 1)
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { return result }
        while i < range.upperBound {
            guard let end = valueEnd(i) else { return nil }
            result.append(i..<end)
            i = skipWhitespace(end)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "]") { return result }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipWhitespace(i + 1)
        }
        return nil
    }

    /// The (key, value) ranges of the object at `range`; keys include their quotes.
    private func members(_ range: Range<Int>) -> [(key: Range<Int>, value: Range<Int>)]? {
        guard range.lowerBound < bytes.count, bytes[range.lowerBound] == UInt8(ascii: "{") else { return nil }
        var result: [(key: Range<Int>, value: Range<Int>)] = []
        var i = skipWhitespace(range.lowerBound + 1)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return result }
        while i < range.upperBound {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let keyEnd = stringEnd(i) else { return nil }
            var j = skipWhitespace(keyEnd)
            guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { return nil }
            j = skipWhitespace(j + 1)
            guard let valueEnd = valueEnd(j) else { return nil }
            result.append((i..<keyEnd, j..<valueEnd))
            i = skipWhitespace(valueEnd)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "}") { return result }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipWhitespace(i + 1)
        }
        return nil
    }

    private func key(_ range: Range<Int>, equals wanted: [UInt8]) -> Bool {
        let inner = bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
        if !inner.contains(UInt8(ascii: "\\")) { return inner.elementsEqual(wanted) }
        // An escaped key: let Foundation decode it.
        let decoded = (try? JSONSerialization.jsonObject(with: Data(bytes[range]), options: [.fragmentsAllowed])) as? String
        return decoded.map { Array($0.utf8) == wanted } ?? false
    }

    private func skipWhitespace(_ start: Int) -> Int { jsonWhitespaceEnd(bytes, from: start) }

    /// The index just past the string starting at `start` (a quote).
    private func stringEnd(_ start: Int) -> Int? {
        var i = start + 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index just past the value starting at `start`, without recursion.
    private func valueEnd(_ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return stringEnd(start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let end = stringEnd(i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                    return i == start ? nil : i
                default:
                    i += 1
                }
            }
            return i == start ? nil : i
        }
    }
}
