-- No query reads memories by their hash (the lifecycle compares the hashes of a fact's nearest memories, already
-- read), so the hash index only cost writes: one more random page per memory in every add and delete (a delete of
-- 1,000 ids chosen at random among 100,000 wrote 814 of its 8,375 pages there).
DROP INDEX IF EXISTS memories_hash;
