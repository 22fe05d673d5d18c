-- The queue of async adds (Mem0's async_mode), shared by every server on the database: a worker claims the oldest
-- PENDING job with FOR UPDATE SKIP LOCKED and holds it until `lease_expires`; a job whose holder died is taken up
-- again after that. A job's id is the event_id its add answered. `request` holds the add's arguments (the user's
-- messages) until the job has run: the transaction that records the result blanks it, and `results` holds only
-- memory ids and event kinds, so a later delete of those memories leaves no text here.
CREATE TABLE IF NOT EXISTS jobs (
  project_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  status text NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
  request jsonb,
  results jsonb,
  error text,
  lease_owner text,
  lease_expires timestamptz,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (project_id, id)
);
CREATE INDEX IF NOT EXISTS jobs_waiting ON jobs(seq) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS jobs_running ON jobs(lease_expires) WHERE status = 'RUNNING';
