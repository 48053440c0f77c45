import Foundation

public enum Identifier {
    /// An opaque, random id with a readable prefix (`rm_`, `msg_`, `usr_`...).
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdefghijkmnpqrstuvwxyz")
        var out = prefix + "_"
        for _ in 0..<20 { out.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
        return out
    }
}

extension Date {
    /// ISO 8601 in UTC with milliseconds, as every JSON time is written.
    public var iso8601: String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(self)
    }
}
