import Foundation

/// The PostgreSQL schema: the same tables and columns as the SQLite
/// migrations v1–v6 (the shared logic reads and writes both alike), plus what
/// several daemons need: outbox leases and the live event log.
///
/// Types follow SQLite's storage classes: times are Unix seconds in
/// `double precision`, flags are 0/1 integers, lists and JSON are text.
/// Case-insensitive columns (`COLLATE NOCASE` in SQLite) are `citext`.
enum PostgresSchema {
    static let migrations: [(String, String)] = [
        ("v1: the SQLite schema v1–v6, outbox leases, live events", v1),
        (
            "v2: network ids indexed for our own messages only (SQLite v8)",
            """
            DROP INDEX messages_by_network_id;
            CREATE INDEX messages_by_network_id ON messages(room_id, network_message_id) WHERE direction = 'outbound';
            """
        ),
        ("v3: integer ids (SQLite v9)", integerIDs),
        (
            "v4: customer profiles and properties (SQLite v10)",
            """
            ALTER TABLE contacts ADD COLUMN avatar_url TEXT;
            ALTER TABLE contacts ADD COLUMN email TEXT;
            ALTER TABLE contacts ADD COLUMN extras TEXT;
            CREATE TABLE contact_properties (
                contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (contact_id, key)
            );
            """
        ),
    ]

