import Foundation

public enum Identifier {
    /// An opaque id with a readable prefix (`rm_`, `msg_`, `usr_`...): ten
    /// letters of the creation time in milliseconds, then 60 random bits.
    /// Ids made later sort later, so the unique indexes on them grow at one
    /// end: with wholly random ids every new message dirtied a random page of
    /// the messages' id index, one more page written per message and commit.
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        var random = generator.next() as UInt64
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        var out = prefix + "_"
        out.reserveCapacity(prefix.count + 23)
        for index in (0..<10).reversed() {  // most significant letter first
            out.append(alphabet[Int((milliseconds >> (UInt64(index) * 5)) & 31)])
        }
        for _ in 0..<12 {
            out.append(alphabet[Int(random & 31)])
            random >>= 5
        }
        return out
    }

    /// In ASCII order, so ids compare as their times do.
    private static let alphabet: [Character] = Array("0123456789abcdefghjkmnpqrstvwxyz")
}

extension Date {
    /// ISO 8601 in UTC with milliseconds, as every JSON time is written.
    public var iso8601: String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(self)
    }
}

/// The kinds of entity that have integer ids (the store assigns them).
public enum EntityKind: String, Sendable, CaseIterable {
    case user, contact, room, division, key, message, note

    /// The prefix this kind's ids had before they became integers (`rm_…`).
    public var legacyPrefix: String {
        switch self {
        case .user: "usr_"
        case .contact: "ct_"
        case .room: "rm_"
        case .division: "div_"
        case .key: "key_"
        case .message: "msg_"
        case .note: "note_"
        }
    }
}

extension Int64 {
    /// An id as the API takes it: a positive decimal below 2^53, nothing else.
    public init?(id text: some StringProtocol) {
        guard !text.isEmpty, text.count <= 16, text.allSatisfy({ $0 >= "0" && $0 <= "9" }), let value = Int64(text), value > 0,
            value < (1 << 53)
        else { return nil }
        self = value
    }
}
