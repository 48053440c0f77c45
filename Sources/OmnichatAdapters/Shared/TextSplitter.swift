import Foundation

enum TextSplitter {
    /// Splits `text` into parts of at most `limit` UTF-16 units, in order,
    /// preferring to cut after a newline, then after a space, never inside a
    /// character. Nothing is dropped: joining the parts gives the text back.
    static func split(_ text: String, limit: Int) -> [String] {
        precondition(limit > 0)
        if text.utf16.count <= limit { return [text] }
        var parts: [String] = []
        var rest = Substring(text)
        while rest.utf16.count > limit {
            // Largest prefix of whole characters within the limit.
            var end = rest.startIndex
            var units = 0
            var index = rest.startIndex
            while index < rest.endIndex {
                let next = rest.index(after: index)
                let width = rest[index..<next].utf16.count
                if units + width > limit { break }
                units += width
                index = next
                end = index
            }
            if end == rest.startIndex { end = rest.index(after: rest.startIndex) }  // one character wider than the limit
            let window = rest[rest.startIndex..<end]
            var cut = end
            if let newline = window.lastIndex(of: "\n"), newline > window.startIndex {
                cut = window.index(after: newline)
            } else if let space = window.lastIndex(of: " "), space > window.startIndex {
                cut = window.index(after: space)
            }
            parts.append(String(rest[rest.startIndex..<cut]))
            rest = rest[cut...]
        }
        if !rest.isEmpty { parts.append(String(rest)) }
        return parts
    }
}
