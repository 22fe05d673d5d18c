CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  key_hash TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

CREATE TABLE buckets (
  project_id TEXT NOT NULL REFERENCES projects(id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  PRIMARY KEY (project_id, id)
);
CREATE UNIQUE INDEX buckets_name ON buckets (project_id, lower(name));

CREATE TABLE memories (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
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
  embedding BLOB NOT NULL
);
CREATE INDEX memories_created ON memories (project_id, created_at, seq);
CREATE INDEX memories_user ON memories (project_id, user_id, created_at);
CREATE INDEX memories_agent ON memories (project_id, agent_id);
CREATE INDEX memories_app ON memories (project_id, app_id);
CREATE INDEX memories_run ON memories (project_id, run_id);
CREATE INDEX memories_bucket ON memories (project_id, bucket_id);
CREATE INDEX memories_hash ON memories (project_id, hash);

-- Keyword index; rowid = memories.seq. Porter stemming over unicode61 words.
CREATE VIRTUAL TABLE memories_fts USING fts5 (text, tokenize = 'porter unicode61 remove_diacritics 2');

CREATE TABLE history (
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
  created_at TEXT NOT NULL
);
CREATE INDEX history_memory ON history (project_id, memory_id, seq);

-- Every change to a vector, in commit order: what in-memory vector indexes replay to stay current.
CREATE TABLE vector_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  mem_seq INTEGER NOT NULL,
  op TEXT NOT NULL
);
