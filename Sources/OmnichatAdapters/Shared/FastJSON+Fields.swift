import Foundation

extension FastJSON {
    // MARK: Fields, for the models' fast initializers

    /// Thrown by the field readers when a value is not what the fast path
    /// handles; the adapter then decodes the body with `JSONDecoder`.
    struct Unhandled: Error {}

    /// An optional string field: nil when absent or null.
    func optionalString(_ object: Int, _ key: StaticString) throws -> String? {
        guard let i = member(object, key), !isNull(i) else { return nil }
        guard let value = string(i) else { throw Unhandled() }
        return value
    }

    /// An optional integer field: nil when absent or null.
    func optionalInt64(_ object: Int, _ key: StaticString) throws -> Int64? {
        guard let i = member(object, key), !isNull(i) else { return nil }
        guard let value = int64(i) else { throw Unhandled() }
        return value
    }

    func requiredInt64(_ object: Int, _ key: StaticString) throws -> Int64 {
        guard let value = try optionalInt64(object, key) else { throw Unhandled() }
        return value
    }

    /// An optional object field: nil when absent or null.
    func optionalObject(_ object: Int, _ key: StaticString) throws -> Int? {
        guard let i = member(object, key), !isNull(i) else { return nil }
        guard kind(i) == .object else { throw Unhandled() }
        return i
    }

    func requiredObject(_ object: Int, _ key: StaticString) throws -> Int {
        guard let i = try optionalObject(object, key) else { throw Unhandled() }
        return i
    }

    /// An optional boolean field: nil when absent or null.
    func optionalBool(_ object: Int, _ key: StaticString) throws -> Bool? {
        guard let i = member(object, key), !isNull(i) else { return nil }
        guard let value = bool(i) else { throw Unhandled() }
        return value
    }

    /// An optional array field's elements: nil when absent or null.
    func optionalArray(_ object: Int, _ key: StaticString) throws -> [Int]? {
        guard let i = member(object, key), !isNull(i) else { return nil }
        guard let items = elements(i) else { throw Unhandled() }
        return items
    }

    func requiredArray(_ object: Int, _ key: StaticString) throws -> [Int] {
        guard let items = try optionalArray(object, key) else { throw Unhandled() }
        return items
    }

    /// Throws when `key` is present with a null value: decoders that tell
    /// "null" from "absent" read it their own way.
    func requireNotNull(_ object: Int, _ keys: [StaticString]) throws {
        for key in keys {
            if let i = member(object, key), isNull(i) { throw Unhandled() }
        }
    }

    /// Throws unless each of `keys` is absent or null in `object`: fields the
    /// fast path does not read, whose presence changes the outcome.
    func requireAbsent(_ object: Int, _ keys: [StaticString]) throws {
        for key in keys {
            if let i = member(object, key), !isNull(i) { throw Unhandled() }
        }
    }
}
