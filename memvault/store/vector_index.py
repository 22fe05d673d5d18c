"""An in-memory vector index: one matrix per project, rows addressed by an integer key, and, once a project
holds GRAPH_MIN vectors, an HNSW graph (usearch, int8) beside it. The matrix is float32 up to HALF_MIN vectors and
float16 from there (half the memory: 0.77 GB at 1,000,000 of 384 dimensions; cosines within ~1e-3), scored by
usearch's exact kernels (numpy converts float16 some 10x slower than it multiplies float32); it grows by an eighth,
and a large project's keys find their rows through an array indexed by key instead of a dict (4 MB at 1,000,000
against ~100 MB).

Used by stores that have no vector index of their own (SQLite). It is a cache of the database: the store
feeds it from its change log, so it is never the only copy of anything.

`nearest` reads the graph when there is one and scores what it finds exactly from the matrix. The graph
is built in a background thread from a snapshot of the keys, reading the matrix in place (a search meanwhile
scans the matrix), so the first search
of a large project is never held up; what changed while it was being built is taken over when it is
adopted. After that, a changed or added vector waits in a small delta set, scored exactly by every
search; once DELTA_MAX wait, each search inserts _FLUSH of them into the graph (so no one search pays
for all); a removed vector leaves the graph at once. A graph with many removed vectors is rebuilt the
same way, the old one serving meanwhile.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import numpy.typing as npt
from usearch.index import Index
from usearch.index import search as exact_search

from ..embed.base import Vectors

GRAPH_MIN = 20_000  # vectors of one project before a graph is built (below, one exact scan is ~1 ms)
DELTA_MAX = 1_024  # changed vectors scored exactly (a fraction of a millisecond) before they go into the graph
_FLUSH = 128  # vectors one search inserts into the graph once the delta is full (bounds the time it adds)
EF_SEARCH = 64  # the graph's candidate list per search up to EF_SEARCH_SIZE vectors (see search_breadth)
EF_SEARCH_SIZE = 100_000
_CHUNK = 4_096  # vectors a build inserts between checks of its stop flag (a close waits for one: < 1 s)
_PARALLEL_MIN = 100_000  # vectors from which a graph is built on every core
HALF_MIN = 100_000  # vectors of one project from which its matrix is float16
_DENSE_MIN = 65_536  # keys of one project from which a key finds its row through an array (when the keys are dense)
_SPARSE = 8  # the array is used while the largest key is below this many times the number of keys


def _new_graph(dim: int) -> Index:
    # int8 keeps the graph a quarter of the matrix's size; candidates are re-scored from the matrix.
    return Index(ndim=dim, metric="cos", dtype="i8", connectivity=16, expansion_add=128, expansion_search=64)


def build_graph(dim: int, keys: npt.NDArray[np.int64], mat: Vectors, stop: threading.Event | None = None) -> Index | None:
    """A graph of these vectors; None if `stop` is set before it is done. From _PARALLEL_MIN vectors on every core
    (usearch's threads, outside the interpreter lock: at 1,000,000 on 2 cores, 241 s instead of ~450 s of one
    core); below, on one, which gives the same graph every time."""
    graph = _new_graph(dim)
    threads = 0 if len(keys) >= _PARALLEL_MIN else 1
    for i in range(0, len(keys), _CHUNK):
        if stop is not None and stop.is_set():
            return None
        graph.add(keys[i:i + _CHUNK].astype(np.uint64), mat[i:i + _CHUNK], threads=threads)
    return graph


class _KeyRows:
    """Key -> row. A dict while the keys are few or sparse; an int32 array indexed by key once there are
    _DENSE_MIN of them and the largest is below _SPARSE times their number (a store's row numbers: one project's
    are dense)."""

    def __init__(self) -> None:
        self._dict: dict[int, int] | None = {}
        self._arr: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._count = 0
        self._top = 0  # dict mode: above every key held (maybe above them all after a pop); -1 once a key was < 0

    def get(self, key: int) -> int:
        if self._dict is not None:
            return self._dict.get(key, -1)
        return int(self._arr[key]) if 0 <= key < len(self._arr) else -1

    def set(self, key: int, row: int) -> None:
        if self._dict is not None:
            if key not in self._dict:
                self._count += 1
            self._dict[key] = row
            self._top = -1 if key < 0 or self._top < 0 else max(self._top, key + 1)
            if self._count >= _DENSE_MIN and 0 <= self._top <= _SPARSE * self._count:
                self._to_array()
            return
        if not 0 <= key < _SPARSE * (self._count + 1) + _DENSE_MIN:
            self._to_dict()
            self.set(key, row)
            return
        if key >= len(self._arr):
            arr = np.full(max(key + 1, len(self._arr) + len(self._arr) // 8), -1, dtype=np.int32)
            arr[:len(self._arr)] = self._arr
            self._arr = arr
        if self._arr[key] < 0:
            self._count += 1
        self._arr[key] = row

    def pop(self, key: int) -> int:
        if self._dict is not None:
            row = self._dict.pop(key, -1)
        else:
            row = self.get(key)
            if row >= 0:
                self._arr[key] = -1
        if row >= 0:
            self._count -= 1
        return row

    @property
    def nbytes(self) -> int:
        """The array's size, or about 100 bytes per key of a dict (its table and its int objects)."""
        return self._arr.nbytes if self._dict is None else 100 * len(self._dict)

    def many(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Row of each key; -1 for a key not held."""
        if self._dict is not None:
            d = self._dict
            return np.fromiter((d.get(int(k), -1) for k in keys), dtype=np.int64, count=len(keys))
        keys = np.asarray(keys, dtype=np.int64)
        inside = (keys >= 0) & (keys < len(self._arr))
        out = np.full(len(keys), -1, dtype=np.int64)
        out[inside] = self._arr[keys[inside]]
        return out

    def _to_array(self) -> None:
        assert self._dict is not None
        keys = np.fromiter(self._dict.keys(), dtype=np.int64, count=len(self._dict))
        rows = np.fromiter(self._dict.values(), dtype=np.int32, count=len(self._dict))
        self._arr = np.full(int(keys.max()) + 1 + _DENSE_MIN // 8, -1, dtype=np.int32)
        self._arr[keys] = rows
        self._dict = None

    def _to_dict(self) -> None:
        keys = np.flatnonzero(self._arr >= 0)
        self._dict = dict(zip(keys.tolist(), self._arr[keys].tolist(), strict=True))
        self._top = len(self._arr)
        self._arr = np.zeros(0, dtype=np.int32)


class _GraphBuild:
    """A graph built from a snapshot in a thread of its own; `journal` collects the keys changed since."""

    def __init__(self, dim: int, keys: npt.NDArray[np.int64], mat: Vectors) -> None:
        self.journal: set[int] = set()
        self.graph: Index | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(dim, keys, mat), name="memvault-vector-graph",
                                        daemon=True)
        self._thread.start()

    def _run(self, dim: int, keys: npt.NDArray[np.int64], mat: Vectors) -> None:
        self.graph = build_graph(dim, keys, mat, self._stop)

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class ProjectVectors:
    """Unit vectors of one project, by key (the store's row number). Not thread-safe: callers lock."""

    def __init__(self, dim: int, graph_min: int = GRAPH_MIN, background: bool = True, half_min: int = HALF_MIN) -> None:
        """graph_min: vectors from which searches read a graph; background=False builds it inside the search
        that finds it due (for tests and batch jobs that want the graph path at once); half_min: vectors from
        which the matrix is float16."""
        self.dim = dim
        self._background = background
        self._half_min = half_min
        self._mat: npt.NDArray[Any] = np.zeros((0, dim), dtype=np.float32)
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._pos = _KeyRows()
        self.size = 0
        self._graph_min = graph_min
        self._graph: Index | None = None
        self._delta: set[int] = set()  # keys whose current vector the graph does not hold yet
        self._dead = 0  # vectors removed from the graph since it was built
        self._build: _GraphBuild | None = None

    @property
    def graph_ready(self) -> bool:
        """Whether searches read a graph (else they scan the matrix)."""
        return self._graph is not None

    @property
    def nbytes(self) -> int:
        """Memory held: the matrix (with its unused rows), the keys, the key map and the graph."""
        graph = self._graph.memory_usage if self._graph is not None else 0
        return int(self._mat.nbytes + self._keys.nbytes + self._pos.nbytes + graph)

    @property
    def building(self) -> bool:
        """Whether a graph is being built (one that is done counts as ready: the next search takes it over)."""
        return self._build is not None and not self._build.done

    def upsert(self, key: int, vector: Vectors) -> None:
        pos = self._pos.get(key)
        if pos < 0:
            if self.size == len(self._keys):
                self._grow()
            pos = self.size
            self.size += 1
            self._pos.set(key, pos)
            self._keys[pos] = key
        elif self._graph is not None and key not in self._delta:
            self._graph.remove(key)  # its old vector leaves the graph; the new one waits in the delta
            self._dead += 1
        self._mat[pos] = vector
        if self._graph is not None:
            self._delta.add(key)
        if self._build is not None:
            self._build.journal.add(key)

    def remove(self, key: int) -> None:
        pos = self._pos.pop(key)
        if pos < 0:
            return
        if self._build is not None:
            self._build.journal.add(key)
        if self._graph is not None:
            if key in self._delta:
                self._delta.discard(key)
            else:
                self._graph.remove(key)
                self._dead += 1
        last = self.size - 1
        if pos != last:
            moved = int(self._keys[last])
            self._mat[pos] = self._mat[last]
            self._keys[pos] = moved
            self._pos.set(moved, pos)
            if self._build is not None:
                self._build.journal.add(moved)  # its old row may be overwritten under the build's feet
        self.size = last

    def scores(self, query: Vectors) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine similarity of every vector (unit vectors: dot product)."""
        n = self.size
        query = query.astype(np.float32, copy=False)
        if self._mat.dtype != np.float16:
            return self._keys[:n], self._mat[:n] @ query
        out = np.empty(n, dtype=np.float32)
        for i in range(0, n, 65_536):  # a slice at a time: the float16 matrix is never converted all at once
            out[i:i + 65_536] = self._mat[i:min(n, i + 65_536)].astype(np.float32) @ query
        return self._keys[:n], out

    def nearest(self, query: Vectors, want: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine of (about) the `want` nearest vectors, best first. Exact below GRAPH_MIN vectors or
        while the graph is being built; from the graph and the delta, scored exactly, after that."""
        self._tend()
        query = query.astype(np.float32, copy=False)
        if self._graph is None:
            if self._mat.dtype == np.float16:
                return self._best(self._mat[:self.size], self._keys[:self.size], query, want)
            keys, scores = self.scores(query)
            order = top_k(scores, want)
            return keys[order], scores[order]
        self._graph.expansion_search = search_breadth(self.size, want)  # type: ignore[misc]  # usearch has the setter
        found = self._graph.search(query, want).keys.astype(np.int64)
        return self.among(np.concatenate([found, np.fromiter(self._delta, dtype=np.int64, count=len(self._delta))]),
                          query, want)

    def prepare(self) -> None:
        """Start the graph's build now if it is due (else the next search does)."""
        self._tend()

    def close(self) -> None:
        """Stop a background build (joined: no thread is left running)."""
        build, self._build = self._build, None
        if build is not None:
            build.stop()

    def _tend(self) -> None:
        """Adopt a finished build, start one when due, move a full delta into the graph. Caller locks."""
        build = self._build
        if build is not None and build.done:
            self._build = None
            graph = build.graph
            if graph is not None:
                for key in build.journal:  # changed or removed since the snapshot the graph was built from
                    if key in graph:
                        graph.remove(key)
                self._graph, self._dead = graph, 0
                self._delta = {k for k in build.journal if self._pos.get(k) >= 0}
        if self.size < self._graph_min // 2:
            self._graph, self._delta = None, set()  # the project shrank: a scan is cheap again
        due = self._graph is None and self.size >= self._graph_min
        worn = self._graph is not None and self._dead > max(1_000, self.size // 4)
        if self._build is None and (due or worn):
            n = self.size
            if self._background:
                # The keys are copied, the vectors read in place (a copy would double the memory of a large
                # project while it is built): a row written meanwhile belongs to a key in the journal.
                self._build = _GraphBuild(self.dim, self._keys[:n].copy(), self._mat[:n])
            else:
                self._graph, self._dead, self._delta = build_graph(self.dim, self._keys[:n], self._mat[:n]), 0, set()
        if self._graph is not None and len(self._delta) >= DELTA_MAX:
            keys = np.array(sorted(self._delta)[:_FLUSH], dtype=np.int64)
            pos = self._positions(keys)
            self._graph.add(keys.astype(np.uint64), self._mat[pos], threads=0)
            self._delta.difference_update(keys.tolist())

    def among(self, keys: npt.NDArray[np.int64], query: Vectors,
              want: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine of the `want` nearest of `keys` (exact; keys not in the index are left out)."""
        pos = self._positions(keys)
        pos = pos[pos >= 0]
        if self._mat.dtype == np.float16:
            return self._best(self._mat[pos], self._keys[pos], query, want)
        sims = self._mat[pos] @ query.astype(np.float32, copy=False)
        order = top_k(sims, want)
        return self._keys[pos[order]], sims[order]

    @staticmethod
    def _best(rows: npt.NDArray[Any], keys: npt.NDArray[np.int64], query: Vectors,
              want: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """The `want` nearest of float16 `rows` (usearch's exact kernel), best first."""
        want = min(want, len(rows))
        if want <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found = exact_search(rows, query.astype(np.float16), want, "cos", exact=True, threads=1)
        order = found.keys.astype(np.int64)
        return keys[order], (1.0 - found.distances).astype(np.float32)

    def similarity(self, keys: npt.NDArray[np.int64], query: Vectors) -> npt.NDArray[np.float32]:
        """Cosine of the vectors of `keys` to `query`; 0 for a key not in the index."""
        pos = self._positions(keys)
        out = np.zeros(len(keys), dtype=np.float32)
        found = pos >= 0
        if found.any():
            out[found] = self._mat[pos[found]].astype(np.float32, copy=False) @ query.astype(np.float32, copy=False)
        return out

    def _positions(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Row of each key in the matrix; -1 for a key not in the index."""
        return self._pos.many(keys)

    def _grow(self) -> None:
        cap = max(1024, len(self._keys) + len(self._keys) // 8)  # an eighth: little room unused at a million
        half = self._mat.dtype == np.float16 or cap >= self._half_min
        mat = np.zeros((cap, self.dim), dtype=np.float16 if half else np.float32)
        mat[: self.size] = self._mat[: self.size]
        keys = np.zeros(cap, dtype=np.int64)
        keys[: self.size] = self._keys[: self.size]
        self._mat, self._keys = mat, keys


def search_breadth(size: int, want: int) -> int:
    """The graph's candidate list for `want` vectors of a project of `size`: EF_SEARCH up to EF_SEARCH_SIZE
    vectors, then growing with the square root of the size (202 at 1,000,000), never below `want`. At 1M,
    64 found 0.966 of the true 10 nearest, 128 found 0.987 and 256 0.997, for 1.2, 1.3 and 1.9 ms (BENCHMARKS.md,
    "A million memories")."""
    return max(want, EF_SEARCH, round(EF_SEARCH * math.sqrt(max(size, 0) / EF_SEARCH_SIZE)))


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Positions of the k highest scores, best first (ties: lower position first)."""
    n = len(scores)
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.intp)
    if k < n:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(n)
    order = np.lexsort((part, -scores[part]))
    return part[order]
