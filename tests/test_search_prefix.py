"""A search's ranking does not depend on how many hits are asked for: for the same query and data, the first k
hits of a search with top_k=k are the first k hits of the same search with any larger top_k — on every store,
in every mode, with run neighbours lending context (see memvault/ranking.py, "Pools")."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from memvault import filters as F
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message

WORDS = ["coffee", "garden", "piano", "lyon", "river", "tennis", "python", "winter", "cat", "bread", "may",
         "sister", "painting", "camping", "school", "guitar"]
SPEAKERS = ["Ann", "Bob"]

sentence = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
turn = st.tuples(st.sampled_from(SPEAKERS), sentence).map(lambda t: f"{t[0]}: {t[1]}")
# Runs of turns, enough in all for the candidate pools of a small top_k to leave some out.
corpus = st.lists(st.lists(turn, min_size=20, max_size=30), min_size=3, max_size=5)
query = st.tuples(st.sampled_from(["What did", "When did", ""]), st.sampled_from([*SPEAKERS, ""]),
                  st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)).map(
    lambda q: " ".join([q[0], q[1], *q[2]]).strip() + "?")
modes = st.sampled_from([{}, {"context": False}, {"keyword": False}, {"keyword": False, "context": False}])


# No shrinking: an example is a whole corpus, and a failing one is readable as it is.
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=corpus, queries=st.lists(query, min_size=3, max_size=6),
       sizes=st.tuples(st.integers(1, 30), st.integers(31, 140), st.integers(1, 140)).map(set), mode=modes)
def test_the_first_hits_do_not_depend_on_top_k(engine: Engine, runs: list[list[str]], queries: list[str],
                                                sizes: set[int], mode: dict[str, bool]) -> None:
    project = engine.project(f"prefix-{uuid.uuid4().hex[:8]}").id
    for n, texts in enumerate(runs):
        for text in texts:  # one at a time, in order: a run's neighbours are its turns before and after
            engine.add(project, [Message("user", text)], Owners(user_id="u", run_id=f"session_{n}"), infer=False,
                       metadata={"session_date": f"{n + 1} May, 2023"})
    for q in queries:
        answers = {k: engine.search(project, q, F.eq("user_id", "u"), SearchOptions(top_k=k, **mode))
                   for k in sorted(sizes)}
        longest = answers[max(sizes)]
        assert len(longest) == min(max(sizes), sum(len(r) for r in runs))  # more tiers when more hits are asked
        for k, hits in answers.items():
            assert len(hits) == min(k, len(longest))
            assert [(h.memory.id, h.score) for h in hits] == [(h.memory.id, h.score) for h in longest[:k]], (q, k)
