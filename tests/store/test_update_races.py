"""An update changes only the fields it was given, inside the write transaction: updates of different fields sent
together all land, an update racing a delete never brings the memory back, and the keyword index matches only the
text that committed. Real threads against both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from memvault.engine import Engine, Owners, UpdateItem
from memvault.errors import NotFound
from memvault.extract.base import Message
from memvault.models import utcnow
from memvault.store.base import MemoryChange
from memvault.testing.concurrency import together

ROUNDS = 25
BATCH = 10  # memories per update call: the calls overlap for longer


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def add(engine: Engine, project: str, text: str) -> str:
    [made] = engine.add(project, [Message("user", text)], Owners(user_id="u"))
    return made.memory.id


def tag(n: int) -> str:
    """A word of letters only, one per round (a word in every memory would be too common to rank)."""
    return "".join(chr(ord("q") + int(d)) for d in str(n)) + "zk"  # no suffix a stemmer would strip


def keyword_ids(engine: Engine, project: str, word: str) -> list[str]:
    return [h[0] for h in engine.store.keyword_search(project, [word], None, 1000)]


def test_a_text_update_and_a_metadata_update_sent_together_both_land(engine: Engine, project: str,
                                                                     pool: ThreadPoolExecutor) -> None:
    for n in range(ROUNDS):
        ids = [add(engine, project, f"alpha{tag(n)} original text {i}") for i in range(BATCH)]
        results = together(
            pool,
            lambda ids=ids, n=n: engine.batch_update(
                project, [UpdateItem(mid, text=f"beta{tag(n)} changed text {i}") for i, mid in enumerate(ids)]),
            lambda ids=ids, n=n: engine.batch_update(project, [UpdateItem(mid, metadata={"round": n}) for mid in ids]),
        )
        assert not [r for r in results if isinstance(r, Exception)]
        for i, mid in enumerate(ids):
            got = engine.get(project, mid)
            assert (got.text, got.metadata) == (f"beta{tag(n)} changed text {i}", {"round": n}), f"round {n}"
            history = engine.history(project, mid)
            assert [e.event for e in history] == ["ADD", "UPDATE", "UPDATE"]
            assert history[1].new_text == history[2].old_text  # each update saw the other's commit
        assert not set(ids) & set(keyword_ids(engine, project, f"alpha{tag(n)}"))
        assert set(ids) == set(keyword_ids(engine, project, f"beta{tag(n)}"))


def test_a_categories_update_and_an_expiry_update_sent_together_both_land(engine: Engine, project: str,
                                                                         pool: ThreadPoolExecutor) -> None:
    for n in range(ROUNDS):
        ids = [add(engine, project, f"gammaword {n} {i}") for i in range(BATCH)]
        later = (utcnow() + timedelta(days=n + 1)).replace(microsecond=0)
        results = together(
            pool,
            lambda ids=ids, n=n: engine.batch_update(project, [UpdateItem(mid, categories=[f"c{n}"]) for mid in ids]),
            lambda ids=ids, later=later: engine.batch_update(
                project, [UpdateItem(mid, expiration_date=later) for mid in ids]),
        )
        assert not [r for r in results if isinstance(r, Exception)]
        for i, mid in enumerate(ids):
            got = engine.get(project, mid)
            assert (got.text, got.categories, got.expiration_date) == (f"gammaword {n} {i}", [f"c{n}"], later)


def test_an_update_racing_a_delete_never_brings_the_memory_back(engine: Engine, project: str,
                                                                pool: ThreadPoolExecutor) -> None:
    for n in range(ROUNDS):
        mid = add(engine, project, f"deltaword {n}")
        updated, deleted = together(
            pool,
            lambda mid=mid, n=n: engine.update(project, mid, text=f"epsilonword resurrected {n}", metadata={"n": n}),
            lambda mid=mid: engine.delete(project, mid),
        )
        assert deleted is None  # the delete always finds the memory: nothing else deletes it
        assert not isinstance(updated, Exception) or isinstance(updated, NotFound), repr(updated)
        with pytest.raises(NotFound):
            engine.get(project, mid)
        assert mid not in keyword_ids(engine, project, "epsilonword")
        assert mid not in keyword_ids(engine, project, "deltaword")
        assert mid not in [m.id for m in engine.list(project).items]


def test_an_update_of_a_memory_already_deleted_is_not_found_and_writes_nothing(engine: Engine, project: str) -> None:
    mid = add(engine, project, "zetaword")
    other = add(engine, project, "etaword")
    engine.delete(project, mid)
    patches = [MemoryChange(i, str(uuid.uuid4()), utcnow(), text="thetaword", hash="h",
                            vector=engine.embedder.embed(["thetaword"])[0]) for i in (other, mid)]
    with pytest.raises(NotFound) as refused:
        engine.store.update(project, patches)
    assert (refused.value.code, refused.value.message) == ("memory_not_found", "Memory not found")  # no face's words
    assert engine.get(project, other).text == "etaword"  # all or nothing
    assert keyword_ids(engine, project, "thetaword") == []
    with pytest.raises(NotFound):
        engine.batch_update(project, [UpdateItem(other, text="iotaword"), UpdateItem(mid, text="iotaword")])
    assert engine.get(project, other).text == "etaword"

