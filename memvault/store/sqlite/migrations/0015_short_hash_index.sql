-- The memories' hash index keyed by the first 8 characters of the hash alone, not by (project id, full hash): an
-- entry of ~15 bytes instead of ~75, so the index is a fifth of its size and a delete of 1,000 memories chosen at
-- random among 100,000 touches ~360 of its pages instead of ~825 (the hashes are random, whatever the order of the
-- deletes). Its one reader, `existing_hashes`, probes it with the same expression, then checks the full hash and
-- the project on the row (a prefix met by another text, or by another project's memory, is read and dropped).
DROP INDEX IF EXISTS memories_hash;
CREATE INDEX memories_hash ON memories (substr(hash, 1, 8))
