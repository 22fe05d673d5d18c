"""An in-memory vector index: one float32 matrix per project, rows addressed by an integer key, and, once a
project holds GRAPH_MIN vectors, an HNSW graph (usearch, int8) beside it.

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

import numpy as np
import numpy.typing as npt
from usearch.index import Index

from ..embed.base import Vectors

GRAPH_MIN = 20_000  # vectors of one project before a graph is built (below, one exact scan is ~1 ms)
DELTA_MAX = 1_024  # changed vectors scored exactly (a fraction of a millisecond) before they go into the graph
_FLUSH = 128  # vectors one search inserts into the graph once the delta is full (bounds the time it adds)
EF_SEARCH = 64  # the graph's candidate list per search up to EF_SEARCH_SIZE vectors (see search_breadth)
EF_SEARCH_SIZE = 100_000
_CHUNK = 1_024  # vectors a build inserts between checks of its stop flag (a close waits for one: ~0.3 s)


def _new_graph(dim: int) -> Index:
    # int8 keeps the graph a quarter of the matrix's size; candidates are re-scored from the matrix.
    return Index(ndim=dim, metric="cos", dtype="i8", connectivity=16, expansion_add=128, expansion_search=64)


def build_graph(dim: int, keys: npt.NDArray[np.int64], mat: Vectors, stop: threading.Event | None = None) -> Index | None:
    """A graph of these vectors; None if `stop` is set before it is done. One thread: a search keeps a core."""
    graph = _new_graph(dim)
    for i in range(0, len(keys), _CHUNK):
        if stop is not None and stop.is_set():
            return None
        graph.add(keys[i:i + _CHUNK].astype(np.uint64), mat[i:i + _CHUNK], threads=1)
    return graph


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

    def __init__(self, dim: int, graph_min: int = GRAPH_MIN, background: bool = True) -> None:
        """graph_min: vectors from which searches read a graph; background=False builds it inside the search
        that finds it due (for tests and batch jobs that want the graph path at once)."""
        self.dim = dim
        self._background = background
        self._mat: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._pos: dict[int, int] = {}
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
    def building(self) -> bool:
        """Whether a graph is being built (one that is done counts as ready: the next search takes it over)."""
        return self._build is not None and not self._build.done

    def upsert(self, key: int, vector: Vectors) -> None:
        pos = self._pos.get(key)
        if pos is None:
            if self.size == len(self._keys):
                self._grow()
            pos = self.size
            self.size += 1
            self._pos[key] = pos
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
        pos = self._pos.pop(key, None)
        if pos is None:
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
            self._pos[moved] = pos
            if self._build is not None:
                self._build.journal.add(moved)  # its old row may be overwritten under the build's feet
        self.size = last

    def scores(self, query: Vectors) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine similarity of every vector (unit vectors: dot product)."""
        n = self.size
        return self._keys[:n], self._mat[:n] @ query.astype(np.float32, copy=False)

    def nearest(self, query: Vectors, want: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine of (about) the `want` nearest vectors, best first. Exact below GRAPH_MIN vectors or
        while the graph is being built; from the graph and the delta, scored exactly, after that."""
        self._tend()
        query = query.astype(np.float32, copy=False)
        if self._graph is None:
            keys, scores = self.scores(query)
            order = top_k(scores, want)
            return keys[order], scores[order]
        self._graph.expansion_search = search_breadth(self.size, want)  # type: ignore[misc]  # usearch has the setter
        found = self._graph.search(query, want).keys.astype(np.int64)
        return self.among(np.concatenate([found, np.fromiter(self._delta, dtype=np.int64, count=len(self._delta))]),
                          query, want)

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
                self._delta = {k for k in build.journal if k in self._pos}
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
        sims = self._mat[pos] @ query.astype(np.float32, copy=False)
        order = top_k(sims, want)
        return self._keys[pos[order]], sims[order]

    def similarity(self, keys: npt.NDArray[np.int64], query: Vectors) -> npt.NDArray[np.float32]:
        """Cosine of the vectors of `keys` to `query`; 0 for a key not in the index."""
        pos = self._positions(keys)
        out = np.zeros(len(keys), dtype=np.float32)
        found = pos >= 0
        if found.any():
            out[found] = self._mat[pos[found]] @ query.astype(np.float32, copy=False)
        return out

    def _positions(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Row of each key in the matrix; -1 for a key not in the index."""
        return np.fromiter((self._pos.get(int(k), -1) for k in keys), dtype=np.int64, count=len(keys))

    def _grow(self) -> None:
        cap = max(1024, len(self._keys) * 2)
        mat = np.zeros((cap, self.dim), dtype=np.float32)
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
