import Foundation

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
