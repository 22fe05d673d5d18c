-- The queue of async adds (Mem0's async_mode). A job's id is the event_id its add answered. `request` holds the
-- add's arguments (the user's messages) until the job has run: the transaction that records the result blanks it,
-- and `results` holds only memory ids and event kinds, so a later delete of those memories leaves no text here.
-- A worker holds a RUNNING job until `lease_expires`; a job whose holder died is taken up again after that.
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
  request TEXT,
  results TEXT,
  error TEXT,
  lease_owner TEXT,
  lease_expires TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);  -- waiting ones are taken in rowid (creation) order