    /// Every entity id becomes a `bigint` identity, numbered in creation order;
    /// the old string ids stay resolvable through `legacy_ids` for one release.
    /// One function in `USING` maps each column in a single rewrite per table.
    static let integerIDs = """
        CREATE TABLE legacy_ids (
            kind TEXT NOT NULL,
            old_id TEXT NOT NULL,
            new_id BIGINT NOT NULL,
            PRIMARY KEY (kind, old_id)
        );
        INSERT INTO legacy_ids SELECT 'user', id, row_number() OVER (ORDER BY created_at, id) FROM users;
        INSERT INTO legacy_ids SELECT 'contact', id, row_number() OVER (ORDER BY created_at, id) FROM contacts;
        INSERT INTO legacy_ids SELECT 'room', id, row_number() OVER (ORDER BY created_at, id) FROM rooms;
        INSERT INTO legacy_ids SELECT 'division', id, row_number() OVER (ORDER BY is_default DESC, created_at, id) FROM divisions;
        INSERT INTO legacy_ids SELECT 'key', id, row_number() OVER (ORDER BY created_at, id) FROM api_keys;
        INSERT INTO legacy_ids SELECT 'message', id, seq FROM messages;
        INSERT INTO legacy_ids SELECT 'note', id, seq FROM notes;
        CREATE FUNCTION omnichat_legacy_id(k TEXT, old TEXT) RETURNS BIGINT LANGUAGE SQL STABLE
            AS 'SELECT new_id FROM legacy_ids WHERE kind = k AND old_id = old';
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
                     WHERE contype = 'f' AND connamespace = current_schema()::regnamespace LOOP
                EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.t, r.conname);
            END LOOP;
        END $$;
        ALTER TABLE users ALTER COLUMN id TYPE BIGINT USING omnichat_legacy_id('user', id);
        ALTER TABLE contacts ALTER COLUMN id TYPE BIGINT USING omnichat_legacy_id('contact', id);
        ALTER TABLE divisions ALTER COLUMN id TYPE BIGINT USING omnichat_legacy_id('division', id);
        ALTER TABLE api_keys ALTER COLUMN id TYPE BIGINT USING omnichat_legacy_id('key', id);
        ALTER TABLE rooms
            ALTER COLUMN id TYPE BIGINT USING omnichat_legacy_id('room', id),
            ALTER COLUMN contact_id TYPE BIGINT USING omnichat_legacy_id('contact', contact_id),
            ALTER COLUMN assignee_id TYPE BIGINT USING omnichat_legacy_id('user', assignee_id),
            ALTER COLUMN division_id TYPE BIGINT USING omnichat_legacy_id('division', division_id),
            ALTER COLUMN last_agent_id TYPE BIGINT USING omnichat_legacy_id('user', last_agent_id);
        ALTER TABLE sessions ALTER COLUMN user_id TYPE BIGINT USING omnichat_legacy_id('user', user_id);
        ALTER TABLE user_divisions
            ALTER COLUMN user_id TYPE BIGINT USING omnichat_legacy_id('user', user_id),
            ALTER COLUMN division_id TYPE BIGINT USING omnichat_legacy_id('division', division_id);
        ALTER TABLE outbox
            ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id),
            ALTER COLUMN message_id TYPE BIGINT USING omnichat_legacy_id('message', message_id);
        ALTER TABLE messages DROP COLUMN id;
        ALTER TABLE messages RENAME COLUMN seq TO id;
        ALTER TABLE messages ADD COLUMN sender_key_id BIGINT;
        UPDATE messages SET sender_key_id = omnichat_legacy_id('key', sender_user_id) WHERE sender_user_id LIKE 'key\\_%';
        ALTER TABLE messages
            ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id),
            ALTER COLUMN sender_user_id TYPE BIGINT USING omnichat_legacy_id('user', sender_user_id);
        ALTER TABLE notes DROP COLUMN id;
        ALTER TABLE notes RENAME COLUMN seq TO id;
        ALTER TABLE notes
            ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id),
            ALTER COLUMN author_id TYPE BIGINT USING omnichat_legacy_id('user', author_id);
        ALTER TABLE room_events
            ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id),
            ALTER COLUMN assignee_id TYPE BIGINT USING omnichat_legacy_id('user', assignee_id);
        UPDATE room_events SET actor = coalesce(omnichat_legacy_id('user', actor)::text, 'key:' || omnichat_legacy_id('key', actor)::text, actor);
        UPDATE audit_log SET actor = coalesce(omnichat_legacy_id('user', actor)::text, 'key:' || omnichat_legacy_id('key', actor)::text, actor);
        UPDATE audit_log SET target_id = coalesce(omnichat_legacy_id('user', target_id), omnichat_legacy_id('division', target_id),
            omnichat_legacy_id('key', target_id), omnichat_legacy_id('room', target_id))::text
            WHERE target_id IS NOT NULL AND target_id !~ '^[0-9]+$'
              AND coalesce(omnichat_legacy_id('user', target_id), omnichat_legacy_id('division', target_id),
                  omnichat_legacy_id('key', target_id), omnichat_legacy_id('room', target_id)) IS NOT NULL;
        ALTER TABLE invitations
            ALTER COLUMN user_id TYPE BIGINT USING omnichat_legacy_id('user', user_id),
            ALTER COLUMN created_by TYPE BIGINT USING omnichat_legacy_id('user', created_by);
        ALTER TABLE room_reads
            ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id),
            ALTER COLUMN user_id TYPE BIGINT USING omnichat_legacy_id('user', user_id);
        ALTER TABLE room_tags ALTER COLUMN room_id TYPE BIGINT USING omnichat_legacy_id('room', room_id);
        ALTER TABLE agent_presence ALTER COLUMN user_id TYPE BIGINT USING omnichat_legacy_id('user', user_id);
        DROP FUNCTION omnichat_legacy_id(TEXT, TEXT);
        ALTER TABLE users ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
        ALTER TABLE contacts ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
        ALTER TABLE rooms ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
        ALTER TABLE divisions ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
        ALTER TABLE api_keys ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY;
        SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM users), false);
        SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM contacts), false);
        SELECT setval(pg_get_serial_sequence('rooms', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM rooms), false);
        SELECT setval(pg_get_serial_sequence('divisions', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM divisions), false);
        SELECT setval(pg_get_serial_sequence('api_keys', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM api_keys), false);
        ALTER TABLE sessions ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
        ALTER TABLE user_divisions ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
        ALTER TABLE user_divisions ADD FOREIGN KEY (division_id) REFERENCES divisions(id);
        ALTER TABLE rooms ADD FOREIGN KEY (contact_id) REFERENCES contacts(id);
        ALTER TABLE rooms ADD FOREIGN KEY (assignee_id) REFERENCES users(id);
        ALTER TABLE rooms ADD FOREIGN KEY (division_id) REFERENCES divisions(id);
        ALTER TABLE messages ADD FOREIGN KEY (room_id) REFERENCES rooms(id);
        ALTER TABLE outbox ADD FOREIGN KEY (room_id) REFERENCES rooms(id);
        ALTER TABLE outbox ADD FOREIGN KEY (message_id) REFERENCES messages(id);
        ALTER TABLE invitations ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
        ALTER TABLE room_reads ADD FOREIGN KEY (room_id) REFERENCES rooms(id) ON DELETE CASCADE;
        ALTER TABLE room_reads ADD FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE;
        ALTER TABLE notes ADD FOREIGN KEY (room_id) REFERENCES rooms(id) ON DELETE CASCADE;
        ALTER TABLE room_tags ADD FOREIGN KEY (room_id) REFERENCES rooms(id) ON DELETE CASCADE;
        """

