#!/usr/bin/env python3
"""Fills a migrated omnichat SQLite file with OPEN_ROOMS open rooms and
MESSAGES messages (plain SQL, as fast as SQLite allows) for the memory and
start-up benchmark. Usage: populate.py DB OPEN_ROOMS MESSAGES"""
import sqlite3, sys, time

db, rooms, messages = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(db)
c.execute("PRAGMA synchronous = OFF")
c.execute("PRAGMA journal_mode = WAL")
now = time.time()
c.execute("INSERT INTO users (id, email, name, role, password_hash, online, created_at) VALUES (1000000, 'bench@agent', 'Bench', 'agent', 'x', 0, ?)", (now,))
c.executemany("INSERT INTO contacts (id, channel_id, external_id, created_at, updated_at) VALUES (?, 'telegram', ?, ?, ?)",
              ((i + 1, str(i), now, now) for i in range(rooms)))
c.executemany("INSERT INTO rooms (id, channel_id, conversation_id, contact_id, status, assignee_id, last_message_at, created_at) VALUES (?, 'telegram', ?, ?, 'assigned', 1000000, ?, ?)",
              ((i + 1, str(i), i + 1, now, now) for i in range(rooms)))
content = '{"type":"text","text":"a stored message for the benchmark"}'
c.executemany("INSERT INTO messages (id, room_id, direction, type, text, content, created_at, delivery_status) VALUES (?, ?, 'inbound', 'text', 'a stored message for the benchmark', ?, ?, 'received')",
              ((i + 1, i % rooms + 1, content, now) for i in range(messages)))
c.execute("UPDATE users SET open_rooms = ? WHERE id = 1000000", (rooms,))
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
print(f"populated {rooms} open rooms and {messages} messages")
