import Foundation

extension PostgresSchema {
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
}
