-- No query reads memories by their hash (the lifecycle compares the hashes of a fact's nearest memories, already
-- read), so the hash index only cost writes: one more index entry per memory in every add and delete.
DROP INDEX IF EXISTS memories_hash;
