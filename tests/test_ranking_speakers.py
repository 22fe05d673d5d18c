"""A speaker's name in a query names who says a memory, not what it is about: it leaves the retrieval (the speaker
signal still reads it), so a turn that only says or repeats the name does not outrank the turn that answers
(memvault/ranking.py, "Speakers' names"). Through the engine on every store; then the pure function."""

from __future__ import annotations

from memvault import filters as F
from memvault import ranking
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.base import Message
from memvault.models import SearchHit

RUN = [  # one session of a conversation, as a client stores its turns: "Speaker: text"
    "Caroline: Caroline! Caroline here",
    "Caroline: Hey Melanie, it's Caroline, how have you been",
    "Caroline: Last week I finally finished that big painting of the lake at sunrise for my mom",
    "Melanie: I went hiking with the kids on Sunday",
]


def _ask(engine: Engine, query: str) -> dict[str, SearchHit]:
    project = engine.project("speakers").id
    for text in RUN:
        engine.add(project, [Message("user", text)], Owners(user_id="conv", run_id="s1"), infer=False)
    hits = engine.search(project, query, F.eq("user_id", "conv"), SearchOptions(top_k=10))
    return {h.memory.text: h for h in hits}


def test_a_turn_that_only_says_the_speakers_name_is_not_nearer_by_meaning_than_the_answer(engine: Engine) -> None:
    hits = _ask(engine, "What did Caroline paint?")
    answer, hello = hits[RUN[2]], hits[RUN[0]]
    assert next(iter(hits)) == RUN[2]
    assert answer.breakdown["semantic"] > hello.breakdown["semantic"]
    assert answer.score > hits[RUN[1]].score > hello.score
    assert answer.breakdown["speaker"] == 1.0 and hits[RUN[3]].breakdown["speaker"] == 0.0  # it still reads the name


def test_a_query_that_asks_only_the_name_keeps_it(engine: Engine) -> None:
    hits = _ask(engine, "Who is Caroline?")
    assert hits[RUN[0]].breakdown["semantic"] > hits[RUN[2]].breakdown["semantic"]


def test_speaker_terms_are_the_query_words_that_name_a_speaker_of_the_memories() -> None:
    texts = ["Caroline Lee: I paint", "Melanie: hi", "no speaker here, Jon"]
    assert ranking.speaker_terms("What did Caroline paint?", texts) == {"caroline"}
    assert ranking.speaker_terms("What is Lee's job?", texts) == {"lee"}  # a word of the name, possessive too
    assert ranking.speaker_terms("When did Melanie meet Caroline?", texts) == {"melanie", "caroline"}
    assert ranking.speaker_terms("What did Jon paint?", texts) == set()  # named, but says no memory
    assert ranking.speaker_terms("What did Caroline paint?", ["I'm Caroline", "Caroline paints"]) == set()
