import Foundation
import GRDB
import OmnichatCore

enum InboxSchema {
    /// Migration v5: inbox tables (read marks, notes, tags).
    static func migrate(_ db: Database) throws {
    }
}

extension SQLiteStore {
}
