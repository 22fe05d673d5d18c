"""Concurrent requests over real HTTP, on both stores: what both requests were told happened, happened, and nothing
deleted comes back.

Each round releases its requests together (a barrier) so they overlap inside the server; rounds are few and bounded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pytest

from memvault.engine import Engine
from memvault.store.base import Store
from memvault.testing.concurrency import together
from memvault.testing.hostile import Probe, check_answer, probe_for
from memvault.testing.server import Server

ROUNDS = 15
BUCKET_ROUNDS, ADDS = 10, 6  # per round: ADDS adds, a move and an update race one bucket delete


@pytest.fixture
def probe(server: Server, engine: Engine, store_twin: Store) -> Iterator[Probe]:
    yield from probe_for(server.url, engine, store_twin, server.key("racing"), "racing")


def at_once(*calls: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """The calls sent at the same moment, one thread each; their answers in order (any exception is raised)."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return together(pool, *calls, allowed=())


def word() -> str:
    return "w" + uuid.uuid4().hex[:12]


# Words before a text's unique last word: a long text takes the embedder a while (~70 ms for the hashing one), which
# holds an update between its read and its write long enough for the other request to come in between.
LONG = " ".join(f"filler{i}" for i in range(1_700))  # ~17,600 characters, under the 20,000 limit


def added(probe: Probe, text: str, **fields: Any) -> str:
    body = {"messages": text, "user_id": "racer", "infer": False, **fields}
    return str(probe.ok("POST", "/v3/memories/add/", body)["results"][0]["id"])


def keyword_part(probe: Probe, query: str, memory_id: str) -> float:
    """The keyword part of `memory_id`'s score for `query` (0 when the keyword index does not match it)."""
    hits = probe.ok("POST", "/v3/memories/search/", {"query": query, "filters": {"user_id": "racer"}, "top_k": 100})
    return max((h["score_breakdown"].get("keyword", 0.0) for h in hits["results"] if h["id"] == memory_id), default=0.0)


def test_a_text_update_and_a_metadata_update_sent_together_both_land(probe: Probe) -> None:
    mid = added(probe, f"first {word()}")
    lost = []
    for round_ in range(ROUNDS):
        before = probe.ok("GET", f"/v1/memories/{mid}/")["memory"]
        new_text = f"{LONG} round {round_} {word()}"
        text_answer, meta_answer = at_once(
            partial(probe.send, "PUT", f"/v1/memories/{mid}/", {"text": new_text}),
            partial(probe.send, "PUT", f"/v1/memories/{mid}/", {"metadata": {"round": round_}}),
        )
        assert (text_answer.status_code, meta_answer.status_code) == (200, 200), (text_answer.text, meta_answer.text)
        now = probe.ok("GET", f"/v1/memories/{mid}/")
        if now["memory"] != new_text or now["metadata"] != {"round": round_}:
            lost.append((round_, now["memory"][-30:], now["metadata"]))
        # The keyword index follows the committed text: the replaced text's unique word no longer matches.
        old_word = before.split()[-1]
        if old_word not in now["memory"] and keyword_part(probe, old_word, mid) > 0:
            lost.append((round_, f"keyword index still matches {old_word!r}", now["memory"][-30:]))
    assert not lost, f"{len(lost)} of {ROUNDS} rounds lost a write: {lost[:3]}"
    probe.check()


def test_an_update_racing_a_delete_never_resurrects_the_memory(probe: Probe) -> None:
    for round_ in range(ROUNDS):
        secret = word()
        mid = added(probe, f"doomed {secret}")
        update, delete = at_once(
            partial(probe.send, "PUT", f"/v1/memories/{mid}/", {"text": f"{LONG} updated {secret}", "metadata": {"r": round_}}),
            partial(probe.send, "DELETE", f"/v1/memories/{mid}/"),
        )
        check_answer(update, "update racing a delete")
        check_answer(delete, "delete racing an update")
        assert update.status_code in (200, 404), update.text
        assert delete.status_code == 200, delete.text
        assert probe.send("GET", f"/v1/memories/{mid}/").status_code == 404, f"round {round_}: {mid} came back"
        listed = probe.ok("POST", "/v3/memories/", {"filters": {"user_id": "racer"}})
        assert mid not in [m["id"] for m in listed["results"]], f"round {round_}: {mid} listed after its delete"
        found = probe.ok("POST", "/v3/memories/search/", {"query": f"updated {secret}", "filters": {"user_id": "racer"}})
        assert mid not in [m["id"] for m in found["results"]], f"round {round_}: {mid} found after its delete"
        history = probe.send("GET", f"/v1/memories/{mid}/history/")
        if history.status_code == 200:  # the history keeps the events, never the texts, of a deleted memory
            assert secret not in history.text, f"round {round_}: history of a deleted memory holds its text"
    probe.check()


