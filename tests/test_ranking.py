"""Search ranking as a client sees it, on every store: behaviour pinned, not figures (see memvault/ranking.py)."""

from __future__ import annotations

from typing import Any

import pytest

from memvault import filters as F
from memvault import ranking
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message
from memvault.models import SearchHit

FILLER = [
    "Went for a long walk by the river this morning",
    "The kitchen tap is leaking again, need a plumber",
    "Finished reading a novel about sailors",
    "Bought new running shoes on sale",
    "The quarterly report is due next Friday",
]


def put(engine: Engine, project: str, text: str, user: str = "alice", run: str | None = None,
        **metadata: Any) -> str:
    results = engine.add(project, [Message("user", text)], Owners(user_id=user, run_id=run), infer=False,
                         metadata=metadata or None)
    return results[0].memory.id


def search(engine: Engine, project: str, query: str, user: str = "alice", **options: Any) -> list[SearchHit]:
    return engine.search(project, query, F.eq("user_id", user), SearchOptions(top_k=20, **options))


def test_an_exact_keyword_match_outranks_a_loose_paraphrase(engine: Engine, project: str) -> None:
    for text in FILLER:
        put(engine, project, text)
    exact = put(engine, project, "Our greyhound Biscuit learned to fetch")
    put(engine, project, "Our dog learned a new trick with the ball")
    hits = search(engine, project, "What did Biscuit the greyhound learn?")
    assert hits[0].memory.id == exact


@pytest.mark.parametrize("options", [{}, {"keyword": False}, {"context": False}])
def test_a_filter_never_lets_another_users_memory_in_even_as_a_run_neighbour(
        engine: Engine, project: str, options: dict[str, Any]) -> None:
    # Alice's and Bob's memories share a run id and interleave in time.
    mine = [put(engine, project, f"alice note {i} about the garden", run="r1") for i in range(3)]
    before = search(engine, project, "garden tomatoes", keyword=False)
    for i in range(3):
        put(engine, project, f"Bob: garden tomatoes secret {i}", user="bob", run="r1")
        put(engine, project, f"alice later note {i}", run="r1")
    hits = search(engine, project, "garden tomatoes", **options)
    assert hits and all(h.memory.user_id == "alice" for h in hits)
    # Bob's memories, good matches sitting right next to Alice's, lend her memories no context either.
    after = {h.memory.id: h for h in search(engine, project, "garden tomatoes", keyword=False)}
    for h in before:
        assert h.memory.id in mine
        assert after[h.memory.id].score == h.score and after[h.memory.id].breakdown == h.breakdown


def test_ties_are_stable_and_go_to_the_smaller_id(engine: Engine, project: str) -> None:
    for text in FILLER:
        put(engine, project, text)
    # The same words in another order: the same vector for the test embedder and the same BM25.
    for text in ("apple banana cherry", "banana cherry apple", "cherry apple banana"):
        put(engine, project, text)
    first = search(engine, project, "apple banana cherry")
    assert [(h.memory.id, h.score) for h in search(engine, project, "apple banana cherry")] == \
        [(h.memory.id, h.score) for h in first]
    for a, b in zip(first, first[1:], strict=False):
        assert a.score > b.score or (a.score == b.score and a.memory.id < b.memory.id)
    assert first[0].score == first[1].score == first[2].score


