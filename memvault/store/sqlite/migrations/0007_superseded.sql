-- A memory replaced by a newer fact (the lifecycle's SUPERSEDE) keeps its row, marked with the memory that
-- replaced it and when. Live memories have no entry in the new index; purging superseded memories reads it by time.
-- The user index also carries superseded_by: list and search hide superseded memories by default, and a keyword
-- search's scope count with a user filter stays answered by the index alone (see 0003).
ALTER TABLE memories ADD COLUMN superseded_by TEXT;
ALTER TABLE memories ADD COLUMN superseded_at TEXT;
CREATE INDEX memories_superseded ON memories (project_id, superseded_at) WHERE superseded_by IS NOT NULL;
DROP INDEX memories_user;
CREATE INDEX memories_user ON memories (project_id, user_id, created_at, expiration_date, superseded_by)
  WHERE user_id IS NOT NULL
