"""The chat-history rules at the engine, on both stores: chunk placement, upserts that race, and an import that fails
half-way leaving the conversation as it was."""

from __future__ import annotations

import threading

import pytest

from memvault.embed.hashing import HashingEmbedder
from memvault.embed.onnx_minilm import MiniLMEmbedder
from memvault.embed.openai_compat import OpenAICompatEmbedder
from memvault.engine import Engine
from memvault.engine.chats import approx_tokens, chunk_spans
from memvault.errors import Unavailable
from memvault.extract.offline import OfflineExtractor
from memvault.models import ChatImport, ChatMessageIn
from memvault.store.base import Store
from memvault.testing.server import free_port


def test_chunks_cover_every_message_overlap_by_one_and_only_the_tail_changes_as_a_conversation_grows() -> None:
    for n in range(0, 60):
        spans = chunk_spans(n)
        covered = [p for a, b in spans for p in range(a, b + 1)]
        assert set(covered) == set(range(n)), n
        assert all(b - a + 1 <= 4 for a, b in spans)
        assert all(later[0] == earlier[1] for earlier, later in zip(spans, spans[1:], strict=False)), n
        for m in range(n, 60):  # a grown conversation keeps every full chunk of the smaller one
            assert {s for s in spans if s[1] - s[0] == 3} <= set(chunk_spans(m)), (n, m)


def test_token_estimate_is_the_larger_of_words_and_a_quarter_of_the_characters() -> None:
    assert approx_tokens("a b c d e") == 5
    assert approx_tokens("x" * 400) == 100


def messages(ids: range) -> list[ChatMessageIn]:
    return [ChatMessageIn("human" if i % 2 else "assistant", f"message number {i} about topic {i}", id=f"m{i}")
            for i in ids]


def test_concurrent_imports_of_one_conversation_never_duplicate_a_message(engine: Engine, project: str) -> None:
    batches = [range(0, 10), range(5, 15), range(0, 20), range(12, 25), range(3, 8), range(20, 30)]
    errors: list[BaseException] = []

    def run(ids: range) -> None:
        try:
            engine.ingest_chat(project, ChatImport("shared", messages(ids), title="Race"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [conv] = engine.list_conversations(project).items
    conv, held = engine.conversation(project, conv.id)
    assert sorted(m.id for m in held) == sorted(f"m{i}" for i in range(30))
    assert [m.position for m in held] == list(range(30)) and conv.message_count == 30
    assert engine.store.chunk_spans(project, conv.id) == chunk_spans(30)
    assert conv.token_count == sum(approx_tokens(m.content) for m in held)


def test_an_import_that_fails_leaves_the_conversation_as_it_was(engine: Engine, project: str) -> None:
    first = engine.ingest_chat(project, ChatImport("c", messages(range(0, 5)), title="Before"))
    unreachable = OpenAICompatEmbedder(f"http://127.0.0.1:{free_port()}/v1", "none", dim=engine.embedder.dim, timeout=2)
    broken = Engine(engine.store, unreachable, OfflineExtractor())
    with pytest.raises(Unavailable):
        broken.ingest_chat(project, ChatImport("c", messages(range(0, 9)), title="After"))
    conv, held = engine.conversation(project, first.id)
    assert conv == first and [m.id for m in held] == [f"m{i}" for i in range(5)]
    assert engine.store.chunk_spans(project, first.id) == chunk_spans(5)
    assert [h.conversation.title for h in engine.search_chats(project, "message number 3")][:1] == ["Before"]


def test_the_end_of_a_long_message_counts_for_its_chunks_meaning(store: Store) -> None:
    """MiniLM reads about 1,000 characters of a text: a longer chunk is indexed as windows of it, so what a long
    answer says at its end is found by meaning too."""
    embedder = MiniLMEmbedder()
    engine = Engine(store, embedder, OfflineExtractor())
    pid = engine.project("long").id
    topics = ["The sourdough needs feeding twice a day with equal weights of flour and water.",
              "Tomatoes grow best with six hours of direct sun and deep watering twice a week.",
              "The quarterly report is due on Friday and the slides still need the revenue chart.",
              "For the marathon, long runs should grow by no more than ten percent each week.",
              "The bike chain squeaks because it needs cleaning and a drop of oil on each link.",
              "Jazz standards often follow the AABA form with a bridge in the third section."]
    filler = " ".join(f"{topics[i % 6]} (note {i})" for i in range(40))  # about 3,600 characters
    said = filler + " Separately: my passport is kept in the blue drawer of the hallway cabinet."
    engine.ingest_chat(pid, ChatImport("short", [ChatMessageIn("user", "My cat sleeps all afternoon.")]))
    conv = engine.ingest_chat(pid, ChatImport("long", [ChatMessageIn("assistant", said)]))
    query = embedder.embed(["Where do I keep my passport?"])[0]
    [(chunk_id, similarity), *_] = store.chunk_vector_search(pid, query, None, 10)
    [chunk] = store.get_chunks(pid, [chunk_id])
    assert chunk.conversation_id == conv.id and "passport" in chunk.text and (chunk.first, chunk.last) == (0, 0)
    read_whole_by_the_model = float(embedder.embed([f"assistant: {said}"])[0] @ query)  # its first ~1,000 characters
    assert similarity > read_whole_by_the_model + 0.2, (similarity, read_whole_by_the_model)
    [hit] = engine.search_chats(pid, "passport drawer", limit=1)
    assert "blue drawer" in hit.chunk.text and hit.message.content == said


def test_a_passage_found_only_by_its_words_scores_the_same_whatever_the_limit(store: Store) -> None:
    """A passage the keyword half finds but the vector half's pool does not reach still counts by its meaning: the
    search reads its exact cosine, so its score (the keyword part on the meaning's scale of the query) is the one a
    larger limit, whose pool reaches it by meaning too, gives it."""
    engine = Engine(store, HashingEmbedder(), OfflineExtractor())
    pid = engine.project("pools").id
    for i in range(60):  # nearer the query by its words' shapes than the answer, without its words
        engine.ingest_chat(pid, ChatImport(f"near-{i}", [ChatMessageIn("user", f"Where is the garden number {i}?")]))
    engine.ingest_chat(pid, ChatImport("answer", [ChatMessageIn(
        "user", "Kept the violet umbrella by the kitchen door since Tuesday morning")]))
    query = "Where is the violet umbrella?"
    vector = engine.embedder.embed([query])[0]
    assert "violet" not in " ".join(c.text for c in map(
        lambda h: store.get_chunks(pid, [h[0]])[0], store.chunk_vector_search(pid, vector, None, 50)))
    small, large = engine.search_chats(pid, query, limit=20), engine.search_chats(pid, query, limit=40)
    assert "violet" in small[0].chunk.text and "violet" in large[0].chunk.text
    assert [(h.chunk.id, h.score) for h in small] == [(h.chunk.id, h.score) for h in large[:20]]
