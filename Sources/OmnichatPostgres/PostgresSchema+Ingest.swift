extension PostgresSchema {
    /// Webhook ingest as PostgreSQL functions: a group of webhook requests is
    /// one statement, so one round trip and one commit (one WAL flush) for all
    /// of them, the way the SQLite engine's group commit serves many with one
    /// fsync. Each request runs in its own subtransaction (the EXCEPTION
    /// block): one bad request fails alone. The conversations of the whole
    /// group are locked first, in one order, so groups running at once on
    /// several daemons never wait on each other in a cycle.
    ///
    /// `omnichat_ingest` is what `IngestWriter` does on SQLite, statement for
    /// statement: dedupe by (channel, event id), lock the conversation, upsert
    /// the contact (written only when the network reports something new),
    /// find, reopen or open the room, store the message, queue the bot's copy
    /// and the network's follow-up; echoes, receipts and notices likewise.
    static let ingestFunctions = """
        CREATE FUNCTION omnichat_ingest(p_channel TEXT, p_bot BOOLEAN, p_division BIGINT, p_now DOUBLE PRECISION, p_events JSONB)
        RETURNS JSONB LANGUAGE plpgsql AS $$
        DECLARE
            e JSONB;
            c RECORD;
            v_index INTEGER := -1;
            v_kind TEXT;
            v_conversation TEXT;
            v_stored INTEGER := 0;
            v_duplicates INTEGER := 0;
            v_waiting BIGINT[] := '{}';
            v_transitions JSONB := '[]';
            v_messages JSONB := '[]';
            v_deliveries JSONB := '[]';
            v_notices JSONB := '[]';
            v_opening TEXT := CASE WHEN p_bot THEN 'bot' ELSE 'waiting' END;
            v_room BIGINT;
            v_status TEXT;
            v_contact BIGINT;
            v_external TEXT;
            v_inbound DOUBLE PRECISION;
            v_message BIGINT;
            v_receipt TEXT;
            v_rank INTEGER;
            v_ids TEXT[];
            v_changed JSONB;
        BEGIN
            FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
                v_index := v_index + 1;
                v_kind := e->>'kind';
                v_conversation := coalesce(e->>'conversation_id', '');
                -- Events that leave no message keep their raw payload here.
                INSERT INTO processed_events (channel_id, event_id, received_at, raw)
                VALUES (p_channel, e->>'event_id', p_now,
                        CASE WHEN v_conversation = '' OR v_kind NOT IN ('message', 'echo') THEN e->>'raw' END)
                ON CONFLICT DO NOTHING;
                IF NOT FOUND THEN
                    v_duplicates := v_duplicates + 1;
                    CONTINUE;
                END IF;
                v_stored := v_stored + 1;
                CONTINUE WHEN v_conversation = '';
                PERFORM pg_advisory_xact_lock(hashtextextended(p_channel || '/' || v_conversation, 0));

                IF v_kind = 'message' THEN
                    v_external := coalesce(nullif(e->>'external_id', ''), v_conversation);
                    SELECT id, display_name, username, avatar_url, email, extras INTO c
                    FROM contacts WHERE channel_id = p_channel AND external_id = v_external;
                    IF FOUND THEN
                        v_contact := c.id;
                        IF (e->>'display_name' IS NOT NULL AND e->>'display_name' IS DISTINCT FROM c.display_name)
                            OR (e->>'username' IS NOT NULL AND e->>'username' IS DISTINCT FROM c.username)
                            OR (e->>'avatar_url' IS NOT NULL AND e->>'avatar_url' IS DISTINCT FROM c.avatar_url)
                            OR (e->>'email' IS NOT NULL AND e->>'email' IS DISTINCT FROM c.email)
                            OR (e->>'extras' IS NOT NULL AND e->>'extras' IS DISTINCT FROM c.extras) THEN
                            UPDATE contacts SET display_name = coalesce(e->>'display_name', display_name),
                                username = coalesce(e->>'username', username), avatar_url = coalesce(e->>'avatar_url', avatar_url),
                                email = coalesce(e->>'email', email), extras = coalesce(e->>'extras', extras), updated_at = p_now
                            WHERE id = c.id;
                        END IF;
                    ELSE
                        INSERT INTO contacts (channel_id, external_id, display_name, username, avatar_url, email, extras, created_at, updated_at)
                        VALUES (p_channel, v_external, e->>'display_name', e->>'username', e->>'avatar_url', e->>'email', e->>'extras', p_now, p_now)
                        ON CONFLICT (channel_id, external_id) DO UPDATE SET
                            display_name = coalesce(excluded.display_name, contacts.display_name),
                            username = coalesce(excluded.username, contacts.username),
                            avatar_url = coalesce(excluded.avatar_url, contacts.avatar_url),
                            email = coalesce(excluded.email, contacts.email),
                            extras = coalesce(excluded.extras, contacts.extras),
                            updated_at = excluded.updated_at
                        RETURNING id INTO v_contact;
                    END IF;

                    v_inbound := least((e->>'occurred_at')::DOUBLE PRECISION, p_now);
                    -- The usual case, an open room, in one statement.
                    UPDATE rooms SET last_message_at = p_now, last_inbound_at = greatest(coalesce(last_inbound_at, 0), v_inbound),
                        reply_context = coalesce(e->>'reply_context', reply_context), title = coalesce(e->>'title', title)
                    WHERE channel_id = p_channel AND conversation_id = v_conversation AND status <> 'resolved'
                    RETURNING id, status INTO v_room, v_status;
                    IF NOT FOUND THEN
                        SELECT id, status INTO v_room, v_status FROM rooms WHERE channel_id = p_channel AND conversation_id = v_conversation;
                        IF FOUND THEN
                            IF v_status = 'resolved' THEN
                                -- A new message reopens the room as a new session: the bot first when the channel has one.
                                UPDATE rooms SET status = v_opening, assignee_id = NULL, session = session + 1, division_id = p_division,
                                    waiting_since = p_now, resolved_at = NULL, last_message_at = p_now, allocation_requested_at = NULL,
                                    last_inbound_at = greatest(coalesce(last_inbound_at, 0), v_inbound),
                                    reply_context = coalesce(e->>'reply_context', reply_context), title = coalesce(e->>'title', title)
                                WHERE id = v_room;
                                INSERT INTO room_events (room_id, from_status, to_status, assignee_id, actor, at)
                                VALUES (v_room, 'resolved', v_opening, NULL, 'customer', p_now);
                                v_transitions := v_transitions || jsonb_build_object('room', v_room, 'from', 'resolved', 'to', v_opening);
                                v_status := v_opening;
                            END IF;
                        ELSE
                            INSERT INTO rooms (channel_id, conversation_id, contact_id, status, division_id, waiting_since, last_message_at,
                                created_at, last_inbound_at, reply_context, title)
                            VALUES (p_channel, v_conversation, v_contact, v_opening, p_division, p_now, p_now, p_now, v_inbound,
                                e->>'reply_context', e->>'title')
                            RETURNING id INTO v_room;
                            INSERT INTO room_events (room_id, from_status, to_status, assignee_id, actor, at)
                            VALUES (v_room, NULL, v_opening, NULL, 'customer', p_now);
                            v_transitions := v_transitions || jsonb_build_object('room', v_room, 'to', v_opening);
                            v_status := v_opening;
                        END IF;
                    END IF;

                    INSERT INTO messages (room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                    VALUES (v_room, 'inbound', e->>'type', e->>'text', e->>'url', e->>'content', e->>'raw', e->>'network_message_id',
                        (e->>'occurred_at')::DOUBLE PRECISION, 'received')
                    RETURNING id INTO v_message;
                    v_messages := v_messages || jsonb_build_object('index', v_index, 'id', v_message, 'room', v_room);
                    IF v_status = 'bot' THEN
                        -- The bot has the room: the message goes to the bot's webhook, durably.
                        INSERT INTO outbox (room_id, channel_id, message_id, target, next_attempt_at, created_at)
                        VALUES (v_room, p_channel, v_message, 'bot', p_now, p_now);
                    END IF;
                    IF e->>'follow_up' IS NOT NULL THEN
                        INSERT INTO outbox (room_id, channel_id, action, next_attempt_at, created_at)
                        VALUES (v_room, p_channel, e->>'follow_up', p_now, p_now);
                    END IF;
                    IF v_status = 'waiting' AND NOT (v_room = ANY(v_waiting)) THEN
                        v_waiting := v_waiting || v_room;
                    END IF;

                ELSIF v_kind = 'echo' THEN
                    -- The business's own message sent from elsewhere: kept in the history, not routed.
                    SELECT id INTO v_room FROM rooms WHERE channel_id = p_channel AND conversation_id = v_conversation;
                    CONTINUE WHEN NOT FOUND;
                    CONTINUE WHEN e->>'network_message_id' IS NOT NULL AND EXISTS (
                        SELECT 1 FROM messages
                        WHERE room_id = v_room AND direction = 'outbound' AND network_message_id = e->>'network_message_id');
                    INSERT INTO messages (room_id, direction, type, text, url, content, raw, network_message_id, created_at, delivery_status)
                    VALUES (v_room, 'outbound', e->>'type', e->>'text', e->>'url', e->>'content', e->>'raw', e->>'network_message_id',
                        (e->>'occurred_at')::DOUBLE PRECISION, 'delivered');

                ELSIF v_kind = 'receipt' THEN
                    -- Receipts move our messages forward only: pending/delivered → read, never
                    -- read → delivered; failed unless already read.
                    SELECT id INTO v_room FROM rooms WHERE channel_id = p_channel AND conversation_id = v_conversation;
                    CONTINUE WHEN NOT FOUND;
                    v_receipt := e->>'receipt_status';
                    v_rank := CASE WHEN v_receipt = 'read' THEN 2 ELSE 1 END;
                    v_ids := ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'receipt_ids', '[]')));
                    IF cardinality(v_ids) > 0 THEN
                        WITH changed AS (
                            UPDATE messages SET delivery_status = v_receipt,
                                delivery_error = CASE WHEN v_receipt = 'failed'
                                    THEN coalesce(e->>'receipt_error', 'the network reported a failure') ELSE delivery_error END
                            WHERE room_id = v_room AND direction = 'outbound' AND network_message_id = ANY(v_ids)
                              AND ((v_receipt = 'failed' AND delivery_status <> 'read')
                                OR (v_receipt <> 'failed' AND delivery_status <> 'failed'
                                    AND (CASE delivery_status WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END) < v_rank))
                            RETURNING id, delivery_status, attempts, delivery_error)
                        SELECT coalesce(jsonb_agg(jsonb_build_object(
                            'room', v_room, 'id', id, 'status', delivery_status, 'attempts', attempts, 'error', delivery_error)), '[]')
                        INTO v_changed FROM changed;
                    ELSIF e->>'watermark' IS NOT NULL THEN
                        -- Everything the network had accepted up to the watermark.
                        WITH changed AS (
                            UPDATE messages SET delivery_status = v_receipt,
                                delivery_error = CASE WHEN v_receipt = 'failed'
                                    THEN coalesce(e->>'receipt_error', 'the network reported a failure') ELSE delivery_error END
                            WHERE room_id = v_room AND direction = 'outbound' AND delivery_status <> 'pending'
                              AND created_at <= (e->>'watermark')::DOUBLE PRECISION
                              AND ((v_receipt = 'failed' AND delivery_status <> 'read')
                                OR (v_receipt <> 'failed' AND delivery_status <> 'failed'
                                    AND (CASE delivery_status WHEN 'read' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END) < v_rank))
                            RETURNING id, delivery_status, attempts, delivery_error)
                        SELECT coalesce(jsonb_agg(jsonb_build_object(
                            'room', v_room, 'id', id, 'status', delivery_status, 'attempts', attempts, 'error', delivery_error)), '[]')
                        INTO v_changed FROM changed;
                    ELSE
                        CONTINUE;
                    END IF;
                    v_deliveries := v_deliveries || v_changed;

                ELSIF v_kind = 'system' THEN
                    -- What the network told about a known room that is not a message.
                    CONTINUE WHEN e->>'notice_kind' IS NULL;
                    SELECT id INTO v_room FROM rooms WHERE channel_id = p_channel AND conversation_id = v_conversation;
                    CONTINUE WHEN NOT FOUND;
                    INSERT INTO room_notices (room_id, kind, name, at) VALUES (v_room, e->>'notice_kind', e->>'notice_name', p_now);
                    v_notices := v_notices || jsonb_build_object('room', v_room, 'kind', e->>'notice_kind', 'name', e->>'notice_name');
                END IF;
            END LOOP;
            RETURN jsonb_build_object('stored', v_stored, 'duplicates', v_duplicates, 'rooms', to_jsonb(v_waiting),
                'transitions', v_transitions, 'messages', v_messages, 'deliveries', v_deliveries, 'notices', v_notices);
        END $$;

        -- A group holds what it wrote until its commit; a channel's activity row, written
        -- at most every 5 s, would otherwise be waited for in any order by concurrent
        -- groups (each has several channels): a deadlock, found after a second. A row
        -- another transaction is writing now is left to it instead (its time is as
        -- recent); rows are created by omnichat_ingest_group, in order, beforehand.
        CREATE OR REPLACE FUNCTION channel_activity_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM channel_activity
                       WHERE channel_id = NEW.channel_id AND last_webhook_at > NEW.received_at - 5) THEN
                RETURN NULL;
            END IF;
            PERFORM 1 FROM channel_activity WHERE channel_id = NEW.channel_id FOR UPDATE SKIP LOCKED;
            IF FOUND THEN
                UPDATE channel_activity SET last_webhook_at = greatest(coalesce(last_webhook_at, 0), NEW.received_at)
                WHERE channel_id = NEW.channel_id;
            ELSIF NOT EXISTS (SELECT 1 FROM channel_activity WHERE channel_id = NEW.channel_id) THEN
                INSERT INTO channel_activity (channel_id, last_webhook_at) VALUES (NEW.channel_id, NEW.received_at)
                ON CONFLICT (channel_id) DO NOTHING;
            END IF;
            RETURN NULL;
        END $$;

        -- A group of webhook requests, each {channel, bot, division, events}: their
        -- conversations locked in one order, then each request in a subtransaction.
        -- A request that fails answers {"error": …} and stored nothing; a deadlock
        -- or serialization failure fails the group (the caller runs it again).
        CREATE FUNCTION omnichat_ingest_group(p_now DOUBLE PRECISION, p_requests JSONB)
        RETURNS JSONB LANGUAGE plpgsql AS $$
        DECLARE
            r JSONB;
            v_key BIGINT;
            v_results JSONB := '[]';
        BEGIN
            FOR v_key IN
                SELECT DISTINCT hashtextextended((request.value->>'channel') || '/' || (event.value->>'conversation_id'), 0)
                FROM jsonb_array_elements(p_requests) AS request, jsonb_array_elements(request.value->'events') AS event
                WHERE coalesce(event.value->>'conversation_id', '') <> ''
                ORDER BY 1
            LOOP
                PERFORM pg_advisory_xact_lock(v_key);
            END LOOP;
            -- Each channel's activity row exists before any webhook of the group writes it,
            -- created in one order: concurrent groups never wait on each other's new rows.
            INSERT INTO channel_activity (channel_id)
            SELECT DISTINCT request.value->>'channel' FROM jsonb_array_elements(p_requests) AS request ORDER BY 1
            ON CONFLICT (channel_id) DO NOTHING;
            FOR r IN SELECT value FROM jsonb_array_elements(p_requests) LOOP
                BEGIN
                    v_results := v_results || jsonb_build_array(omnichat_ingest(
                        r->>'channel', (r->>'bot')::BOOLEAN, (r->>'division')::BIGINT, p_now, r->'events'));
                EXCEPTION
                    WHEN serialization_failure OR deadlock_detected THEN RAISE;
                    WHEN OTHERS THEN
                        v_results := v_results || jsonb_build_array(jsonb_build_object('error', SQLERRM, 'state', SQLSTATE));
                END;
            END LOOP;
            RETURN v_results;
        END $$;
        """
}
