-- The chat-history archive (MemoryPlugin's /api/chat-history): conversations, their messages, and the chunks
-- search reads. A chunk's vector is in its row (read into an in-memory index, fed by chat_vector_log as
-- vector_log feeds the memories' one); its words are in chat_chunks_fts (rowid = chat_chunks.seq), scoped to the
-- project by a token as memories_fts is. (IF NOT EXISTS: a file set back to an older version number runs it again.)
CREATE TABLE IF NOT EXISTS chat_conversations (
  seq INTEGER PRIMARY KEY,
  project_id TEXT NOT NULL,
  id TEXT NOT NULL,
  platform TEXT NOT NULL,
  platform_conversation_id TEXT NOT NULL,
  platform_display_name TEXT,
  title TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  imported_at TEXT NOT NULL,
  import_id TEXT NOT NULL,
  message_count INTEGER NOT NULL DEFAULT 0,
  token_count INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  status_reason TEXT,
  pinned INTEGER NOT NULL DEFAULT 0,
  UNIQUE (project_id, id),
  UNIQUE (project_id, platform, platform_conversation_id)
);
CREATE INDEX IF NOT EXISTS chat_conversations_updated ON chat_conversations (project_id, updated_at, seq);

CREATE TABLE IF NOT EXISTS chat_messages (
  seq INTEGER PRIMARY KEY,
  project_id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  id TEXT NOT NULL,
  position INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  created_at TEXT,
  UNIQUE (project_id, conversation_id, id)
);
CREATE INDEX IF NOT EXISTS chat_messages_position ON chat_messages (project_id, conversation_id, position);

CREATE TABLE IF NOT EXISTS chat_chunks (
  seq INTEGER PRIMARY KEY,
  project_id TEXT NOT NULL,
  id TEXT NOT NULL,
  conversation_id TEXT NOT NULL,
  platform TEXT NOT NULL,
  first_position INTEGER NOT NULL,
  last_position INTEGER NOT NULL,
  text TEXT NOT NULL,
  embedding BLOB NOT NULL,
  UNIQUE (project_id, id)
);
CREATE INDEX IF NOT EXISTS chat_chunks_conversation ON chat_chunks (project_id, conversation_id, first_position);

CREATE VIRTUAL TABLE IF NOT EXISTS chat_chunks_fts USING fts5 (text, scope, tokenize = 'porter unicode61 remove_diacritics 2');

CREATE TABLE IF NOT EXISTS chat_vector_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  chunk_seq INTEGER NOT NULL,
  op TEXT NOT NULL
);
