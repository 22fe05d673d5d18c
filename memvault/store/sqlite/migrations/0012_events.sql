-- The change log (a transactional outbox): one row per change to a memory, written by the transaction that makes
-- the change (the store's `_insert_events`). `seq` orders the log (AUTOINCREMENT: never reused, even after the
-- oldest rows are trimmed, so a webhook's cursor stays valid); writes are serialized, so seq order is commit order.
-- A log row holds no text: an add or update event reads the memory's text from the history event of the same id,
-- which a delete blanks in its own transaction (forget means forget, for the log too, at no cost to the delete).
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  type TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  user_id TEXT,
  agent_id TEXT,
  app_id TEXT,
  run_id TEXT,
  actor TEXT NOT NULL,
  key_id TEXT,
  key_name TEXT,
  request_id TEXT,
  detail TEXT,
  batch_id TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_project ON events (project_id, seq);
CREATE INDEX IF NOT EXISTS events_memory ON events (project_id, memory_id, seq);
-- Two indexes only (each one costs every write): by project in log order (the feed, deliveries, a write's batch:
-- its rows are consecutive in its project's order) and by memory (the feed's memory filter, and an event found by
-- its id through the history event of the same id).
-- A project's webhooks; each delivers the log from its cursor (the seq of the last event it handled).
CREATE TABLE IF NOT EXISTS webhooks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  event_types TEXT NOT NULL,
  secret TEXT NOT NULL,
  is_active INTEGER NOT NULL DEFAULT 1,
  cursor INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  failing_since TEXT,
  next_attempt_at TEXT,
  last_error TEXT,
  disabled_at TEXT,
  lease_owner TEXT,
  lease_until TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhooks_project ON webhooks (project_id, id)
