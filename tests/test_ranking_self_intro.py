"""A short self-introduction ("I'm Dana") must not outrank the memory that answers a question about its owner: among
one owner's memories the owner's name tells none apart (memvault/ranking.py, "The owner's name"). Through the engine,
with the real MiniLM embedder, on every store; then the pure functions the rule is made of."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memvault import filters as F
from memvault import ranking
from memvault.embed.onnx_minilm import MiniLMEmbedder
from memvault.engine import Engine, Owners, SearchOptions
from memvault.extract.offline import OfflineExtractor
from memvault.store.base import Store

DANA = [  # as a chat app stores what its user says: in the first person
    "I'm Dana",
    "I drink green tea every morning",
    "I have a rescue cat called Miso",
    "I work as a landscape architect in Portland",
    "I'm allergic to shellfish",
    "My sister Jess lives in Denver",
    "I drive an old blue Subaru",
]
CAROL = [  # as a note-taking app writes about its user: in the third person
    "I'm Carol",
    "Carol prefers tea over coffee",
    "Carol is a high school chemistry teacher",
    "Carol has two golden retrievers, Biscuit and Pepper",
    "Carol plays the cello in a community orchestra",
    "Carol grew up in Manchester",
]
QUESTIONS = [
    ("dana", "What does Dana drink?", "I drink green tea every morning"),
    ("dana", "Does Dana have pets?", "I have a rescue cat called Miso"),
    ("dana", "What is Dana's job?", "I work as a landscape architect in Portland"),
    ("dana", "Is Dana allergic to anything?", "I'm allergic to shellfish"),
    ("dana", "What car does Dana drive?", "I drive an old blue Subaru"),
    ("carol", "What does Carol like to drink?", "Carol prefers tea over coffee"),
    ("carol", "What does Carol do for a living?", "Carol is a high school chemistry teacher"),
    ("carol", "Does Carol have any dogs?", "Carol has two golden retrievers, Biscuit and Pepper"),
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder()
    embedder.load()
    return embedder


@pytest.fixture
def people(store: Store, minilm: MiniLMEmbedder) -> Iterator[tuple[Engine, str]]:
    engine = Engine(store, minilm, OfflineExtractor())
    project = engine.project("people").id
    for user, texts in (("dana", DANA), ("carol", CAROL)):
        for text in texts:
            engine.add_text(project, text, Owners(user_id=user))
    yield engine, project
    engine.close()


def first(engine: Engine, project: str, user: str, query: str, top_k: int = 3, **options: bool) -> list[str]:
    hits = engine.search(project, query, F.eq("user_id", user), SearchOptions(top_k=top_k, **options))
    return [h.memory.text for h in hits]


@pytest.mark.parametrize(("user", "query", "answer"), QUESTIONS)
def test_the_memory_that_answers_outranks_the_owners_self_introduction(
        people: tuple[Engine, str], user: str, query: str, answer: str) -> None:
    engine, project = people
    assert first(engine, project, user, query)[0] == answer
    # and the first hit is the same whatever top_k (the name is found in the first tier, then dropped in every one)
    assert first(engine, project, user, query, top_k=1) == [answer]


@pytest.mark.parametrize("options", [{"context": False}, {"rerank": False}])
def test_the_owners_name_is_discounted_with_the_keyword_half_on_whatever_the_signals(
        people: tuple[Engine, str], options: dict[str, bool]) -> None:
    engine, project = people
    assert first(engine, project, "dana", "What does Dana drink?", **options)[0] == "I drink green tea every morning"


def test_the_self_introduction_still_answers_who_the_owner_is(people: tuple[Engine, str]) -> None:
    engine, project = people
    assert first(engine, project, "dana", "Does Dana have pets?")[0] != "I'm Dana"
    assert first(engine, project, "dana", "Who is Dana?")[0] == "I'm Dana"  # nothing is left to ask without the name
    assert first(engine, project, "carol", "Who is Carol?")[0] == "I'm Carol"


def test_the_name_is_discounted_only_among_one_owners_memories(people: tuple[Engine, str]) -> None:
    engine, project = people
    assert first(engine, project, "dana", "What does Dana drink?")[0] == "I drink green tea every morning"
    # Across every owner the name is what tells Dana's memories from Carol's: it is kept.
    hits = engine.search(project, "What does Dana drink?", None, SearchOptions(top_k=2))
    assert [h.memory.user_id for h in hits] == ["dana", "dana"]


# the pure functions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "name"), [
    ("I'm Dana", ["dana"]),
    ("I am Dana Lee and I like tea", ["dana", "lee"]),
    ("Hi, I'm Lukas", ["lukas"]),
    ("Hello, I am Grace", ["grace"]),
    ("I'm Hannah, nice to meet you", ["hannah"]),
    ("My name is Priya", ["priya"]),
    ("My name's Kenji.", ["kenji"]),
    ("Name is Omar", ["omar"]),
    ("User's name is Mateo", ["mateo"]),
    ("Call me Fatima", ["fatima"]),
    ("I\u2019m Élodie", ["élodie"]),
    ("I'm Dana. Tea lover", ["dana"]),  # the name ends with its clause
    ("I'm tired", []),  # not a name: not capitalized
    ("I am from Lyon", []),
    ("I drink green tea every morning", []),
    ("Carol prefers tea", []),  # about the owner, not an introduction
    ("Caroline: I'm Caroline, Mel's friend", []),  # a turn said by someone: a conversation, not the owner's voice
    ("My sister is called Jess", []),
])
def test_introduced_is_the_name_a_self_introduction_gives(text: str, name: list[str]) -> None:
    assert ranking.introduced(text) == name


def test_owner_terms_are_the_querys_words_a_memory_introduces_as_its_speakers_name() -> None:
    texts = ["I'm Dana", "I drink green tea every morning", "My sister Jess lives in Denver"]
    assert ranking.owner_terms("What does Dana drink?", texts) == {"dana"}
    assert ranking.owner_terms("What is Dana's job?", texts) == {"dana"}
    assert ranking.owner_terms("Where does Jess live?", texts) == set()  # Jess is named, not introduced
    assert ranking.owner_terms("What does Dana drink?", ["Dana: I'm Dana", "Ben: I'm Ben"]) == set()
    assert ranking.owner_terms("What does she drink?", texts) == set()


def test_without_takes_the_names_and_their_possessives_out() -> None:
    assert ranking.without("What does Dana drink?", {"dana"}) == "What does drink?"
    assert ranking.without("What is Dana's job?", {"dana"}) == "What is job?"
    assert ranking.without("Is DANA allergic to Danae or to dana\u2019s cat?", {"dana"}) == "Is allergic to Danae or to cat?"
    assert ranking.without("Where do Dana Lee and Jess live?", {"dana", "lee"}) == "Where do and Jess live?"


def test_names_term_matches_a_name_and_its_possessive() -> None:
    assert ranking.names_term("dana", {"dana"}) and ranking.names_term("dana's", {"dana"})
    assert not ranking.names_term("danae", {"dana"}) and not ranking.names_term("tea", {"dana"})


@pytest.mark.parametrize(("query", "asks"), [
    ("What does drink?", True), ("Where is from?", True), ("Tell me about", True), ("What is job?", True),
    ("Who is?", False), ("Who is ?", False), ("", False), ("What does?", False),
])
def test_asks_about_is_whether_a_word_is_left_beyond_the_question_words(query: str, asks: bool) -> None:
    assert ranking.asks_about(query) is asks