    static let v1 = """
        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email public.citext NOT NULL UNIQUE,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            online INTEGER NOT NULL DEFAULT 0,
            channels TEXT,
            max_open_rooms INTEGER,
            last_assigned_at DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            open_rooms INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            deactivated_at DOUBLE PRECISION
        );
        CREATE INDEX users_by_load ON users(online, open_rooms, last_assigned_at, id);
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX sessions_by_user ON sessions(user_id);
        CREATE TABLE contacts (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            external_id TEXT NOT NULL,
            display_name TEXT,
            username TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            UNIQUE (channel_id, external_id)
        );
        CREATE TABLE divisions (
            id TEXT PRIMARY KEY,
            name public.citext NOT NULL UNIQUE,
            is_default INTEGER NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE user_divisions (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            division_id TEXT NOT NULL REFERENCES divisions(id),
            PRIMARY KEY (user_id, division_id)
        );
        CREATE INDEX user_divisions_by_division ON user_divisions(division_id, user_id);
        CREATE TABLE rooms (
            id TEXT PRIMARY KEY,
            channel_id TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            status TEXT NOT NULL,
            assignee_id TEXT REFERENCES users(id),
            session INTEGER NOT NULL DEFAULT 1,
            waiting_since DOUBLE PRECISION,
            last_message_at DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            resolved_at DOUBLE PRECISION,
            last_inbound_at DOUBLE PRECISION,
            reply_context TEXT,
            division_id TEXT REFERENCES divisions(id),
            last_agent_id TEXT,
            allocation_requested_at DOUBLE PRECISION,
            UNIQUE (channel_id, conversation_id)
        );
        CREATE INDEX rooms_by_status ON rooms(status, waiting_since);
        CREATE INDEX rooms_by_assignee ON rooms(assignee_id, status);
        CREATE INDEX rooms_by_recency ON rooms(last_message_at DESC, id DESC);
        CREATE TABLE messages (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
            created_at DOUBLE PRECISION NOT NULL,
            delivery_status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            delivery_error TEXT
        );
        CREATE INDEX messages_by_room ON messages(room_id, seq);
        CREATE INDEX messages_by_network_id ON messages(room_id, network_message_id);
        CREATE INDEX messages_by_time ON messages(created_at);
        CREATE TABLE processed_events (
            channel_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            received_at DOUBLE PRECISION NOT NULL,
            raw TEXT,
            PRIMARY KEY (channel_id, event_id)
        );
        CREATE TABLE outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            room_id TEXT NOT NULL REFERENCES rooms(id),
            channel_id TEXT NOT NULL,
            message_id TEXT REFERENCES messages(id),
            action TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            parts_done INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at DOUBLE PRECISION NOT NULL,
            last_error TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            delivered_at DOUBLE PRECISION,
            target TEXT NOT NULL DEFAULT 'channel',
            -- The daemon delivering the row, until when (Unix seconds); who delivered it.
            lease_owner TEXT,
            lease_until DOUBLE PRECISION,
            delivered_by TEXT
        );
        CREATE INDEX outbox_pending ON outbox(status, room_id, id);
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at, id);
        CREATE INDEX outbox_room_order ON outbox(room_id, target, status, id);
        CREATE TABLE room_events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            room_id TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            assignee_id TEXT,
            actor TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            note TEXT
        );
        CREATE INDEX room_events_by_room ON room_events(room_id, id);
        CREATE INDEX room_events_by_time ON room_events(at);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scope TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            created_at DOUBLE PRECISION NOT NULL,
            revoked_at DOUBLE PRECISION
        );
        CREATE TABLE invitations (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_by TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            used_at DOUBLE PRECISION
        );
        CREATE INDEX invitations_by_user ON invitations(user_id);
        CREATE TABLE audit_log (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            actor TEXT NOT NULL,
            actor_role TEXT NOT NULL,
            action TEXT NOT NULL,
            target_type TEXT NOT NULL,
            target_id TEXT,
            details TEXT NOT NULL DEFAULT '{}',
            at DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE channel_activity (
            channel_id TEXT PRIMARY KEY,
            last_webhook_at DOUBLE PRECISION,
            last_delivery_error TEXT,
            last_delivery_error_at DOUBLE PRECISION
        );
        CREATE TABLE room_reads (
            room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            last_read_seq BIGINT NOT NULL,
            read_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (room_id, user_id)
        );
        CREATE TABLE notes (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX notes_by_room ON notes(room_id, seq);
        CREATE TABLE room_tags (
            room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (room_id, tag)
        );
        CREATE INDEX room_tags_by_tag ON room_tags(tag, room_id);
        CREATE TABLE agent_presence (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            user_id TEXT NOT NULL,
            started_at DOUBLE PRECISION NOT NULL,
            ended_at DOUBLE PRECISION
        );
        CREATE INDEX agent_presence_by_user ON agent_presence(user_id, started_at);
        CREATE INDEX agent_presence_by_end ON agent_presence(ended_at);
        -- Live events, in one order for every daemon (GET /api/v1/events ids).
        -- Ids start high: a resume point like 1 is older than anything kept (stream.reset).
        CREATE TABLE live_events (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 1000001) PRIMARY KEY,
            node TEXT NOT NULL,
            body TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX live_events_by_time ON live_events(at);
        -- Every daemon listens: one notification per transaction that appended
        -- (PostgreSQL folds identical payloads), per schema.
        CREATE FUNCTION live_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('omnichat_events_' || current_schema(), '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER live_events_notify AFTER INSERT ON live_events
            FOR EACH STATEMENT EXECUTE FUNCTION live_events_notify();

        -- `lower()` for all of Unicode, as the SQLite engine's omnichat_fold.
        CREATE FUNCTION omnichat_fold(value TEXT) RETURNS TEXT LANGUAGE SQL IMMUTABLE AS 'SELECT lower(value)';
        CREATE FUNCTION omnichat_now() RETURNS DOUBLE PRECISION LANGUAGE SQL STABLE
            AS 'SELECT extract(epoch FROM clock_timestamp())::double precision';

        -- Presence periods follow users.online, as the SQLite triggers do.
        CREATE FUNCTION users_presence() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                IF NEW.online <> 0 THEN
                    INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, omnichat_now());
                END IF;
            ELSIF NEW.online <> 0 AND OLD.online = 0 THEN
                INSERT INTO agent_presence (user_id, started_at) VALUES (NEW.id, omnichat_now());
            ELSIF OLD.online <> 0 AND NEW.online = 0 THEN
                UPDATE agent_presence SET ended_at = greatest(started_at, omnichat_now())
                WHERE user_id = NEW.id AND ended_at IS NULL;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER users_presence_insert AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION users_presence();
        CREATE TRIGGER users_presence_update AFTER UPDATE OF online ON users FOR EACH ROW EXECUTE FUNCTION users_presence();

        -- The channel listing's status: latest webhook, latest delivery error.
        -- Written at most every 5 s per channel: daemons ingesting one channel
        -- would otherwise all update one row in every transaction (conflicts).
        CREATE FUNCTION channel_activity_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM channel_activity
                       WHERE channel_id = NEW.channel_id AND last_webhook_at > NEW.received_at - 5) THEN
                RETURN NULL;
            END IF;
            INSERT INTO channel_activity (channel_id, last_webhook_at) VALUES (NEW.channel_id, NEW.received_at)
            ON CONFLICT (channel_id) DO UPDATE
                SET last_webhook_at = greatest(coalesce(channel_activity.last_webhook_at, 0), excluded.last_webhook_at);
            RETURN NULL;
        END $$;
        CREATE TRIGGER channel_activity_webhook AFTER INSERT ON processed_events
            FOR EACH ROW EXECUTE FUNCTION channel_activity_webhook();
        CREATE FUNCTION channel_activity_delivery_error() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.last_error IS NOT NULL AND NEW.target = 'channel' THEN
                INSERT INTO channel_activity (channel_id, last_delivery_error, last_delivery_error_at)
                VALUES (NEW.channel_id, NEW.last_error, omnichat_now())
                ON CONFLICT (channel_id) DO UPDATE
                    SET last_delivery_error = excluded.last_delivery_error, last_delivery_error_at = excluded.last_delivery_error_at;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER channel_activity_delivery_error AFTER UPDATE OF last_error ON outbox
            FOR EACH ROW EXECUTE FUNCTION channel_activity_delivery_error();
        """

    static let seed = "INSERT INTO divisions (id, name, is_default, created_at) VALUES ('div_default', 'General', 1, omnichat_now())"
}
