-- Feedback on a memory (Mem0's POSITIVE / NEGATIVE / VERY_NEGATIVE, the last one counts) lives on its row, so a
-- delete takes it along. `records` holds a project's small JSON documents by kind and id (memory exports, profile
-- settings, profile jobs), each with an optional expiry after which no read returns it.
ALTER TABLE memories ADD COLUMN IF NOT EXISTS feedback text COLLATE "C";
ALTER TABLE memories ADD COLUMN IF NOT EXISTS feedback_reason text;
CREATE TABLE IF NOT EXISTS records (
  project_id text COLLATE "C" NOT NULL,
  kind text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  body jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expires_at timestamptz,
  PRIMARY KEY (project_id, kind, id)
);
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires_at) WHERE expires_at IS NOT NULL