@pytest.mark.parametrize("options", [{}, {"keyword": False}, {"context": False}])
def test_threshold_keeps_exactly_the_hits_at_or_above_it(engine: Engine, project: str,
                                                         options: dict[str, Any]) -> None:
    for i, text in enumerate(FILLER):
        put(engine, project, text, run="r1" if i % 2 else None)
    everything = search(engine, project, "river walk report", **options)
    assert len({h.score for h in everything}) > 2
    cut = everything[len(everything) // 2].score
    kept = search(engine, project, "river walk report", threshold=cut, **options)
    assert kept and all(h.score >= cut for h in kept)
    assert [h.memory.id for h in kept] == [h.memory.id for h in everything if h.score >= cut]


def test_breakdown_names_the_parts_that_are_on(engine: Engine, project: str) -> None:
    for text in FILLER:
        put(engine, project, text, run="r1")
    full = search(engine, project, "river walk")
    assert {"semantic", "keyword", "context"} <= set(full[0].breakdown)
    no_keyword = search(engine, project, "river walk", keyword=False)
    assert all("keyword" not in h.breakdown for h in no_keyword)
    no_context = search(engine, project, "river walk", context=False)
    assert all(set(h.breakdown) == {"semantic", "keyword"} for h in no_context)
    dense = search(engine, project, "river walk", keyword=False, context=False)
    assert all(set(h.breakdown) == {"semantic"} for h in dense)


def test_the_best_keyword_match_weighs_as_much_as_the_best_meaning_match(engine: Engine, project: str) -> None:
    # The two retrievers are calibrated per query: the keyword part of the best keyword match is the best cosine
    # among the candidates, so a query nothing matches well by meaning does not get full marks from one word.
    for text in [*FILLER, "A leaking tap in the kitchen", "Walked past the plumber's shop"]:
        put(engine, project, text)
    for query in ("kitchen tap plumber", "quarterly river", "sailors"):
        hits = search(engine, project, query, context=False)
        best_meaning = max(h.breakdown["semantic"] for h in hits)
        assert 0 < best_meaning < 1
        assert max(h.breakdown["keyword"] for h in hits) == pytest.approx(best_meaning, abs=1e-6)


def test_the_keyword_part_keeps_its_own_scale_when_a_candidates_cosine_is_unknown() -> None:
    dense = [("a", 0.5), ("b", 0.4)]
    known = ranking.fuse(dense, [("b", 2.0), ("a", 1.0)], context=False)
    assert {s.id: s.breakdown["keyword"] for s in known} == {"a": 0.25, "b": 0.5}
    # "c" was found by its words only and nobody gave its cosine: it counts 0 by meaning, not less by keyword too
    unknown = ranking.fuse(dense, [("c", 2.0), ("b", 1.0)], context=False)
    assert {s.id: s.breakdown["keyword"] for s in unknown} == {"a": 0.0, "b": 0.5, "c": 1.0}


@pytest.mark.parametrize("options", [{}, {"keyword": False}, {"context": False}])
def test_score_and_every_part_are_between_0_and_1(engine: Engine, project: str, options: dict[str, Any]) -> None:
    texts = [*FILLER, "Maria: I walked by the river on 3 June, 2023", "John: the river was high",
             "river river river river walk walk"]
    for i, text in enumerate(texts):
        put(engine, project, text, run="s1" if i < 6 else "s2", session_date="1:00 pm on 3 June, 2023")
    for query in ("What did Maria do by the river on 3 June, 2023?", "river", "zzz", "the a of"):
        for h in search(engine, project, query, **options):
            assert 0.0 <= h.score <= 1.0
            assert all(0.0 <= v <= 1.0 for v in h.breakdown.values()), h.breakdown


def test_a_memory_said_by_the_person_the_query_names_comes_first(engine: Engine, project: str) -> None:
    put(engine, project, "John: I painted a sunset over the lake", run="s1")
    maria = put(engine, project, "Maria: I painted a sunset over the lake too", run="s1")
    hits = search(engine, project, "What did Maria paint?")
    assert hits[0].memory.id == maria
    assert hits[0].breakdown["speaker"] == 1.0 and hits[1].breakdown["speaker"] == 0.0
    assert "speaker" not in search(engine, project, "Who painted a sunset?")[0].breakdown


def test_a_memory_dated_as_the_query_asks_comes_first(engine: Engine, project: str) -> None:
    put(engine, project, "We went camping by the lake", run="s1", session_date="2:00 pm on 8 May, 2023")
    june = put(engine, project, "We went camping in the hills", run="s2", session_date="9:00 am on 3 June, 2023")
    hits = search(engine, project, "Where did we go camping on 3 June, 2023?")
    assert hits[0].memory.id == june and hits[0].breakdown["date"] == 1.0
    hits = search(engine, project, "Where did we go camping in May 2023?")
    assert hits[0].breakdown["date"] == 1.0 and hits[0].memory.id != june


def test_dates_reads_the_usual_written_forms() -> None:
    assert ranking.dates("1:56 pm on 8 May, 2023") == [(2023, 5, 8)]
    assert ranking.dates("on May 8th, 2023 and 2023-06-01") == [(2023, 5, 8), (2023, 6, 1)]
    assert ranking.dates("in August 2023") == [(2023, 8, 0)]
    assert ranking.dates("31 February, 2023 or nothing") == []
    assert ranking.same_date([(2023, 8, 0)], [(2023, 8, 14)]) and not ranking.same_date([(2023, 8, 3)], [(2023, 8, 4)])


def test_speaker_is_the_name_before_a_colon() -> None:
    assert ranking.speaker("Maria: hello") == "maria"
    assert ranking.speaker("Dr. Ann Lee: hi there") == "dr. ann lee"
    assert ranking.speaker("note: buy milk") == "note"
    assert ranking.speaker("at 10:30 we met") is None
    assert ranking.names("What did Ann Lee say?", "ann lee") and not ranking.names("Annabel?", "ann")
