-- The keyword index learns which project each row belongs to (one token in its own column), so a search
-- ranks only its own project's matches.
DROP TABLE memories_fts;
CREATE VIRTUAL TABLE memories_fts USING fts5 (text, scope, tokenize = 'porter unicode61 remove_diacritics 2');
INSERT INTO memories_fts(rowid, text, scope)
  SELECT seq, text, 'p' || lower(replace(project_id, '-', '')) FROM memories;
