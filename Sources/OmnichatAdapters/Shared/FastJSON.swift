import Foundation

/// A strict JSON reader for the common shapes of webhook bodies: one pass over
/// the bytes into a flat list of nodes, values read only when asked for.
///
/// Why: decoding a plain text message through `JSONDecoder` and `Codable` cost
/// most of an adapter's time (about 9 of 14 µs a webhook, `omnichat-bench
/// parse`), nearly all of it in Codable's generic machinery, not in parsing.
/// Each adapter reads its most frequent payload (a text message) from this
/// reader into the same model types and falls back to `JSONDecoder` for
/// everything else, so the fast path only ever decides cases that are plainly
/// valid and fully understood.
///
/// `init` answers nil, and the caller falls back, for anything this reader
/// does not handle exactly as `JSONDecoder` would: invalid JSON of any kind, a
/// root that is not an object, escaped or repeated keys, invalid UTF-8.
struct FastJSON {
    enum Kind: UInt8 { case object, array, string, number, bool, null }

    struct Node {
        var kind: Kind
        /// Bytes of the value (a string's without its quotes).
        var start: Int
        var end: Int
        /// Members (objects: key and value nodes, in pairs) or elements (arrays).
        var count: Int
        /// The index just past this node's subtree.
        var next: Int
        /// A string holding escapes (decoded on read).
        var escaped: Bool
    }

    let bytes: [UInt8]
    private(set) var nodes: [Node] = []

    /// The root object's index.
    let root = 0

