"""memvault.errors: every error the engine raises carries a machine code, and its message is the engine's
own neutral English — each face words the codes it has words for (Mem0's "Memory not found!")."""

from __future__ import annotations

from pathlib import Path

import pytest

import memvault
from memvault import errors
from memvault.engine import Engine
from memvault.errors import InvalidInput, NotFound

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


def test_the_engine_speaks_no_dialects_words() -> None:
    package = Path(memvault.__file__).parent
    sources = [package / "engine.py", *(package / "engine").glob("*.py")]  # a module now, maybe a package later
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources if p.exists())
    assert text
    for words in ("Memory not found!", "memoryIds", "memories must not be empty"):
        assert words not in text


def test_each_class_has_its_code_and_a_raiser_may_name_a_finer_one() -> None:
    assert [cls("x").code for cls in (errors.MemvaultError, errors.InvalidInput, errors.TooLarge, errors.NotFound,
                                      errors.Unauthorized, errors.Conflict, errors.Unavailable)] == [
        "error", "invalid_input", "too_large", "not_found", "unauthorized", "conflict", "unavailable"]
    finer = NotFound("gone", code=errors.MEMORY_NOT_FOUND)
    assert (finer.code, finer.message, NotFound("x").code) == ("memory_not_found", "gone", "not_found")


def test_the_engine_raises_coded_neutral_errors(engine: Engine, project: str) -> None:
    def code_of(call: object, *args: object, **kwargs: object) -> tuple[str, str]:
        with pytest.raises(errors.MemvaultError) as caught:
            call(*args, **kwargs)  # type: ignore[operator]
        return caught.value.code, caught.value.message

    mid = engine.add_text(project, "Alice likes tea").id
    memory = (errors.MEMORY_NOT_FOUND, "Memory not found")
    assert code_of(engine.get, project, UNKNOWN) == memory
    assert code_of(engine.history, project, UNKNOWN) == memory
    assert code_of(engine.delete, project, UNKNOWN) == memory
    assert code_of(engine.update, project, UNKNOWN, text="x") == memory
    assert code_of(engine.resolve_id, project, "abcdef12") == memory
    assert code_of(engine.delete_many, project, [mid, UNKNOWN], all_or_nothing=True) == memory
    assert code_of(engine.get_bucket, project, "Nope") == (errors.BUCKET_NOT_FOUND, "Bucket not found")
    assert code_of(engine.delete_entity, project, "user", "nobody") == (errors.ENTITY_NOT_FOUND, "Entity not found")
    assert code_of(engine.get, project, "not-an-id")[0] == "invalid_input"
    assert code_of(engine.search, project, "   ")[0] == "invalid_input"
    assert code_of(engine.authenticate, "mv-nope")[0] == "unauthorized"
    assert code_of(engine.create_bucket, project, "general")[0] == "conflict"
    for call in (lambda: engine.delete_many(project, []), lambda: engine.batch_update(project, []),
                 lambda: engine.move_memories(project, [], "General")):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.code == errors.EMPTY_BATCH and "at least one" in caught.value.message
    assert engine.get(project, mid).text == "Alice likes tea"
