-- Forget means forget, for history and imports.
-- 1. A history event keeps as its `input` only the one message its memory was made of (engine.own_input): an ADD
--    whose input is a single message saying, once stripped, the event's new text. Inputs written before (the whole
--    conversation, on every fact inferred from it) also held the words of sibling facts, which outlived their
--    delete; they are dropped here. Trimming fewer characters than Python's strip() only drops more.
UPDATE history SET input = NULL
WHERE input IS NOT NULL AND NOT (
  event = 'ADD' AND new_text IS NOT NULL AND json_valid(input) AND json_type(input) = 'array'
  AND json_array_length(input) = 1 AND json_type(input, '$[0].content') = 'text'
  AND json_type(input, '$[0].role') = 'text'
  AND trim(json_extract(input, '$[0].content'), ' ' || char(9, 10, 11, 12, 13)) = new_text
);
-- A kept message keeps its role and content only (an imported one could carry more).
UPDATE history SET input = json_array(json_object('role', json_extract(input, '$[0].role'),
                                                  'content', json_extract(input, '$[0].content')))
WHERE input IS NOT NULL AND (SELECT count(*) FROM json_each(input, '$[0]')) <> 2;
-- 2. Memory ids are each project's own (unique per project, as on PostgreSQL): an import that brings an id another
--    project also holds is imported, and learns nothing about that project. SQLite cannot drop a UNIQUE column
--    constraint, so the table is made again (same columns, same seq: the keyword index and vector_log key on it).
CREATE TABLE memories_new (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  text TEXT NOT NULL,
  hash TEXT NOT NULL,
  user_id TEXT,
  agent_id TEXT,
  app_id TEXT,
  run_id TEXT,
  bucket_id TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  categories TEXT NOT NULL DEFAULT '[]',
  source TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  expiration_date TEXT,
  embedding BLOB NOT NULL,
  UNIQUE (id, project_id)
);
INSERT INTO memories_new(seq, id, project_id, text, hash, user_id, agent_id, app_id, run_id, bucket_id, metadata,
                         categories, source, created_at, updated_at, expiration_date, embedding)
  SELECT seq, id, project_id, text, hash, user_id, agent_id, app_id, run_id, bucket_id, metadata,
         categories, source, created_at, updated_at, expiration_date, embedding FROM memories;
DROP TABLE memories;
ALTER TABLE memories_new RENAME TO memories;
-- The unique (id, project_id) index leads with id, so lookups by id probe it as they probed the old id index.
CREATE INDEX memories_created ON memories (project_id, created_at, seq);
CREATE INDEX memories_user ON memories (project_id, user_id, created_at, expiration_date) WHERE user_id IS NOT NULL;
CREATE INDEX memories_agent ON memories (project_id, agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX memories_app ON memories (project_id, app_id) WHERE app_id IS NOT NULL;
CREATE INDEX memories_run ON memories (project_id, run_id, created_at, seq) WHERE run_id IS NOT NULL;
CREATE INDEX memories_bucket ON memories (project_id, bucket_id);
CREATE INDEX memories_hash ON memories (project_id, hash);
