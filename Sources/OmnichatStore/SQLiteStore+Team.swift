import Foundation
import GRDB
import OmnichatCore

enum TeamSchema {
    /// Migration v4: team management tables.
    static func migrate(_ db: Database) throws {
    }
}

extension SQLiteStore {
}
