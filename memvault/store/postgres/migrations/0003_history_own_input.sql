-- Forget means forget, for history and imports.
-- 1. A history event keeps as its `input` only the one message its memory was made of (engine.own_input): an ADD
--    whose input is a single message saying, once stripped, the event's new text. Inputs written before (the whole
--    conversation, on every fact inferred from it) also held the words of sibling facts, which outlived their
--    delete; they are dropped here. Trimming fewer characters than Python's strip() only drops more.
UPDATE history SET input = NULL
WHERE input IS NOT NULL AND NOT coalesce(CASE  -- tried in order: each JSON function sees the type it needs
  WHEN json_typeof(input) <> 'array' THEN false
  WHEN json_array_length(input) <> 1 THEN false
  WHEN json_typeof(input -> 0) <> 'object' THEN false
  WHEN coalesce(json_typeof(input -> 0 -> 'content'), '') <> 'string' THEN false
  WHEN coalesce(json_typeof(input -> 0 -> 'role'), '') <> 'string' THEN false
  ELSE event = 'ADD' AND new_text IS NOT NULL AND btrim(input -> 0 ->> 'content', E' \t\n\r\f\x0b') = new_text
END, false);
-- A kept message keeps its role and content only (an imported one could carry more).
UPDATE history SET input = json_build_array(json_build_object('role', input -> 0 ->> 'role',
                                                              'content', input -> 0 ->> 'content'))
WHERE input IS NOT NULL AND (SELECT count(*) FROM json_object_keys(input -> 0)) <> 2;
-- 2. Memory ids are each project's own (the primary key is (project_id, id)): an import no longer looks ids up
--    across projects, so the one index not led by project_id goes.
DROP INDEX IF EXISTS memories_id;
