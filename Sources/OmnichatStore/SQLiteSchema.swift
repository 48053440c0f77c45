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
        return migrator
    }
}
