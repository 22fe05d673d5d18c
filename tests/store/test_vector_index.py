"""The SQLite store's in-memory vector index: an exact scan for small projects, an HNSW graph built in the
background for large ones, and the hand-over between the two (vector_index.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from memvault import filters as F
from memvault.models import Memory, utcnow
from memvault.store import vector_index
from memvault.store.sqlite import SQLiteStore
from memvault.store.vector_index import ProjectVectors

DIM = 32


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def filled(n: int, graph_min: int, background: bool = True, seed: int = 0) -> tuple[ProjectVectors, np.ndarray]:
    index = ProjectVectors(DIM, graph_min=graph_min, background=background)
    vectors = unit(np.random.default_rng(seed), n)
    for key, v in enumerate(vectors):
        index.upsert(key, v)
    return index, vectors


def exact(index: ProjectVectors, query: np.ndarray, k: int) -> list[int]:
    keys, scores = index.scores(query)
    return [int(keys[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def adopted(index: ProjectVectors, query: np.ndarray, timeout: float = 30.0) -> None:
    """Search until the background build has been taken over."""
    deadline = time.monotonic() + timeout
    while not index.graph_ready:
        assert time.monotonic() < deadline, "the graph was never built"
        index.nearest(query, 10)
        time.sleep(0.01)


def graph_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "memvault-vector-graph"]


def test_a_small_project_is_scanned_exactly_and_starts_no_thread() -> None:
    index, vectors = filled(500, graph_min=1_000)
    keys, scores = index.nearest(vectors[7], 5)
    assert keys.tolist() == exact(index, vectors[7], 5) and keys[0] == 7
    assert scores[0] == pytest.approx(1.0, abs=1e-5)
    assert not index.graph_ready and not index.building and not graph_threads()


def test_the_graph_is_built_in_the_background_and_then_finds_what_the_scan_finds() -> None:
    index, vectors = filled(3_000, graph_min=1_000)
    rng = np.random.default_rng(1)
    queries = unit(rng, 50)
    first, _ = index.nearest(queries[0], 10)
    assert index.building and not index.graph_ready  # the search that found the build due did not wait for it
    assert first.tolist() == exact(index, queries[0], 10)
    adopted(index, queries[0])
    found = [set(index.nearest(q, 10)[0].tolist()) for q in queries]
    recall = np.mean([len(f & set(exact(index, q, 10))) / 10 for f, q in zip(found, queries, strict=True)])
    assert recall >= 0.95
    for key in (0, 1234, 2999):  # a stored vector finds itself first, with its exact cosine
        keys, scores = index.nearest(vectors[key], 5)
        assert keys[0] == key and scores[0] == pytest.approx(1.0, abs=1e-5)
        assert list(scores) == sorted(scores, reverse=True)
    index.close()


def test_changes_made_while_the_graph_was_being_built_are_taken_over() -> None:
    index, vectors = filled(3_000, graph_min=1_000)
    rng = np.random.default_rng(2)
    index.nearest(vectors[0], 10)  # starts the build from a snapshot of these 3,000
    assert index.building
    for key in range(100):
        index.remove(key)
    fresh = unit(rng, 50)
    for key, v in zip(range(100, 150), fresh, strict=True):
        index.upsert(key, v)  # replaced: the snapshot holds the old vector
    for key, v in zip(range(5_000, 5_050), fresh, strict=True):
        index.upsert(key, -v)  # new
    adopted(index, vectors[500])
    for key in range(100):
        assert key not in index.nearest(vectors[key], 20)[0].tolist()
    for i, key in enumerate(range(100, 150)):
        keys, scores = index.nearest(fresh[i], 1)
        assert keys[0] == key and scores[0] == pytest.approx(1.0, abs=1e-5)
        assert index.nearest(-fresh[i], 1)[0][0] == 5_000 + i
        assert key not in index.nearest(vectors[key], 5)[0].tolist() or vectors[key] @ fresh[i] > 0.5
    index.close()


def test_after_the_hand_over_every_change_shows_in_the_next_search() -> None:
    index, vectors = filled(2_000, graph_min=1_000, background=False)
    index.nearest(vectors[0], 10)
    assert index.graph_ready and not index.building and not graph_threads()
    rng = np.random.default_rng(3)
    index.remove(42)
    assert 42 not in index.nearest(vectors[42], 10)[0].tolist()
    new = unit(rng, 1)[0]
    index.upsert(10_000, new)
    assert index.nearest(new, 1)[0][0] == 10_000
    index.upsert(43, new)  # a changed vector: found by its new value, no longer by its old one
    keys = index.nearest(new, 2)[0].tolist()
    assert set(keys) == {10_000, 43}
    assert 43 not in index.nearest(vectors[43], 3)[0].tolist() or float(vectors[43] @ new) > 0.5
    # More changes than the delta holds go into the graph a slice per search, and stay found.
    batch = unit(rng, vector_index.DELTA_MAX + 10)
    for i, v in enumerate(batch):
        index.upsert(20_000 + i, v)
    for i in (0, 500, len(batch) - 1):
        assert index.nearest(batch[i], 1)[0][0] == 20_000 + i


def test_a_graph_worn_by_removals_is_rebuilt_while_the_old_one_serves() -> None:
    index, vectors = filled(4_000, graph_min=1_000)
    adopted(index, vectors[0])
    for key in range(1_200):  # more than a quarter of the vectors and more than 1,000
        index.remove(key)
    keys = index.nearest(vectors[2_000], 5)[0]
    assert index.building and index.graph_ready and keys[0] == 2_000
    assert not set(keys.tolist()) & set(range(1_200))
    index.close()


def test_a_project_that_shrinks_well_below_the_threshold_goes_back_to_the_scan() -> None:
    index, vectors = filled(1_200, graph_min=1_000, background=False)
    index.nearest(vectors[0], 5)
    assert index.graph_ready
    for key in range(800):
        index.remove(key)
    assert index.nearest(vectors[900], 1)[0][0] == 900
    assert not index.graph_ready


def test_close_stops_a_running_build_and_leaves_no_thread(tmp_path: Path) -> None:
    index, vectors = filled(40_000, graph_min=1_000)
    index.nearest(vectors[0], 10)
    assert graph_threads()
    index.close()
    assert not graph_threads() and not index.building


def test_the_store_filters_graph_results_and_scores_a_selective_filter_exactly(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=100, graph_background=False)
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "general")
    assert bucket is not None
    vectors = unit(np.random.default_rng(4), 600)
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), pid, f"m{i}", f"m{i}", bucket.id, now, now,
                       user_id="few" if i % 100 == 0 else "many") for i in range(600)]
    store.insert(memories, vectors, [])
    # Six memories belong to "few": the graph's first candidates hold too few of them, so they are scored exactly.
    query = vectors[300] + 0.01 * vectors[0]
    hits = store.vector_search(pid, query, F.eq("user_id", "few"), 10)
    few = [i for i in range(600) if i % 100 == 0]
    best = sorted(few, key=lambda i: -float(vectors[i] @ query))
    assert [h[0] for h in hits] == [memories[i].id for i in best]
    hits = store.vector_search(pid, vectors[7], F.eq("user_id", "many"), 3)
    assert hits[0][0] == memories[7].id
    store.delete(pid, [memories[7].id], utcnow())
    assert memories[7].id not in [h[0] for h in store.vector_search(pid, vectors[7], None, 10)]
    store.close()
    assert not graph_threads()


def test_the_graph_library_and_the_embedding_runtime_load_in_either_order() -> None:
    """usearch 2.26 made the next import of onnxruntime crash the interpreter; the pin keeps a version that does not."""
    for first, second in (("memvault.store.vector_index", "onnxruntime"), ("onnxruntime", "memvault.store.vector_index")):
        done = subprocess.run([sys.executable, "-c", f"import {first}, {second}; print('loaded')"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr


def test_the_store_says_building_while_a_graph_is_built_and_ready_after(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=1_000)
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "general")
    assert bucket is not None
    vectors = unit(np.random.default_rng(5), 3_000)
    now = utcnow()
    store.insert([Memory(str(uuid.uuid4()), pid, f"m{i}", f"m{i}", bucket.id, now, now) for i in range(3_000)],
                 vectors, [])
    assert store.vector_index_state() == "ready"  # nothing to build until a search finds the project large
    store.vector_search(pid, vectors[0], None, 5)
    assert store.vector_index_state() == "building"
    deadline = time.monotonic() + 30
    while store.vector_index_state() == "building":
        assert time.monotonic() < deadline
        store.vector_search(pid, vectors[0], None, 5)
        time.sleep(0.01)
    assert store.vector_search(pid, vectors[9], None, 1)[0][1] == pytest.approx(1.0, abs=1e-5)
    store.close()


def test_a_finished_graph_counts_as_ready_before_any_search_takes_it_over() -> None:
    """/healthz reads this: a server nobody searches must not say "building" forever once its graph is done."""
    index, vectors = filled(3_000, graph_min=1_000)
    index.nearest(vectors[0], 10)
    deadline = time.monotonic() + 30
    while graph_threads():
        assert time.monotonic() < deadline, "the graph was never built"
        time.sleep(0.01)
    assert not index.building and not index.graph_ready  # done, not yet taken over
    assert index.nearest(vectors[9], 1)[0][0] == 9 and index.graph_ready
    index.close()


def test_searches_beside_writes_and_builds_never_return_a_deleted_memory(tmp_path: Path) -> None:
    """Two threads search while a third adds and deletes, with graphs built (and rebuilt) in the background."""
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=300)
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "general")
    assert bucket is not None
    rng = np.random.default_rng(6)
    vectors = unit(rng, 2_400)
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), pid, f"m{i}", f"m{i}", bucket.id, now, now) for i in range(2_400)]
    store.insert(memories[:1_200], vectors[:1_200], [])
    deleted: set[str] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        try:
            for i in range(1_200, 2_400, 40):
                store.insert(memories[i:i + 40], vectors[i:i + 40], [])
                gone = [m.id for m in memories[i - 1_200:i - 1_160]]
                store.delete(pid, gone, utcnow())
                deleted.update(gone)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            stop.set()

    def read(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                i = int(local.integers(0, 2_400))
                before = set(deleted)
                hits = store.vector_search(pid, vectors[i], None, 10)
                assert not {h for h, _ in hits} & before, "a memory deleted before the search was returned"
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read, args=(s,)) for s in (1, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    store.vector_search(pid, vectors[0], None, 1)
    assert all(index.graph_ready for index in store._indexes.values())  # the searches above went through a graph
    live = memories[1_200:]
    for m, v in zip(live[::97], vectors[1_200::97], strict=True):
        assert store.vector_search(pid, v, None, 1)[0][0] == m.id
    store.close()
    assert not graph_threads()


def owned_project(tmp_path: Path, n: int, owner: Callable[[int], str], vectors: np.ndarray,
                  graph_min: int = 100) -> tuple[SQLiteStore, str, list[Memory]]:
    """A store over the graph threshold (built at once) whose memory i belongs to user owner(i)."""
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=graph_min, graph_background=False)
    pid = store.ensure_project("p").id
    bucket = store.find_bucket(pid, "general")
    assert bucket is not None
    now = utcnow()
    memories = [Memory(str(uuid.uuid4()), pid, f"m{i}", f"m{i}", bucket.id, now, now, user_id=owner(i))
                for i in range(n)]
    store.insert(memories, vectors, [])
    return store, pid, memories


def unbounded_reads(statements: list[str]) -> list[str]:
    """Statements that read memories neither by a list of keys nor up to a LIMIT: a read of every row a filter
    admits."""
    return [s for s in statements if "FROM memories" in s and "json_each" not in s and "LIMIT" not in s]


def test_a_filter_admitting_many_rows_far_from_the_query_widens_the_graph_instead_of_reading_them_all(
        tmp_path: Path) -> None:
    """A third of the memories are "far"'s, all on the side of the space opposite the query: the graph's first
    candidates hold none of them. The store must not conclude the filter is selective and score every row it admits:
    it counts them (up to a cap), finds many, and asks the graph for more candidates."""
    rng = np.random.default_rng(7)
    vectors = unit(rng, 3_000)
    toward = vectors[0]
    far = set(np.argsort(vectors @ toward)[:1_000].tolist())  # the third least like the query
    store, pid, memories = owned_project(tmp_path, 3_000, lambda i: "far" if i in far else "near", vectors)
    store.vector_search(pid, toward, None, 1)  # the index is loaded and the graph built before we watch
    statements: list[str] = []
    store._conn().set_trace_callback(statements.append)
    hits = store.vector_search(pid, toward, F.eq("user_id", "far"), 10)
    store._conn().set_trace_callback(None)
    best = sorted(far, key=lambda i: -float(vectors[i] @ toward))[:10]
    assert [h[0] for h in hits] == [memories[i].id for i in best]
    assert statements and not unbounded_reads(statements)
    store.close()


def test_filtered_graph_search_finds_what_exact_search_finds_at_every_selectivity(tmp_path: Path) -> None:
    """Recall@10 against exact search, over the graph, for filters admitting a half, a tenth and a hundredth of the
    memories, each user's memories grouped in clusters (ten near copies of a point, as people's memories are
    about a few things). Only the hundredth is scored exactly; the others go through the graph."""
    rng = np.random.default_rng(8)
    centres = unit(rng, 400)
    vectors = np.repeat(centres, 10, axis=0) + 0.15 * rng.normal(size=(4_000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    users = rng.choice(["half", "tenth", "hundredth", "other"], p=[0.5, 0.1, 0.01, 0.39], size=400)
    store, pid, memories = owned_project(tmp_path, 4_000, lambda i: str(users[i // 10]), vectors, graph_min=1_000)
    queries = unit(rng, 40)
    store.vector_search(pid, queries[0], None, 1)
    for user in ("half", "tenth", "hundredth"):
        own = np.flatnonzero(users[np.arange(4_000) // 10] == user)
        recalls = []
        statements: list[str] = []
        store._conn().set_trace_callback(statements.append)
        for q in queries:
            hits = store.vector_search(pid, q, F.eq("user_id", user), 10)
            truth = {memories[i].id for i in own[np.argsort(-(vectors[own] @ q), kind="stable")[:10]]}
            assert len(hits) == 10 and {h[0] for h in hits} <= {memories[i].id for i in own}
            assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
            recalls.append(len({h[0] for h in hits} & truth) / 10)
        store._conn().set_trace_callback(None)
        assert np.mean(recalls) >= 0.95, (user, np.mean(recalls))
        assert bool(unbounded_reads(statements)) == (user == "hundredth"), user
    store.close()


def test_a_large_project_is_held_in_half_the_memory_and_still_ranks_as_exact_search() -> None:
    """From half_min vectors the matrix is float16 and, with dense keys, a key finds its row through an array: the
    ranking stays the exact one (cosines within ~1e-3) and every change still shows, a far-off key included."""
    n = 70_000  # over the key map's threshold
    vectors = unit(np.random.default_rng(9), n)
    small = ProjectVectors(DIM, graph_min=10**9, half_min=10**9)
    half = ProjectVectors(DIM, graph_min=10**9, half_min=1_000)
    for key, v in enumerate(vectors):
        small.upsert(key + 1, v)
        half.upsert(key + 1, v)
    assert half.nbytes < 0.6 * small.nbytes
    for q in unit(np.random.default_rng(10), 20):
        keys, scores = half.nearest(q, 10)
        truth = exact(small, q, 10)
        assert len(set(keys.tolist()) & set(truth)) >= 9
        assert np.allclose(scores, vectors[keys - 1] @ q, atol=2e-3)
    assert half.nearest(vectors[41], 1)[0][0] == 42
    half.remove(42)
    assert 42 not in half.nearest(vectors[41], 10)[0].tolist()
    half.upsert(10**12, vectors[41])  # a key far above the others: kept all the same
    assert half.nearest(vectors[41], 1)[0][0] == 10**12
    half.upsert(7, -vectors[6])  # a changed vector
    assert half.nearest(-vectors[6], 1)[0][0] == 7 and 7 not in half.nearest(vectors[6], 10)[0].tolist()
    assert half.similarity(np.array([7, 42, 10**12]), vectors[41]).tolist()[1:] == pytest.approx([0.0, 1.0], abs=2e-3)


def test_warm_up_reads_the_vectors_and_builds_the_graph_before_any_search(tmp_path: Path) -> None:
    """A server calls warm_up at start: the vectors are read and the graph built in the background, /healthz says
    "building" meanwhile, and a change committed while they load is in the first search."""
    rng = np.random.default_rng(11)
    vectors = unit(rng, 3_001)
    store, pid, memories = owned_project(tmp_path, 3_000, lambda i: "u", vectors[:3_000], graph_min=1_000)
    store.close()
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=1_000)
    store.warm_up()
    bucket = store.find_bucket(pid, "general")
    assert bucket is not None
    now = utcnow()
    late = Memory(str(uuid.uuid4()), pid, "late", "late", bucket.id, now, now, user_id="u")
    store.insert([late], vectors[3_000:], [])
    store.delete(pid, [memories[5].id], utcnow())
    deadline = time.monotonic() + 60
    while store.vector_index_state() == "building" or graph_threads():
        assert time.monotonic() < deadline, "the vectors were never loaded"
        time.sleep(0.01)
    [index] = store._indexes.values()  # loaded without a search, and its graph built
    assert index.size >= 3_000 and not index.building
    assert store.vector_search(pid, vectors[3_000], None, 1)[0][0] == late.id
    assert memories[5].id not in [h for h, _ in store.vector_search(pid, vectors[5], None, 10)]
    assert store.vector_search(pid, vectors[9], None, 1)[0][0] == memories[9].id
    assert index.graph_ready
    store.close()
    assert not [t for t in threading.enumerate() if t.name == "memvault-vector-load"]


def test_a_store_closed_while_it_warms_up_leaves_no_thread(tmp_path: Path) -> None:
    vectors = unit(np.random.default_rng(12), 30_000)
    store, _, _ = owned_project(tmp_path, 30_000, lambda i: "u", vectors, graph_min=1_000)
    store.close()
    store = SQLiteStore(tmp_path / "memvault.db", graph_min=1_000)
    store.warm_up()
    store.close()
    assert not [t for t in threading.enumerate() if t.name in ("memvault-vector-load", "memvault-vector-graph")]


def checked_keys(statements: list[str]) -> int:
    """How many candidates the statements checked against the filter (the key lists of `_allowed`'s reads)."""
    return sum(len(json.loads(s.split("json_each('", 1)[1].split("')", 1)[0]))
               for s in statements if "m.seq IN (SELECT value FROM json_each(" in s)


def test_a_filtered_search_checks_its_candidates_best_first_and_stops_at_the_kth_admitted(tmp_path: Path) -> None:
    """Nine memories in ten are "most"'s. A search for the 200 nearest walks the graph for 400 candidates; the
    first part checked against the filter (256, best first) already holds 200 admitted, so the rest of the walk is
    never read from the table, and the answer is the exact one."""
    rng = np.random.default_rng(11)
    vectors = unit(rng, 3_000)
    owners = rng.random(3_000) < 0.9
    store, pid, memories = owned_project(tmp_path, 3_000, lambda i: "most" if owners[i] else "other", vectors)
    q = unit(rng, 1)[0]
    store.vector_search(pid, q, None, 1)
    statements: list[str] = []
    store._conn().set_trace_callback(statements.append)
    hits = store.vector_search(pid, q, F.eq("user_id", "most"), 200)
    store._conn().set_trace_callback(None)
    own = np.flatnonzero(owners)
    truth = [memories[i].id for i in own[np.argsort(-(vectors[own] @ q), kind="stable")[:200]]]
    assert len(hits) == 200 and len({h[0] for h in hits} & set(truth)) >= 190
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert 200 <= checked_keys(statements) <= 256
    store.close()
