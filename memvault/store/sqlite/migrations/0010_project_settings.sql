-- What a project tells memvault about itself (Mem0's project settings): a display name, the categories that replace
-- the defaults (a JSON list of {name: description}, in order), and the instructions for the LLM extractor and
-- decider. A project without a row has the defaults; NULL columns are the defaults too.
CREATE TABLE IF NOT EXISTS project_settings (
  project_id TEXT PRIMARY KEY REFERENCES projects(id),
  name TEXT,
  custom_categories TEXT,
  custom_instructions TEXT,
  agent_custom_instructions TEXT,
  updated_at TEXT NOT NULL
);
-- 1 when memvault chose the memory's categories (none were given): a text update then chooses them again.
ALTER TABLE memories ADD COLUMN categories_auto INTEGER NOT NULL DEFAULT 0
