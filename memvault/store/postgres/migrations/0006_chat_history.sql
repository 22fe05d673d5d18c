-- The chat-history archive (MemoryPlugin's /api/chat-history): conversations, their messages, and the chunks
-- search reads. A chunk's vector is an untyped `vector` with one partial HNSW index per dimension, made by the
-- store the first time it sees the dimension (chat_chunks_hnsw_<dim>), as for memories; its words are a
-- generated english tsvector under a GIN index led by the project.
CREATE TABLE IF NOT EXISTS chat_conversations (
  project_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  platform text COLLATE "C" NOT NULL,
  platform_conversation_id text COLLATE "C" NOT NULL,
  platform_display_name text,
  title text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  imported_at timestamptz NOT NULL,
  import_id text COLLATE "C" NOT NULL,
  message_count integer NOT NULL DEFAULT 0,
  token_count integer NOT NULL DEFAULT 0,
  status text NOT NULL,
  status_reason text,
  pinned boolean NOT NULL DEFAULT false,
  PRIMARY KEY (project_id, id),
  UNIQUE (project_id, platform, platform_conversation_id)
);
CREATE INDEX IF NOT EXISTS chat_conversations_updated ON chat_conversations (project_id, updated_at, seq);

CREATE TABLE IF NOT EXISTS chat_messages (
  project_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  position integer NOT NULL,
  role text NOT NULL,
  content text NOT NULL,
  created_at timestamptz,
  PRIMARY KEY (project_id, conversation_id, id)
);
CREATE INDEX IF NOT EXISTS chat_messages_position ON chat_messages (project_id, conversation_id, position);

CREATE TABLE IF NOT EXISTS chat_chunks (
  project_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  conversation_id text COLLATE "C" NOT NULL,
  platform text COLLATE "C" NOT NULL,
  first_position integer NOT NULL,
  last_position integer NOT NULL,
  text text NOT NULL,
  embedding vector NOT NULL,
  dim integer GENERATED ALWAYS AS (vector_dims(embedding)) STORED,
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX IF NOT EXISTS chat_chunks_conversation ON chat_chunks (project_id, conversation_id, first_position);
CREATE INDEX IF NOT EXISTS chat_chunks_tsv ON chat_chunks USING gin (project_id, tsv);
