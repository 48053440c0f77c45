import Foundation
import Synchronization

/// A value in a channel's drop-in file.
public enum SettingValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case array([SettingValue])
    case table([String: SettingValue])

    var typeName: String {
        switch self {
        case .string: "string"
        case .int: "integer"
        case .bool: "boolean"
        case .double: "float"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A configuration problem, naming the file, the key and what is wrong.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var key: String?
    public var problem: String

    public init(file: String, key: String?, problem: String) {
        self.file = file
        self.key = key
        self.problem = problem
    }

    public var description: String {
        if let key { return "\(file): key '\(key)': \(problem)" }
        return "\(file): \(problem)"
    }
}

/// A channel's settings as read from its drop-in file, with typed accessors
/// whose errors name the file and the key. Keys an adapter never reads are
/// reported by `unreadKeys` so typos are caught.
public final class ChannelSettings: Sendable {
    public let file: String
    public let values: [String: SettingValue]
    /// Prepended to keys in errors (`bot.` for a `[bot]` table).
    public let prefix: String
    /// Keys an accessor has read (for `unreadKeys`).
    private let read = Mutex<Set<String>>([])

    public init(file: String, values: [String: SettingValue], prefix: String = "") {
        self.file = file
        self.values = values
        self.prefix = prefix
    }

    private func touch(_ key: String) {
        _ = read.withLock { $0.insert(key) }
    }

    public var unreadKeys: [String] {
        let read = self.read.withLock { $0 }
        return values.keys.filter { !read.contains($0) }.sorted()
    }

    public func error(_ key: String?, _ problem: String) -> ConfigurationError {
        ConfigurationError(file: file, key: key.map { prefix + $0 }, problem: problem)
    }

    public func string(_ key: String) throws -> String? {
        touch(key)
        switch values[key] {
        case nil: return nil
        case .string(let s): return s
        case let other?: throw error(key, "expected a string, found \(other.typeName)")
        }
    }

    public func requiredString(_ key: String) throws -> String {
        guard let value = try string(key) else { throw error(key, "is required") }
        guard !value.isEmpty else { throw error(key, "must not be empty") }
        return value
    }

    public func bool(_ key: String) throws -> Bool? {
        touch(key)
        switch values[key] {
        case nil: return nil
        case .bool(let b): return b
        case let other?: throw error(key, "expected true or false, found \(other.typeName)")
        }
    }

    public func int(_ key: String) throws -> Int? {
        touch(key)
        switch values[key] {
        case nil: return nil
        case .int(let i): return i
        case let other?: throw error(key, "expected an integer, found \(other.typeName)")
        }
    }

    public func strings(_ key: String) throws -> [String]? {
        touch(key)
        switch values[key] {
        case nil: return nil
        case .array(let items):
            return try items.map { item in
                guard case .string(let text) = item else { throw error(key, "expected an array of strings, found a \(item.typeName) in it") }
                return text
            }
        case let other?: throw error(key, "expected an array of strings, found \(other.typeName)")
        }
    }

    /// A sub-table (`[bot]`), as its own settings so its errors name `bot.key`.
    public func table(_ key: String) throws -> ChannelSettings? {
        touch(key)
        switch values[key] {
        case nil: return nil
        case .table(let t): return ChannelSettings(file: file, values: t, prefix: prefix + key + ".")
        case let other?: throw error(key, "expected a table ([\(key)]), found \(other.typeName)")
        }
    }

    /// An http(s) URL without a trailing slash.
    public func url(_ key: String, default defaultValue: String) throws -> String {
        var value = try string(key) ?? defaultValue
        guard let url = URL(string: value), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            url.host != nil
        else { throw error(key, "must be an http:// or https:// URL, got '\(value)'") }
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}
