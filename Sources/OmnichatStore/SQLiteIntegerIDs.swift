import Foundation
import GRDB

/// Migration v9: every entity id becomes a positive integer assigned by the
/// store (`INTEGER PRIMARY KEY AUTOINCREMENT`: never reused, even after a
/// delete), as the hosted product's services and Chatwoot's clients expect.
///
/// SQLite cannot change a column's type, so each table with an id or a
/// reference is rebuilt: the old string ids (`rm_…`, `usr_…`) are numbered in
/// creation order (their rowid, or the sequence the messages and notes
/// already had), written to `legacy_ids`, and every reference is rewritten
/// through that map in the same transaction. `legacy_ids` stays so that the
/// old forms keep resolving for one release (`LegacyID`).
enum SQLiteIntegerIDs {
    /// (kind, table, the expression that numbers a row)
    static let kinds: [(String, String, String)] = [
        ("user", "users", "rowid"), ("contact", "contacts", "rowid"), ("room", "rooms", "rowid"),
        ("division", "divisions", "rowid"), ("key", "api_keys", "rowid"), ("message", "messages", "seq"),
        ("note", "notes", "seq"),
    ]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE legacy_ids (
                    kind TEXT NOT NULL,
                    old_id TEXT NOT NULL,
                    new_id INTEGER NOT NULL,
                    PRIMARY KEY (kind, old_id)
                ) WITHOUT ROWID;
                """)
        for (kind, table, number) in kinds {
            try db.execute(sql: "INSERT INTO legacy_ids (kind, old_id, new_id) SELECT ?, id, \(number) FROM \(table)", arguments: [kind])
        }
        func map(_ kind: String, _ column: String) -> String {
            "(SELECT new_id FROM legacy_ids WHERE kind = '\(kind)' AND old_id = \(column))"
        }
        // Triggers go with their tables; they are made again below.
        for trigger in ["users_presence_insert", "users_presence_online", "users_presence_offline", "channel_activity_delivery_error"] {
            try db.execute(sql: "DROP TRIGGER IF EXISTS \(trigger)")
        }
        let tables: [(name: String, ddl: String, columns: String, select: String)] = [
            (
                "users",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                online INTEGER NOT NULL DEFAULT 0,
                channels TEXT,
                max_open_rooms INTEGER,
                last_assigned_at REAL,
                created_at REAL NOT NULL,
                open_rooms INTEGER NOT NULL DEFAULT 0,
                active INTEGER NOT NULL DEFAULT 1,
                deactivated_at REAL
                """,
                "id, email, name, role, password_hash, online, channels, max_open_rooms, last_assigned_at, created_at, open_rooms, active, deactivated_at",
                "rowid, email, name, role, password_hash, online, channels, max_open_rooms, last_assigned_at, created_at, open_rooms, active, deactivated_at"
            ),
            (
                "sessions",
                """
                token_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
                """,
                "token_hash, user_id, created_at, expires_at",
                "token_hash, \(map("user", "user_id")), created_at, expires_at"
            ),
            (
                "contacts",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                channel_id TEXT NOT NULL,
                external_id TEXT NOT NULL,
                display_name TEXT,
                username TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                UNIQUE (channel_id, external_id)
                """,
                "id, channel_id, external_id, display_name, username, created_at, updated_at",
                "rowid, channel_id, external_id, display_name, username, created_at, updated_at"
            ),
            (
                "divisions",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL UNIQUE COLLATE NOCASE,
                is_default INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL
                """,
                "id, name, is_default, created_at",
                "rowid, name, is_default, created_at"
            ),
            (
                "user_divisions",
                """
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                division_id INTEGER NOT NULL REFERENCES divisions(id),
                PRIMARY KEY (user_id, division_id)
                """,
                "user_id, division_id",
                "\(map("user", "user_id")), \(map("division", "division_id"))"
            ),
            (
                "rooms",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                channel_id TEXT NOT NULL,
                conversation_id TEXT NOT NULL,
                contact_id INTEGER NOT NULL REFERENCES contacts(id),
                status TEXT NOT NULL,
                assignee_id INTEGER REFERENCES users(id),
                session INTEGER NOT NULL DEFAULT 1,
                waiting_since REAL,
                last_message_at REAL,
                created_at REAL NOT NULL,
                resolved_at REAL,
                last_inbound_at REAL,
                reply_context TEXT,
                division_id INTEGER REFERENCES divisions(id),
                last_agent_id INTEGER,
                allocation_requested_at REAL,
                UNIQUE (channel_id, conversation_id)
                """,
                """
                id, channel_id, conversation_id, contact_id, status, assignee_id, session, waiting_since, last_message_at, created_at,
                resolved_at, last_inbound_at, reply_context, division_id, last_agent_id, allocation_requested_at
                """,
                """
                rowid, channel_id, conversation_id, \(map("contact", "contact_id")), status, \(map("user", "assignee_id")), session,
                waiting_since, last_message_at, created_at, resolved_at, last_inbound_at, reply_context, \(map("division", "division_id")),
                \(map("user", "last_agent_id")), allocation_requested_at
                """
            ),
            (
                "messages",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room_id INTEGER NOT NULL REFERENCES rooms(id),
                direction TEXT NOT NULL,
                type TEXT NOT NULL,
                text TEXT,
                url TEXT,
                content TEXT NOT NULL,
                raw TEXT,
                network_message_id TEXT,
                sender_user_id INTEGER,
                sender_key_id INTEGER,
                created_at REAL NOT NULL,
                delivery_status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                delivery_error TEXT
                """,
                """
                id, room_id, direction, type, text, url, content, raw, network_message_id, sender_user_id, sender_key_id, created_at,
                delivery_status, attempts, delivery_error
                """,
                """
                seq, \(map("room", "room_id")), direction, type, text, url, content, raw, network_message_id, \(map("user", "sender_user_id")),
                \(map("key", "sender_user_id")), created_at, delivery_status, attempts, delivery_error
                """
            ),
            (
                "outbox",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room_id INTEGER NOT NULL REFERENCES rooms(id),
                channel_id TEXT NOT NULL,
                message_id INTEGER REFERENCES messages(id),
                action TEXT,
                status TEXT NOT NULL DEFAULT 'pending',
                parts_done INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL,
                last_error TEXT,
                created_at REAL NOT NULL,
                delivered_at REAL,
                target TEXT NOT NULL DEFAULT 'channel',
                lease_owner TEXT,
                lease_until REAL,
                delivered_by TEXT
                """,
                """
                id, room_id, channel_id, message_id, action, status, parts_done, attempts, next_attempt_at, last_error, created_at,
                delivered_at, target, lease_owner, lease_until, delivered_by
                """,
                """
                id, \(map("room", "room_id")), channel_id, \(map("message", "message_id")), action, status, parts_done, attempts,
                next_attempt_at, last_error, created_at, delivered_at, target, lease_owner, lease_until, delivered_by
                """
            ),
            (
                "room_events",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room_id INTEGER NOT NULL,
                from_status TEXT,
                to_status TEXT NOT NULL,
                assignee_id INTEGER,
                actor TEXT NOT NULL,
                at REAL NOT NULL,
                note TEXT
                """,
                "id, room_id, from_status, to_status, assignee_id, actor, at, note",
                """
                id, \(map("room", "room_id")), from_status, to_status, \(map("user", "assignee_id")),
                coalesce(\(map("user", "actor")), 'key:' || \(map("key", "actor")), actor), at, note
                """
            ),
            (
                "api_keys",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                scope TEXT NOT NULL,
                key_hash TEXT NOT NULL UNIQUE,
                created_at REAL NOT NULL,
                revoked_at REAL
                """,
                "id, name, scope, key_hash, created_at, revoked_at",
                "rowid, name, scope, key_hash, created_at, revoked_at"
            ),
            (
                "invitations",
                """
                token_hash TEXT PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                created_by INTEGER,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                used_at REAL
                """,
                "token_hash, user_id, created_by, created_at, expires_at, used_at",
                "token_hash, \(map("user", "user_id")), \(map("user", "created_by")), created_at, expires_at, used_at"
            ),
            (
                "room_reads",
                """
                room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                last_read_seq INTEGER NOT NULL,
                read_at REAL NOT NULL,
                PRIMARY KEY (room_id, user_id)
                """,
                "room_id, user_id, last_read_seq, read_at",
                "\(map("room", "room_id")), \(map("user", "user_id")), last_read_seq, read_at"
            ),
            (
                "notes",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                author_id INTEGER NOT NULL,
                text TEXT NOT NULL,
                created_at REAL NOT NULL
                """,
                "id, room_id, author_id, text, created_at",
                "seq, \(map("room", "room_id")), \(map("user", "author_id")), text, created_at"
            ),
            (
                "room_tags",
                """
                room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
                tag TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (room_id, tag)
                """,
                "room_id, tag, created_at",
                "\(map("room", "room_id")), tag, created_at"
            ),
            (
                "agent_presence",
                """
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user_id INTEGER NOT NULL,
                started_at REAL NOT NULL,
                ended_at REAL
                """,
                "id, user_id, started_at, ended_at",
                "id, \(map("user", "user_id")), started_at, ended_at"
            ),
        ]
        for table in tables {
            let rowidTable = table.ddl.contains("AUTOINCREMENT") || table.name == "agent_presence"
            let suffix = rowidTable ? "" : " WITHOUT ROWID"
            try db.execute(sql: "CREATE TABLE new_\(table.name) (\(table.ddl))\(suffix)")
            // Rows whose reference no longer resolves (a user deleted by hand) keep a NULL where allowed.
            try db.execute(sql: "INSERT INTO new_\(table.name) (\(table.columns)) SELECT \(table.select) FROM \(table.name)")
        }
        for table in tables { try db.execute(sql: "DROP TABLE \(table.name)") }
        for table in tables { try db.execute(sql: "ALTER TABLE new_\(table.name) RENAME TO \(table.name)") }
        // Audit entries name users and keys as text: rewritten, kept as text.
        try db.execute(
            sql: """
                UPDATE audit_log SET actor = coalesce(\(map("user", "actor")), 'key:' || \(map("key", "actor")), actor);
                UPDATE audit_log SET target_id = coalesce(\(map("user", "target_id")), \(map("division", "target_id")),
                    \(map("key", "target_id")), \(map("room", "target_id")), target_id) WHERE target_id IS NOT NULL;
                """)
        try db.execute(sql: indexes)
        try db.execute(sql: triggers)
    }

    /// Every index of the rebuilt tables (as the migrations v1–v8 left them).
    static let indexes = """
        CREATE INDEX users_by_load ON users(online, open_rooms, last_assigned_at, id);
        CREATE INDEX sessions_by_user ON sessions(user_id);
        CREATE INDEX user_divisions_by_division ON user_divisions(division_id, user_id);
        CREATE INDEX rooms_by_status ON rooms(status, waiting_since);
        CREATE INDEX rooms_by_assignee ON rooms(assignee_id, status);
        CREATE INDEX rooms_by_recency ON rooms(last_message_at DESC, id DESC);
        CREATE INDEX messages_by_room ON messages(room_id, id);
        CREATE INDEX messages_by_network_id ON messages(room_id, network_message_id) WHERE direction = 'outbound';
        CREATE INDEX messages_by_time ON messages(created_at);
        CREATE INDEX outbox_pending ON outbox(status, room_id, id);
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);
        CREATE INDEX outbox_room_order ON outbox(room_id, target, status, id);
        CREATE INDEX room_events_by_room ON room_events(room_id, id);
        CREATE INDEX room_events_by_time ON room_events(at);
        CREATE INDEX invitations_by_user ON invitations(user_id);
        CREATE INDEX notes_by_room ON notes(room_id, id);
        CREATE INDEX room_tags_by_tag ON room_tags(tag, room_id);
        CREATE INDEX agent_presence_by_user ON agent_presence(user_id, started_at);
        CREATE INDEX agent_presence_by_end ON agent_presence(ended_at);
        """

    static let triggers = """
        CREATE TRIGGER users_presence_insert AFTER INSERT ON users WHEN NEW.online
        BEGIN
            INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, \(InboxSchema.nowSQL));
        END;
        CREATE TRIGGER users_presence_online AFTER UPDATE OF online ON users WHEN NEW.online AND NOT OLD.online
        BEGIN
            INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, \(InboxSchema.nowSQL));
        END;
        CREATE TRIGGER users_presence_offline AFTER UPDATE OF online ON users WHEN OLD.online AND NOT NEW.online
        BEGIN
            UPDATE agent_presence SET ended_at = max(started_at, \(InboxSchema.nowSQL)) WHERE user_id = NEW.id AND ended_at IS NULL;
        END;
        CREATE TRIGGER channel_activity_delivery_error AFTER UPDATE OF last_error ON outbox
        WHEN NEW.last_error IS NOT NULL AND NEW.target = 'channel'
        BEGIN
            INSERT INTO channel_activity (channel_id, last_delivery_error, last_delivery_error_at)
            VALUES (NEW.channel_id, NEW.last_error, (julianday('now') - 2440587.5) * 86400.0)
            ON CONFLICT (channel_id) DO UPDATE
                SET last_delivery_error = excluded.last_delivery_error, last_delivery_error_at = excluded.last_delivery_error_at;
        END;
        """
}
