-- The change log (a transactional outbox): one row per change to a memory, written by the transaction that makes
-- the change (the store's `_insert_events`), tenant first like every memory-bearing table. Writers of one project
-- take a transaction-scoped advisory lock before their log rows (held to their commit), so within a project seq
-- order is commit order and a reader that has seen seq n will never see a smaller one appear. A log row holds no
-- text: an add or update event reads the memory's text from the history event of the same id, which a delete blanks
-- in its own transaction (forget means forget, for the log too, at no cost to the delete).
CREATE TABLE IF NOT EXISTS events (
  project_id text COLLATE "C" NOT NULL,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  id text COLLATE "C" NOT NULL,
  type text NOT NULL,
  memory_id text COLLATE "C" NOT NULL,
  user_id text,
  agent_id text,
  app_id text,
  run_id text,
  actor text NOT NULL,
  key_id text,
  key_name text,
  request_id text,
  detail jsonb,
  batch_id text COLLATE "C",
  created_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, seq)
);
CREATE INDEX IF NOT EXISTS events_memory ON events (project_id, memory_id, seq);
-- Two indexes only (each one costs every write): by project in log order (the feed, deliveries, a write's batch:
-- its rows are consecutive in its project's order) and by memory (the feed's memory filter, and an event found by
-- its id through the history event of the same id).
-- A project's webhooks; each delivers the log from its cursor (the seq of the last event it handled).
CREATE TABLE IF NOT EXISTS webhooks (
  project_id text COLLATE "C" NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  name text NOT NULL,
  url text NOT NULL,
  event_types jsonb NOT NULL,
  secret text NOT NULL,
  is_active boolean NOT NULL DEFAULT true,
  cursor bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  failing_since timestamptz,
  next_attempt_at timestamptz,
  last_error text,
  disabled_at timestamptz,
  lease_owner text,
  lease_until timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (project_id, id)
);
