-- Bucket names are unique after Unicode case folding and NFKC ("Straße" = "STRASSE", "Émile" = "émile"), which
-- lower() gave only as far as the database's locale goes. The key is memvault.validate.name_key(name), computed
-- in Python: postgres_schema fills it for the rows already there right after this script, in its transaction,
-- then makes it NOT NULL.
ALTER TABLE buckets ADD COLUMN name_key text COLLATE "C";
DROP INDEX buckets_name;
CREATE UNIQUE INDEX buckets_name_key ON buckets (project_id, name_key);