def bucket_state(probe: Probe) -> tuple[dict[str, int], list[dict[str, Any]]]:
    buckets = {b["id"]: b["memoryCount"] for b in probe.ok("GET", "/api/buckets")}
    memories = probe.ok("GET", "/api/memory", query="all=true")["data"]
    return buckets, memories


def test_adds_moves_and_updates_racing_a_bucket_delete_leave_no_memory_in_a_missing_bucket(probe: Probe) -> None:
    for round_ in range(BUCKET_ROUNDS):
        bucket = probe.ok("POST", "/api/buckets", {"name": f"Doomed {round_}"})["id"]
        movable = [probe.ok("POST", "/api/memory", {"text": f"movable {round_} {i} {word()}"})["memoryId"] for i in range(2)]
        adds = [partial(probe.send, "POST", "/api/memory",
                        {"text": f"{LONG} racing add {round_} {i} {word()}", "bucketId": bucket}) for i in range(ADDS)]
        move = [partial(probe.send, "POST", "/api/v2/memory/update", {"memoryIds": [movable[0]], "bucketId": bucket}),
                partial(probe.send, "POST", "/api/v2/memory/update", {"memoryId": movable[1], "bucketId": bucket})]
        answers = at_once(*adds, *move, partial(probe.send, "DELETE", f"/api/buckets/{bucket}", query="memories=delete"))
        for answer in answers:
            check_answer(answer, "racing a bucket delete")
        assert answers[-1].status_code == 200, answers[-1].text
        buckets, memories = bucket_state(probe)
        assert bucket not in buckets
        orphans = [m for m in memories if m["metadata"]["bucketId"] not in buckets]
        assert not orphans, f"round {round_}: {len(orphans)} memories point at a missing bucket: {[o['id'] for o in orphans]}"
        for answer in answers[:ADDS]:
            if answer.status_code == 200:  # added before the delete, so deleted with the bucket
                assert probe.send("GET", f"/v1/memories/{answer.json()['memoryId']}/").status_code == 404
        assert sum(buckets.values()) == len(memories), f"bucket counts {buckets} for {len(memories)} memories"
    probe.check()


THREADS = 8


def test_eight_threads_adding_and_deleting_agree_on_what_is_left(probe: Probe) -> None:
    """Each thread owns two users: it adds to both, bulk-deletes some of one's memories and filter-deletes the
    other's, over and over. Afterwards every count agrees and no deleted memory is anywhere."""
    barrier = threading.Barrier(THREADS)

    def worker(t: int) -> tuple[set[str], set[str]]:
        kept: set[str] = set()
        gone: set[str] = set()
        barrier.wait()
        for round_ in range(4):
            mine = [added(probe, f"thread {t} round {round_} keep {i} {word()}", user_id=f"t{t}-a") for i in range(3)]
            answer = probe.send("POST", "/api/memories/bulk-delete", {"memoryIds": mine[:1]})
            assert check_answer(answer, "bulk delete")["deleted"] == 1, answer.text
            kept |= set(mine[1:])
            gone |= set(mine[:1])
            doomed = [added(probe, f"thread {t} round {round_} drop {i} {word()}", user_id=f"t{t}-b") for i in range(2)]
            check_answer(probe.send("DELETE", "/v1/memories/", query=f"user_id=t{t}-b"), "filter delete")
            gone |= set(doomed)
        return kept, gone

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    kept = set().union(*(k for k, _ in results))
    gone = set().union(*(g for _, g in results))
    listed = {m["id"] for m in probe.ok("POST", "/v2/memories/", {"filters": {"user_id": {"in": [
        f"t{t}-{s}" for t in range(THREADS) for s in "ab"]}}})}
    assert listed == kept, f"{len(listed - kept)} resurrected or extra, {len(kept - listed)} lost"
    entities = {e["name"]: e["total_memories"] for e in probe.ok("GET", "/v1/entities/")["results"] if e["type"] == "user"}
    for t in range(THREADS):
        assert entities.get(f"t{t}-a") == 8, entities
        assert entities.get(f"t{t}-b", 0) == 0, entities
    everything = probe.ok("GET", "/api/memory", query="all=true")
    assert everything["count"] == len(everything["data"]) == len(kept) + 2 + 0, everything["count"]  # + keeper, target
    for mid in list(gone)[:20]:
        assert probe.send("GET", f"/v1/memories/{mid}/").status_code == 404
    probe.check()
