-- The change log keyed by the history, in a table of its own (`change_log`; `events` goes). A log row takes the
-- `seq` of the history event it logs (written in the same transaction, under the same write lock, so history seq
-- order is commit order too) and holds only what the history row does not: the type, the origin (actor, key,
-- request), the detail, the batch and the write's time. The event's id, memory and owners are read from the history
-- row, met by rowid. The log's random-key index by memory goes: the feed's memory filter and a lookup by event id go
-- through the history's own indexes. A delete of 1,000 memories at 100,000 wrote about 1,060 pages of that index;
-- now the log adds its rows and a few pages of the index by project (rows appended in log order).
-- Old rows move to their history event's seq (same order: both were written together); each webhook's cursor moves
-- to the history seq of the last event it had passed, so every delivery still to make stays after it. (With no old
-- row the cursors stay: a new event's seq is above every history seq, so above any old cursor.)
-- The script runs again on a file already past it (0012 then makes an empty `events`, which this drops again).
CREATE TABLE IF NOT EXISTS change_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  key_id TEXT,
  key_name TEXT,
  request_id TEXT,
  detail TEXT,
  batch_id TEXT,
  created_at TEXT NOT NULL
);
INSERT INTO change_log (seq, project_id, type, actor, key_id, key_name, request_id, detail, batch_id, created_at)
  SELECT h.seq, e.project_id, e.type, e.actor, e.key_id, e.key_name, e.request_id, e.detail, e.batch_id, e.created_at
  FROM events e JOIN history h ON h.id = e.id AND h.project_id = e.project_id ORDER BY e.seq;
UPDATE webhooks SET cursor = coalesce(
  (SELECT h.seq FROM events e JOIN history h ON h.id = e.id AND h.project_id = e.project_id
   WHERE e.seq <= webhooks.cursor ORDER BY e.seq DESC LIMIT 1),
  (SELECT h.seq - 1 FROM events e JOIN history h ON h.id = e.id AND h.project_id = e.project_id
   WHERE e.seq > webhooks.cursor ORDER BY e.seq LIMIT 1),
  cursor)
  WHERE EXISTS (SELECT 1 FROM events);
DROP TABLE events;
CREATE INDEX IF NOT EXISTS change_log_project ON change_log (project_id, seq)
