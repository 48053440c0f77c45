import Foundation
import GRDB

enum SQLiteSchema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE users (
                        id TEXT PRIMARY KEY,
                        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        password_hash TEXT NOT NULL,
                        online INTEGER NOT NULL DEFAULT 0,
                        channels TEXT,
                        max_open_rooms INTEGER,
                        last_assigned_at REAL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE sessions (
                        token_hash TEXT PRIMARY KEY,
                        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        created_at REAL NOT NULL,
                        expires_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE contacts (
                        id TEXT PRIMARY KEY,
                        channel_id TEXT NOT NULL,
                        external_id TEXT NOT NULL,
                        display_name TEXT,
                        username TEXT,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        UNIQUE (channel_id, external_id)
                    );
                    CREATE TABLE rooms (
                        id TEXT PRIMARY KEY,
                        channel_id TEXT NOT NULL,
                        conversation_id TEXT NOT NULL,
                        contact_id TEXT NOT NULL REFERENCES contacts(id),
                        status TEXT NOT NULL,
                        assignee_id TEXT REFERENCES users(id),
                        session INTEGER NOT NULL DEFAULT 1,
                        waiting_since REAL,
                        last_message_at REAL,
                        created_at REAL NOT NULL,
                        resolved_at REAL,
                        UNIQUE (channel_id, conversation_id)
                    );
                    CREATE INDEX rooms_by_status ON rooms(status, waiting_since);
                    CREATE INDEX rooms_by_assignee ON rooms(assignee_id, status);
                    CREATE INDEX rooms_by_recency ON rooms(last_message_at DESC, id DESC);
                    CREATE TABLE messages (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        room_id TEXT NOT NULL REFERENCES rooms(id),
                        direction TEXT NOT NULL,
                        type TEXT NOT NULL,
                        text TEXT,
                        url TEXT,
                        content TEXT NOT NULL,
                        raw TEXT,
                        network_message_id TEXT,
                        sender_user_id TEXT,
                        created_at REAL NOT NULL,
                        delivery_status TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        delivery_error TEXT
                    );
                    CREATE INDEX messages_by_room ON messages(room_id, seq);
                    CREATE TABLE processed_events (
                        channel_id TEXT NOT NULL,
                        event_id TEXT NOT NULL,
                        received_at REAL NOT NULL,
                        raw TEXT,
                        PRIMARY KEY (channel_id, event_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE outbox (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        room_id TEXT NOT NULL REFERENCES rooms(id),
                        channel_id TEXT NOT NULL,
                        message_id TEXT REFERENCES messages(id),
                        action TEXT,
                        status TEXT NOT NULL DEFAULT 'pending',
                        parts_done INTEGER NOT NULL DEFAULT 0,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_at REAL NOT NULL,
                        last_error TEXT,
                        created_at REAL NOT NULL,
                        delivered_at REAL
                    );
                    CREATE INDEX outbox_pending ON outbox(status, room_id, id);
                    CREATE TABLE room_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        room_id TEXT NOT NULL,
                        from_status TEXT,
                        to_status TEXT NOT NULL,
                        assignee_id TEXT,
                        actor TEXT NOT NULL,
                        at REAL NOT NULL
                    );
                    CREATE INDEX room_events_by_room ON room_events(room_id, id);
                    """)
        }
        migrator.registerMigration("v2: receipts, messaging windows, reply contexts") { db in
            try db.execute(
                sql: """
                    ALTER TABLE rooms ADD COLUMN last_inbound_at REAL;
                    ALTER TABLE rooms ADD COLUMN reply_context TEXT;
                    CREATE INDEX messages_by_network_id ON messages(room_id, network_message_id);
                    """)
        }
        migrator.registerMigration("v3: divisions, load counters, settings, API keys, bots") { db in
            try db.execute(
                sql: """
                    CREATE TABLE divisions (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                        is_default INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE user_divisions (
                        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                        division_id TEXT NOT NULL REFERENCES divisions(id),
                        PRIMARY KEY (user_id, division_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX user_divisions_by_division ON user_divisions(division_id, user_id);
                    ALTER TABLE users ADD COLUMN open_rooms INTEGER NOT NULL DEFAULT 0;
                    UPDATE users SET open_rooms = (SELECT count(*) FROM rooms WHERE rooms.assignee_id = users.id AND rooms.status = 'assigned');
                    CREATE INDEX users_by_load ON users(online, open_rooms, last_assigned_at, id);
                    ALTER TABLE rooms ADD COLUMN division_id TEXT REFERENCES divisions(id);
                    ALTER TABLE rooms ADD COLUMN last_agent_id TEXT;
                    ALTER TABLE rooms ADD COLUMN allocation_requested_at REAL;
                    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        scope TEXT NOT NULL,
                        key_hash TEXT NOT NULL UNIQUE,
                        created_at REAL NOT NULL,
                        revoked_at REAL
                    );
                    ALTER TABLE outbox ADD COLUMN target TEXT NOT NULL DEFAULT 'channel';
                    ALTER TABLE room_events ADD COLUMN note TEXT;
                    """)
            try db.execute(
                sql: "INSERT INTO divisions (id, name, is_default, created_at) VALUES ('div_default', 'General', 1, ?)",
                arguments: [Date().timeIntervalSince1970])
        }
        migrator.registerMigration("v4: team management") { db in try TeamSchema.migrate(db) }
        migrator.registerMigration("v5: inbox") { db in try InboxSchema.migrate(db) }
        migrator.registerMigration("v6: outbox in due order") { db in
            // The worker reads the due rows in order and stops at its limit,
            // instead of grouping every pending row on each pass.
            try db.execute(sql: "CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id)")
            try db.execute(sql: "CREATE INDEX outbox_room_order ON outbox(room_id, target, status, id)")
        }
        migrator.registerMigration("v7: outbox leases (the PostgreSQL engine's columns, for one shared logic)") { db in
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN lease_owner TEXT")
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN lease_until REAL")
            try db.execute(sql: "ALTER TABLE outbox ADD COLUMN delivered_by TEXT")
        }
        migrator.registerMigration("v8: network ids indexed for our own messages only") { db in
            // Receipts and echoes look up outbound messages by the network's id;
            // indexing every inbound message too cost a random index page per
            // message written.
            try db.execute(sql: "DROP INDEX messages_by_network_id")
            try db.execute(
                sql: "CREATE INDEX messages_by_network_id ON messages(room_id, network_message_id) WHERE direction = 'outbound'")
        }
        migrator.registerMigration("v9: integer ids") { db in try SQLiteIntegerIDs.migrate(db) }
        migrator.registerMigration("v10: customer profiles and properties") { db in
            try db.execute(
                sql: """
                    ALTER TABLE contacts ADD COLUMN avatar_url TEXT;
                    ALTER TABLE contacts ADD COLUMN email TEXT;
                    ALTER TABLE contacts ADD COLUMN extras TEXT;
                    CREATE TABLE contact_properties (
                        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
                        key TEXT NOT NULL,
                        value TEXT NOT NULL,
                        updated_at REAL NOT NULL,
                        PRIMARY KEY (contact_id, key)
                    ) WITHOUT ROWID;
                    CREATE TABLE channel_numbers (
                        number INTEGER PRIMARY KEY AUTOINCREMENT,
                        channel_id TEXT NOT NULL UNIQUE
                    );
                    """)
        }
        migrator.registerMigration("v11: merged contacts, room notices, languages") { db in
            try db.execute(sql: ContactSchema.v11)
        }
        return migrator
    }
}

/// Migration v11, the same text on both engines: contacts known to be one
/// person share a `person_id` (the group's first contact; NULL when alone),
/// what happened in a conversation that is not a message (the customer
/// blocked the bot, someone joined a group) is a room notice, each user
/// may choose the console's language, and a group's room has the group's title.
enum ContactSchema {
    static let v11 = """
        ALTER TABLE contacts ADD COLUMN person_id BIGINT;
        CREATE INDEX contacts_by_person ON contacts(person_id) WHERE person_id IS NOT NULL;
        CREATE TABLE room_notices (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            room_id BIGINT NOT NULL,
            kind TEXT NOT NULL,
            name TEXT,
            at REAL NOT NULL
        );
        CREATE INDEX room_notices_by_room ON room_notices(room_id, id);
        ALTER TABLE users ADD COLUMN language TEXT;
        ALTER TABLE rooms ADD COLUMN title TEXT;
        """
}

extension TeamSchema {
    /// Migration v4: team management tables.
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE users ADD COLUMN deactivated_at REAL;
                CREATE INDEX sessions_by_user ON sessions(user_id);
                CREATE TABLE invitations (
                    token_hash TEXT PRIMARY KEY,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_by TEXT,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    used_at REAL
                ) WITHOUT ROWID;
                CREATE INDEX invitations_by_user ON invitations(user_id);
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    actor TEXT NOT NULL,
                    actor_role TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target_type TEXT NOT NULL,
                    target_id TEXT,
                    details TEXT NOT NULL DEFAULT '{}',
                    at REAL NOT NULL
                );
                CREATE TABLE channel_activity (
                    channel_id TEXT PRIMARY KEY,
                    last_webhook_at REAL,
                    last_delivery_error TEXT,
                    last_delivery_error_at REAL
                ) WITHOUT ROWID;
                INSERT INTO channel_activity (channel_id, last_webhook_at)
                    SELECT channel_id, max(received_at) FROM processed_events GROUP BY channel_id;
                INSERT INTO channel_activity (channel_id, last_delivery_error, last_delivery_error_at)
                    SELECT channel_id, last_error, max(next_attempt_at) FROM outbox
                    WHERE last_error IS NOT NULL AND target = 'channel' GROUP BY channel_id
                    ON CONFLICT (channel_id) DO UPDATE
                        SET last_delivery_error = excluded.last_delivery_error, last_delivery_error_at = excluded.last_delivery_error_at;
                -- The channel listing's status, kept current by the store itself: the
                -- latest webhook event (processed_events.received_at) and the latest
                -- delivery error of a reply (outbox.last_error), one small row per channel.
                CREATE TRIGGER channel_activity_webhook AFTER INSERT ON processed_events
                BEGIN
                    INSERT INTO channel_activity (channel_id, last_webhook_at) VALUES (NEW.channel_id, NEW.received_at)
                    ON CONFLICT (channel_id) DO UPDATE SET last_webhook_at = max(coalesce(last_webhook_at, 0), excluded.last_webhook_at);
                END;
                CREATE TRIGGER channel_activity_delivery_error AFTER UPDATE OF last_error ON outbox
                WHEN NEW.last_error IS NOT NULL AND NEW.target = 'channel'
                BEGIN
                    INSERT INTO channel_activity (channel_id, last_delivery_error, last_delivery_error_at)
                    VALUES (NEW.channel_id, NEW.last_error, (julianday('now') - 2440587.5) * 86400.0)
                    ON CONFLICT (channel_id) DO UPDATE
                        SET last_delivery_error = excluded.last_delivery_error, last_delivery_error_at = excluded.last_delivery_error_at;
                END;
                """)
    }
}

enum InboxSchema {
    /// Migration v5: inbox tables (read marks, notes, tags), presence periods
    /// for reports, and the indexes the reports' window queries read.
    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE room_reads (
                    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    last_read_seq INTEGER NOT NULL,
                    read_at REAL NOT NULL,
                    PRIMARY KEY (room_id, user_id)
                ) WITHOUT ROWID;
                CREATE TABLE notes (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    id TEXT NOT NULL UNIQUE,
                    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                    author_id TEXT NOT NULL,
                    text TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE INDEX notes_by_room ON notes(room_id, seq);
                CREATE TABLE room_tags (
                    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                    tag TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (room_id, tag)
                ) WITHOUT ROWID;
                CREATE INDEX room_tags_by_tag ON room_tags(tag, room_id);
                CREATE TABLE agent_presence (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id TEXT NOT NULL,
                    started_at REAL NOT NULL,
                    ended_at REAL
                );
                CREATE INDEX agent_presence_by_user ON agent_presence(user_id, started_at);
                CREATE INDEX agent_presence_by_end ON agent_presence(ended_at);
                CREATE INDEX messages_by_time ON messages(created_at);
                CREATE INDEX room_events_by_time ON room_events(at);
                """)
        // Presence periods follow users.online whatever changes it (going
        // online or offline through the API, a deactivation, an operator's
        // UPDATE): a period opens when it turns 1 and closes when it turns 0.
        try db.execute(
            sql: """
                CREATE TRIGGER users_presence_insert AFTER INSERT ON users WHEN NEW.online
                BEGIN
                    INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, \(nowSQL));
                END;
                CREATE TRIGGER users_presence_online AFTER UPDATE OF online ON users WHEN NEW.online AND NOT OLD.online
                BEGIN
                    INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, \(nowSQL));
                END;
                CREATE TRIGGER users_presence_offline AFTER UPDATE OF online ON users WHEN OLD.online AND NOT NEW.online
                BEGIN
                    UPDATE agent_presence SET ended_at = max(started_at, \(nowSQL)) WHERE user_id = NEW.id AND ended_at IS NULL;
                END;
                """)
        // Whoever is online when the migration runs is online from now on.
        try db.execute(
            sql: "INSERT INTO agent_presence (user_id, started_at) SELECT id, ? FROM users WHERE online = 1",
            arguments: [Date().timeIntervalSince1970])
    }

    /// SQLite's clock as Unix seconds with milliseconds (`unixepoch('subsec')` needs 3.42).
    static let nowSQL = "((julianday('now') - 2440587.5) * 86400.0)"
}

extension SQLiteStore {
    /// `lower()` for all of Unicode (SQLite's folds ASCII only), for `q` searches.
    static let fold = DatabaseFunction("omnichat_fold", argumentCount: 1, pure: true) { values in
        String.fromDatabaseValue(values[0])?.lowercased()
    }
}
