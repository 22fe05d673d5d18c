-- Purging: the sweep (engine.purge) deletes memories that expired or were superseded some days ago, with every
-- guarantee of a delete. Its DELETE events say why in a new `reason` column ("expired" or "superseded"); every other
-- event has none. The table is made again with the column (same rows, same seq) rather than altered, so the script
-- also runs on a file whose history already has it.
CREATE TABLE history_new (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL,
  memory_id TEXT NOT NULL,
  event TEXT NOT NULL,
  old_text TEXT,
  new_text TEXT,
  input TEXT,
  user_id TEXT,
  agent_id TEXT,
  app_id TEXT,
  run_id TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL,
  reason TEXT
);
INSERT INTO history_new (seq, id, project_id, memory_id, event, old_text, new_text, input, user_id, agent_id, app_id,
                         run_id, metadata, created_at)
  SELECT seq, id, project_id, memory_id, event, old_text, new_text, input, user_id, agent_id, app_id, run_id, metadata,
         created_at FROM history;
DROP TABLE history;
ALTER TABLE history_new RENAME TO history;
CREATE INDEX history_memory ON history (project_id, memory_id, seq);
-- The sweep reads expired memories across projects by date; memories without an expiration date are not in it.
CREATE INDEX IF NOT EXISTS memories_expiring ON memories (expiration_date) WHERE expiration_date IS NOT NULL;
