import Foundation

public enum Identifier {
    /// An opaque, random id with a readable prefix (`rm_`, `msg_`, `usr_`...).
    public static func make(_ prefix: String) -> String {
        // 100 random bits from two draws, written in a 32-letter alphabet.
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        var out = prefix + "_"
        out.reserveCapacity(prefix.count + 21)
        for index in 0..<20 {
            let value: UInt64
            if index < 10 {
                value = high & 31
                high >>= 5
            } else {
                value = low & 31
                low >>= 5
            }
            out.append(alphabet[Int(value)])
        }
        return out
    }

    private static let alphabet: [Character] = Array("0123456789abcdefghjkmnpqrstvwxyz")
}

extension Date {
    /// ISO 8601 in UTC with milliseconds, as every JSON time is written.
    public var iso8601: String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(self)
    }
}
