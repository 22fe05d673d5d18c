-- Bucket names are unique after Unicode case folding and NFKC ("Straße" = "STRASSE", "Émile" = "émile"), which
-- lower() gave for ASCII only. The key is memvault.validate.name_key(name), computed in Python (registered as
-- memvault_name_key for this script) and stored, so lookups compare it with an index.
-- Names that an older version let coexist under one key: the oldest keeps the name's key, the others get a key
-- no name can have (a newline and their id): they stay reachable by id and can be renamed.
ALTER TABLE buckets ADD COLUMN name_key TEXT;
UPDATE buckets SET name_key = memvault_name_key(name);
UPDATE buckets SET name_key = name_key || char(10) || id WHERE rowid IN (SELECT b.rowid FROM buckets b JOIN buckets o ON o.project_id = b.project_id AND o.name_key = b.name_key AND (o.created_at < b.created_at OR (o.created_at = b.created_at AND o.id < b.id)));
DROP INDEX buckets_name;
CREATE UNIQUE INDEX buckets_name_key ON buckets (project_id, name_key);
