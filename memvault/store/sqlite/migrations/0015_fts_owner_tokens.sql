-- The keyword index's scope column holds, beside the project's token, one token per owner of the row (user_id,
-- agent_id, app_id, run_id: a mark and a hash of the value, store/sqlite/fts.py), so a search filtered by an owner
-- lets FTS5 intersect each term with that owner instead of probing the table for every match of the term.
-- The index is built again from the memories (as 0002 did): one pass, cheaper than rewriting a million rows in place.
-- The owners are read as bytes, as the store hashes their UTF-8 text. The dropped table's pages are zeroed
-- (secure_delete), so nothing a delete had left in the old segments survives the rebuild.
DROP TABLE memories_fts;
CREATE VIRTUAL TABLE memories_fts USING fts5 (text, scope, tokenize = 'porter unicode61 remove_diacritics 2');
INSERT INTO memories_fts(rowid, text, scope)
  SELECT seq, text, memvault_fts_scope(project_id, CAST(user_id AS BLOB), CAST(agent_id AS BLOB),
                                       CAST(app_id AS BLOB), CAST(run_id AS BLOB))
  FROM memories ORDER BY seq
