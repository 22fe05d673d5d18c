-- What a project tells memvault about itself (Mem0's project settings): a display name, the categories that replace
-- the defaults (a JSON list of {name: description}, in order), and the instructions for the LLM extractor and
-- decider. A project without a row has the defaults; NULL columns are the defaults too. A small lookup table, as
-- projects is (a reference table under Citus).
CREATE TABLE IF NOT EXISTS project_settings (
  project_id text COLLATE "C" PRIMARY KEY REFERENCES projects(id),
  name text,
  custom_categories jsonb,
  custom_instructions text,
  agent_custom_instructions text,
  updated_at timestamptz NOT NULL
);
-- true when memvault chose the memory's categories (none were given): a text update then chooses them again.
ALTER TABLE memories ADD COLUMN IF NOT EXISTS categories_auto boolean NOT NULL DEFAULT false
