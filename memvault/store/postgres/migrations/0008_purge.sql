-- Purging: the sweep (engine.purge) deletes memories that expired or were superseded some days ago, with every
-- guarantee of a delete. Its DELETE events say why ("expired" or "superseded"); every other event has no reason.
ALTER TABLE history ADD COLUMN IF NOT EXISTS reason text;
-- The sweep reads expired memories across projects by date; memories without an expiration date are not in it.
CREATE INDEX IF NOT EXISTS memories_expiring ON memories (expiration_date) WHERE expiration_date IS NOT NULL;