    init?(_ data: Data) {
        bytes = Array(data)
        nodes.reserveCapacity(32)
        var i = skipSpace(0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{"), parseValue(&i, depth: 0) else { return nil }
        guard skipSpace(i) == bytes.count else { return nil }
    }

    // MARK: Reading

    func kind(_ node: Int) -> Kind { nodes[node].kind }

    /// The value of `key` in the object `node`; nil when absent (or `node` is not an object).
    func member(_ node: Int, _ key: StaticString) -> Int? {
        guard nodes[node].kind == .object else { return nil }
        let wanted = UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        var i = node + 1
        for _ in 0..<nodes[node].count {
            let k = nodes[i]
            if k.end - k.start == wanted.count, bytes[k.start..<k.end].elementsEqual(wanted) { return i + 1 }
            i = nodes[i + 1].next
        }
        return nil
    }

    /// The keys of the object `node`, as bytes (keys never hold escapes here).
    func keys(_ node: Int) -> [ArraySlice<UInt8>] {
        guard nodes[node].kind == .object else { return [] }
        var out: [ArraySlice<UInt8>] = []
        var i = node + 1
        for _ in 0..<nodes[node].count {
            out.append(bytes[nodes[i].start..<nodes[i].end])
            i = nodes[i + 1].next
        }
        return out
    }

    /// The elements of the array `node`.
    func elements(_ node: Int) -> [Int]? {
        guard nodes[node].kind == .array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(nodes[node].count)
        var i = node + 1
        for _ in 0..<nodes[node].count {
            out.append(i)
            i = nodes[i].next
        }
        return out
    }

    func isNull(_ node: Int) -> Bool { nodes[node].kind == .null }

    func bool(_ node: Int) -> Bool? {
        nodes[node].kind == .bool ? bytes[nodes[node].start] == UInt8(ascii: "t") : nil
    }

    /// A string value, unescaped.
    func string(_ node: Int) -> String? {
        let n = nodes[node]
        guard n.kind == .string else { return nil }
        if !n.escaped { return String(decoding: bytes[n.start..<n.end], as: UTF8.self) }
        return unescape(n.start, n.end)
    }

    /// An integer written without fraction or exponent, within Int64.
    func int64(_ node: Int) -> Int64? {
        let n = nodes[node]
        guard n.kind == .number else { return nil }
        var negative = false
        var i = n.start
        if bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var value: Int64 = 0
        while i < n.end {
            let digit = bytes[i] &- 0x30
            guard digit < 10 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(Int64(digit)) : times.addingReportingOverflow(Int64(digit))
            guard !o1, !o2 else { return nil }
            value = sum
            i += 1
        }
        return value
    }

    // MARK: Parsing

    private func skipSpace(_ start: Int) -> Int { jsonWhitespaceEnd(bytes, from: start) }

    private mutating func parseValue(_ i: inout Int, depth: Int) -> Bool {
        guard depth <= WebhookLimits.maxDepth, i < bytes.count else { return false }
        switch bytes[i] {
        case UInt8(ascii: "{"): return parseObject(&i, depth: depth)
        case UInt8(ascii: "["): return parseArray(&i, depth: depth)
        case UInt8(ascii: "\""): return parseString(&i)
        case UInt8(ascii: "t"): return literal(&i, "true", .bool)
        case UInt8(ascii: "f"): return literal(&i, "false", .bool)
        case UInt8(ascii: "n"): return literal(&i, "null", .null)
        default: return parseNumber(&i)
        }
    }

    private mutating func literal(_ i: inout Int, _ word: StaticString, _ kind: Kind) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count,
            bytes[i..<(i + count)].elementsEqual(UnsafeRawBufferPointer(start: word.utf8Start, count: count))
        else { return false }
        nodes.append(Node(kind: kind, start: i, end: i + count, count: 0, next: nodes.count + 1, escaped: false))
        i += count
        return true
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func parseNumber(_ i: inout Int) -> Bool {
        let start = i
        func digits(_ j: inout Int) -> Int {
            let from = j
            while j < bytes.count, bytes[j] &- 0x30 < 10 { j += 1 }
            return j - from
        }
        var j = i
        if j < bytes.count, bytes[j] == UInt8(ascii: "-") { j += 1 }
        guard j < bytes.count else { return false }
        if bytes[j] == UInt8(ascii: "0") {
            j += 1
        } else {
            guard digits(&j) > 0 else { return false }
        }
        var integer = true
        if j < bytes.count, bytes[j] == UInt8(ascii: ".") {
            integer = false
            j += 1
            guard digits(&j) > 0 else { return false }
        }
        if j < bytes.count, bytes[j] == UInt8(ascii: "e") || bytes[j] == UInt8(ascii: "E") {
            integer = false
            j += 1
            if j < bytes.count, bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-") { j += 1 }
            guard digits(&j) > 0 else { return false }
        }
        // A number no Double can hold (1e999): Foundation's parsers refuse the document.
        if !integer || j - start > 18 {
            guard let value = Double(String(decoding: bytes[start..<j], as: UTF8.self)), value.isFinite else { return false }
        }
        nodes.append(Node(kind: .number, start: start, end: j, count: 0, next: nodes.count + 1, escaped: false))
        i = j
        return true
    }

    private mutating func parseString(_ i: inout Int) -> Bool {
        let start = i + 1
        var j = start
        var escaped = false
        var ascii = true
        while j < bytes.count {
            let b = bytes[j]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { return false }  // control characters must be escaped
            if b == UInt8(ascii: "\\") {
                escaped = true
                j += 2
                continue
            }
            if b >= 0x80 { ascii = false }
            j += 1
        }
        guard j < bytes.count else { return false }
        if !ascii {
            // Valid UTF-8 decodes to the very same bytes; anything repaired differs.
            let slice = bytes[start..<j]
            guard String(decoding: slice, as: UTF8.self).utf8.elementsEqual(slice) else { return false }
        }
        nodes.append(Node(kind: .string, start: start, end: j, count: 0, next: nodes.count + 1, escaped: escaped))
        if escaped, unescape(start, j) == nil { return false }
        i = j + 1
        return true
    }

    /// An array or an object: its node, then its elements (objects: a key
    /// without escapes, then its value), comma-separated up to the closing bracket.
    private mutating func parseContainer(_ i: inout Int, depth: Int, kind: Kind) -> Bool {
        let index = nodes.count
        let close = kind == .object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        nodes.append(Node(kind: kind, start: i, end: i, count: 0, next: 0, escaped: false))
        var j = skipSpace(i + 1)
        var count = 0
        if j < bytes.count, bytes[j] == close {
            j += 1
        } else {
            while true {
                if kind == .object {
                    guard j < bytes.count, bytes[j] == UInt8(ascii: "\""), parseString(&j), !nodes[nodes.count - 1].escaped else { return false }
                    j = skipSpace(j)
                    guard j < bytes.count, bytes[j] == UInt8(ascii: ":") else { return false }
                    j = skipSpace(j + 1)
                }
                guard parseValue(&j, depth: depth + 1) else { return false }
                count += 1
                j = skipSpace(j)
                guard j < bytes.count else { return false }
                if bytes[j] == close {
                    j += 1
                    break
                }
                guard bytes[j] == UInt8(ascii: ",") else { return false }
                j = skipSpace(j + 1)
            }
        }
        nodes[index].end = j
        nodes[index].count = count
        nodes[index].next = nodes.count
        i = j
        return true
    }

    private mutating func parseArray(_ i: inout Int, depth: Int) -> Bool {
        parseContainer(&i, depth: depth, kind: .array)
    }

    private mutating func parseObject(_ i: inout Int, depth: Int) -> Bool {
        let index = nodes.count
        guard parseContainer(&i, depth: depth, kind: .object) else { return false }
        // A repeated key: which one wins is the decoder's business, not ours.
        let names = keys(index)
        if names.count > 1 {
            for a in 0..<(names.count - 1) {
                for b in (a + 1)..<names.count where names[a].elementsEqual(names[b]) { return false }
            }
        }
        return true
    }

    /// A string's content with its escapes decoded; nil for an invalid escape
    /// or a lone surrogate.
    private func unescape(_ start: Int, _ end: Int) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var i = start
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= end else { return nil }
            var value: UInt32 = 0
            for k in at..<(at + 4) {
                let b = bytes[k]
                let digit: UInt8
                switch b {
                case 0x30...0x39: digit = b - 0x30
                case 0x41...0x46: digit = b - 0x41 + 10
                case 0x61...0x66: digit = b - 0x61 + 10
                default: return nil
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }
        while i < end {
            let b = bytes[i]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < end else { return nil }
            switch bytes[i + 1] {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(i + 2) else { return nil }
                i += 6
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < end, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                        let low = hex4(i + 2), (0xDC00...0xDFFF).contains(low)
                    else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    return nil
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                UTF8.encode(unicode) { out.append($0) }
                continue
            default:
                return nil
            }
            i += 2
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The index of the first byte at or after `start` that is not JSON
/// whitespace (space, tab, line feed, carriage return).
func jsonWhitespaceEnd(_ bytes: [UInt8], from start: Int) -> Int {
    var i = start
    while i < bytes.count {
        switch bytes[i] {
        case 0x20, 0x09, 0x0A, 0x0D: i += 1
        default: return i
        }
    }
    return i
}
