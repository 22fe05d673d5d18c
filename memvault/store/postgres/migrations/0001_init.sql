-- memvault schema, version 1 (PostgreSQL 13+ with pgvector 0.8+).
--
-- Tenancy: every memory-bearing table carries project_id, and its primary key and btree indexes lead with it,
-- so the tables can be distributed by project_id (Citus) unchanged. projects, api_keys and meta are small
-- lookup tables read before the tenant is known (a key is found by its hash): reference tables under Citus.
--
-- Vectors: `embedding` is an untyped `vector` (any dimension), `dim` is generated from it, and the store creates
-- one partial HNSW index per dimension the first time it sees that dimension:
--   CREATE INDEX memories_hnsw_<dim> ON memories USING hnsw ((embedding::vector(<dim>)) vector_cosine_ops)
--   WHERE dim = <dim>
-- so changing embedding model never needs a schema change. Identifiers compare bytewise (COLLATE "C"),
-- as in the SQLite store.

CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);

CREATE TABLE projects (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id text COLLATE "C" PRIMARY KEY,
  project_id text COLLATE "C" NOT NULL REFERENCES projects(id),
  name text NOT NULL,
  prefix text COLLATE "C" NOT NULL,
  key_hash text COLLATE "C" NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX api_keys_project ON api_keys (project_id, created_at);
CREATE INDEX api_keys_prefix ON api_keys (prefix);

CREATE TABLE buckets (
  project_id text COLLATE "C" NOT NULL REFERENCES projects(id),
  id text COLLATE "C" NOT NULL,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, id)
);
CREATE UNIQUE INDEX buckets_name ON buckets (project_id, lower(name));

CREATE TABLE memories (
  project_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  text text NOT NULL,
  hash text COLLATE "C" NOT NULL,
  user_id text COLLATE "C",
  agent_id text COLLATE "C",
  app_id text COLLATE "C",
  run_id text COLLATE "C",
  bucket_id text COLLATE "C" NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}',
  categories jsonb NOT NULL DEFAULT '[]',
  source text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  expiration_date timestamptz,
  embedding vector NOT NULL,
  dim integer GENERATED ALWAYS AS (vector_dims(embedding)) STORED,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX memories_created ON memories (project_id, created_at, seq);
CREATE INDEX memories_user ON memories (project_id, user_id, created_at);
CREATE INDEX memories_agent ON memories (project_id, agent_id);
CREATE INDEX memories_app ON memories (project_id, app_id);
CREATE INDEX memories_run ON memories (project_id, run_id);
CREATE INDEX memories_bucket ON memories (project_id, bucket_id);
CREATE INDEX memories_hash ON memories (project_id, hash);
-- Keyword index: english stemming, tenant first (btree_gin).
CREATE INDEX memories_tsv ON memories USING gin (project_id, tsv);
-- The one index not led by project_id: an import must not take an id another tenant already uses.
CREATE INDEX memories_id ON memories (id);

CREATE TABLE history (
  project_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  memory_id text COLLATE "C" NOT NULL,
  event text NOT NULL,
  old_text text,
  new_text text,
  input json,
  user_id text,
  agent_id text,
  app_id text,
  run_id text,
  metadata json,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX history_memory ON history (project_id, memory_id, seq);
