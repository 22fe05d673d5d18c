-- Feedback on a memory (Mem0's POSITIVE / NEGATIVE / VERY_NEGATIVE, the last one counts) lives on its row, so a
-- delete takes it along. `records` holds a project's small JSON documents by kind and id (memory exports, profile
-- settings, profile jobs), each with an optional expiry after which no read returns it.
ALTER TABLE memories ADD COLUMN feedback TEXT;
ALTER TABLE memories ADD COLUMN feedback_reason TEXT;
CREATE TABLE IF NOT EXISTS records (
  project_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expires_at TEXT,
  PRIMARY KEY (project_id, kind, id)
);
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL
