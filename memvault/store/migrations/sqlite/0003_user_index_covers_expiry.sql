-- A keyword search counts the memories of its scope (up to 5,000) for its IDF. With a user filter that count
-- also checks each memory's expiration: carrying expiration_date in the user index answers it from the index
-- alone (measured at 100,000 memories of one user: 4.8 ms -> 0.5 ms).
DROP INDEX memories_user;
CREATE INDEX memories_user ON memories (project_id, user_id, created_at, expiration_date);
