"""The batching queue in front of an embedder: shared model calls, each request's own vectors, its own errors,
queries first, cancellation. The inner embedders are the deterministic hashing embedder, wrapped so a test can
hold a model call open or make one text fail (a model cannot be made to fail on cue)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from memvault.embed.base import Vectors
from memvault.embed.batching import BatchingEmbedder, embed_query
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine, Owners
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore


class Gated:
    """A hashing embedder whose calls wait for a gate and are recorded; "BAD" in a text fails its call."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(32)
        self.name, self.dim = self.inner.name, self.inner.dim
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []

    def embed(self, texts: list[str]) -> Vectors:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(10)
        if any("BAD" in t for t in texts):
            raise ValueError("this text cannot be embedded")
        return self.inner.embed(texts)


@pytest.fixture
def gated() -> Gated:
    return Gated()


@pytest.fixture
def batching(gated: Gated) -> Iterator[BatchingEmbedder]:
    made = BatchingEmbedder(gated, max_wait=0.005, max_batch=8)  # type: ignore[arg-type]
    yield made
    gated.gate.set()
    made.close()


def hold(gated: Gated, batching: BatchingEmbedder) -> None:
    """Keep the worker busy in a model call until gated.gate is set."""
    gated.gate.clear()
    gated.entered.clear()
    batching.submit(["holding the model"])
    assert gated.entered.wait(5)


def test_requests_that_wait_together_share_one_model_call_and_get_their_own_vectors(
        gated: Gated, batching: BatchingEmbedder) -> None:
    hold(gated, batching)
    texts = [[f"memory {i}"] for i in range(5)] + [["a", "b", "c"]]  # eight texts: one full batch
    futures = [batching.submit(t) for t in texts]
    gated.gate.set()
    for t, f in zip(texts, futures, strict=True):
        assert np.allclose(f.result(5), gated.inner.embed(t))
    assert gated.calls[1] == [t for ts in texts for t in ts]  # one call after the held one, in arrival order


def test_eight_concurrent_callers_cost_about_one_call(gated: Gated, batching: BatchingEmbedder) -> None:
    hold(gated, batching)
    with ThreadPoolExecutor(8) as pool:
        results = [pool.submit(batching.embed, [f"fact {i}"]) for i in range(8)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with batching._cond:
                if batching._waiting() >= 8:
                    break
            time.sleep(0.01)
        gated.gate.set()
        vectors = [r.result(5) for r in results]
    for i, v in enumerate(vectors):
        assert np.allclose(v, gated.inner.embed([f"fact {i}"]))
    assert len(gated.calls) == 2  # the held call, then all eight together


def test_one_failing_text_fails_only_its_own_request(gated: Gated, batching: BatchingEmbedder) -> None:
    hold(gated, batching)
    good = batching.submit(["fine", "also fine"])
    bad = batching.submit(["fine too", "BAD one"])
    other = batching.submit(["still fine"])
    gated.gate.set()
    assert np.allclose(good.result(5), gated.inner.embed(["fine", "also fine"]))
    assert np.allclose(other.result(5), gated.inner.embed(["still fine"]))
    with pytest.raises(ValueError, match="cannot be embedded"):
        bad.result(5)
    assert batching.embed(["after the failure"]).shape == (1, 32)  # the queue keeps serving


def test_a_query_goes_before_a_large_import_waiting_in_slices(gated: Gated, batching: BatchingEmbedder) -> None:
    hold(gated, batching)
    bulk = [f"imported {i}" for i in range(40)]  # five slices of max_batch=8
    big = batching.submit(bulk)
    query = batching.submit(["where does alice live?"], urgent=True)
    gated.gate.set()
    assert np.allclose(query.result(5), gated.inner.embed(["where does alice live?"]))
    assert np.allclose(big.result(5), gated.inner.embed(bulk))
    after_hold = gated.calls[1:]
    assert after_hold[0][0] == "where does alice live?"  # the query is in the first batch after the held call
    assert all(len(call) <= 8 for call in after_hold)  # no batch over max_batch: the import went in slices
    assert [t for call in after_hold for t in call if t.startswith("imported")] == bulk


def test_a_request_cancelled_while_it_waits_is_never_run(gated: Gated, batching: BatchingEmbedder) -> None:
    hold(gated, batching)
    doomed = batching.submit(["never embed me"])
    kept = batching.submit(["embed me"])
    assert doomed.cancel()
    gated.gate.set()
    assert kept.result(5).shape == (1, 32)
    assert not any("never embed me" in call for call in gated.calls)


def test_a_lone_caller_does_not_wait_for_company(gated: Gated) -> None:
    slow_to_fill = BatchingEmbedder(gated, max_wait=30, max_batch=64)  # type: ignore[arg-type]
    try:
        done = threading.Event()
        threading.Thread(target=lambda: (slow_to_fill.embed(["alone"]), done.set()), daemon=True).start()
        assert done.wait(10)  # with a 30 s wait for company, only "never waits alone" answers in time
    finally:
        slow_to_fill.close()


def test_embed_query_uses_the_query_lane_or_falls_back_to_embed() -> None:
    plain = HashingEmbedder(16)
    assert np.allclose(embed_query(plain, "hi"), plain.embed(["hi"]))
    wrapped = BatchingEmbedder(plain)
    try:
        assert np.allclose(embed_query(wrapped, "hi"), plain.embed(["hi"]))
        assert wrapped.name == plain.name and wrapped.dim == plain.dim
    finally:
        wrapped.close()


def test_the_engine_over_a_batching_embedder_files_concurrent_adds_under_their_own_texts(tmp_path: Path) -> None:
    inner = HashingEmbedder(64)
    engine = Engine(SQLiteStore(tmp_path / "m.db"), BatchingEmbedder(inner), OfflineExtractor())
    try:
        pid = engine.project().id
        texts = [f"Person {i} likes colour number {i}" for i in range(24)]
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda t: engine.add_text(pid, t, Owners(user_id="u")), texts))
        assert [m.text for m in made] == texts
        for m in made:  # each memory's vector is its own text's: searching its text finds it first
            assert engine.search(pid, m.text, None)[0].memory.id == m.id
    finally:
        engine.close()
