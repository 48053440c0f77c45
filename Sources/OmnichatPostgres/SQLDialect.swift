import Foundation

/// Rewrites the shared logic's SQLite SQL into PostgreSQL's, once per
/// distinct statement text (the cache keeps the result). The rules cover what
/// the shared statements use; the store tests run every statement on both
/// engines, so a construct this misses fails a test rather than production.
final class SQLDialect: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [String: String] = [:]

    func translate(_ sql: String) -> String {
        lock.lock()
        if let hit = cache[sql] {
            lock.unlock()
            return hit
        }
        lock.unlock()
        let out = Self.rewrite(sql)
        lock.lock()
        if cache.count > 4096 { cache.removeAll() }
        cache[sql] = out
        lock.unlock()
        return out
    }

    static func rewrite(_ sql: String) -> String {
        var s = placeholders(sql)
        if let range = s.range(of: "INSERT OR IGNORE INTO", options: .caseInsensitive) {
            s.replaceSubrange(range, with: "INSERT INTO")
            s = appendBeforeReturning(s, " ON CONFLICT DO NOTHING")
        }
        s = removeIndexedBy(s)
        s = replaceCall(s, name: "group_concat") { args in "string_agg(\(args.joined(separator: ", ")), ',')" }
        s = replaceCall(s, name: "max") { args in args.count == 2 ? "greatest(\(args[0]), \(args[1]))" : nil }
        s = replaceCall(s, name: "min") { args in args.count == 2 ? "least(\(args[0]), \(args[1]))" : nil }
        s = replaceCall(s, name: "ifnull") { args in "coalesce(\(args.joined(separator: ", ")))" }
        s = replaceCall(s, name: "date") { args in
            args.count == 2 && args[1] == "'unixepoch'"
                ? "to_char(to_timestamp(\(args[0])) AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : nil
        }
        s = replaceCall(s, name: "json_each") { args in "json_array_elements_text(CAST(\(args[0]) AS json))" }
        s = collateNocase(s)
        return s
    }

    /// `?` → `$1, $2, …` in order; `?N` → `$N`; outside quoted strings.
    static func placeholders(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.count + 16)
        var n = 0
        var inQuote = false
        var chars = Array(sql)[...]
        while let c = chars.popFirst() {
            if c == "'" { inQuote.toggle() }
            if c == "?" && !inQuote {
                var digits = ""
                while let d = chars.first, d.isNumber {
                    digits.append(d)
                    chars = chars.dropFirst()
                }
                if digits.isEmpty {
                    n += 1
                    out += "$\(n)"
                } else {
                    out += "$" + digits
                }
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func appendBeforeReturning(_ sql: String, _ clause: String) -> String {
        if let r = sql.range(of: "RETURNING", options: [.caseInsensitive, .backwards]) {
            var s = sql
            s.insert(contentsOf: clause + " ", at: r.lowerBound)
            return s
        }
        var s = sql
        while s.last == ";" || s.last == " " || s.last == "\n" { s.removeLast() }
        return s + clause
    }

    static func removeIndexedBy(_ sql: String) -> String {
        var s = sql
        while let r = s.range(of: "INDEXED BY ", options: .caseInsensitive) {
            var end = r.upperBound
            while end < s.endIndex, s[end].isLetter || s[end].isNumber || s[end] == "_" { end = s.index(after: end) }
            s.removeSubrange(r.lowerBound..<end)
        }
        return s
    }

    /// `x COLLATE NOCASE` → `lower(x)` (the case-insensitive columns are citext).
    static func collateNocase(_ sql: String) -> String {
        var s = sql
        while let r = s.range(of: " COLLATE NOCASE", options: .caseInsensitive) {
            var start = r.lowerBound
            while start > s.startIndex {
                let p = s.index(before: start)
                if s[p].isLetter || s[p].isNumber || s[p] == "_" || s[p] == "." { start = p } else { break }
            }
            let operand = String(s[start..<r.lowerBound])
            s.replaceSubrange(start..<r.upperBound, with: "lower(\(operand))")
        }
        return s
    }

    /// Rewrites calls of `name(…)` (a whole word, any case) whose rewrite is
    /// not nil; arguments are split at top-level commas.
    static func replaceCall(_ sql: String, name: String, _ rewrite: ([String]) -> String?) -> String {
        var s = sql
        var searchFrom = s.startIndex
        while let r = s.range(of: name + "(", options: .caseInsensitive, range: searchFrom..<s.endIndex) {
            if r.lowerBound > s.startIndex {
                let p = s[s.index(before: r.lowerBound)]
                if p.isLetter || p.isNumber || p == "_" || p == "." {
                    searchFrom = r.upperBound
                    continue
                }
            }
            var depth = 1
            var i = r.upperBound
            var args: [String] = []
            var current = ""
            var inQuote = false
            while i < s.endIndex {
                let c = s[i]
                if c == "'" { inQuote.toggle() }
                if !inQuote {
                    if c == "(" { depth += 1 }
                    if c == ")" {
                        depth -= 1
                        if depth == 0 { break }
                    }
                    if c == "," && depth == 1 {
                        args.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                        current = ""
                        i = s.index(after: i)
                        continue
                    }
                }
                current.append(c)
                i = s.index(after: i)
            }
            guard i < s.endIndex else { break }
            args.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
            // Inner calls first.
            let innerRewritten = args.map { replaceCall($0, name: name, rewrite) }
            if let replacement = rewrite(innerRewritten) {
                s.replaceSubrange(r.lowerBound...i, with: replacement)
                searchFrom = s.index(r.lowerBound, offsetBy: replacement.count, limitedBy: s.endIndex) ?? s.endIndex
            } else {
                let rebuilt = s[r.lowerBound..<r.upperBound] + innerRewritten.joined(separator: ", ") + ")"
                s.replaceSubrange(r.lowerBound...i, with: rebuilt)
                searchFrom = s.index(r.lowerBound, offsetBy: rebuilt.count, limitedBy: s.endIndex) ?? s.endIndex
            }
        }
        return s
    }
}
