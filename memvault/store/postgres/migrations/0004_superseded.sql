-- A memory replaced by a newer fact (the lifecycle's SUPERSEDE) keeps its row, marked with the memory that
-- replaced it and when. Live memories have no entry in the index; purging superseded memories reads it by time.
ALTER TABLE memories ADD COLUMN IF NOT EXISTS superseded_by text COLLATE "C";
ALTER TABLE memories ADD COLUMN IF NOT EXISTS superseded_at timestamptz;
CREATE INDEX IF NOT EXISTS memories_superseded ON memories (project_id, superseded_at) WHERE superseded_by IS NOT NULL
