"""An exact in-memory vector index: one float32 matrix per project, rows addressed by an integer key.

Used by stores that have no vector index of their own (SQLite). It is a cache of the database:
the store feeds it from its change log, so it is never the only copy of anything.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..embed.base import Vectors


class ProjectVectors:
    """Unit vectors of one project, by key (the store's row number). Not thread-safe: callers lock."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._mat: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._keys: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._pos: dict[int, int] = {}
        self.size = 0

    def upsert(self, key: int, vector: Vectors) -> None:
        pos = self._pos.get(key)
        if pos is None:
            if self.size == len(self._keys):
                self._grow()
            pos = self.size
            self.size += 1
            self._pos[key] = pos
            self._keys[pos] = key
        self._mat[pos] = vector

    def remove(self, key: int) -> None:
        pos = self._pos.pop(key, None)
        if pos is None:
            return
        last = self.size - 1
        if pos != last:
            moved = int(self._keys[last])
            self._mat[pos] = self._mat[last]
            self._keys[pos] = moved
            self._pos[moved] = pos
        self.size = last

    def scores(self, query: Vectors) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Keys and cosine similarity of every vector (unit vectors: dot product)."""
        n = self.size
        return self._keys[:n], self._mat[:n] @ query.astype(np.float32, copy=False)

    def similarity(self, keys: npt.NDArray[np.int64], query: Vectors) -> npt.NDArray[np.float32]:
        """Cosine of the vectors of `keys` to `query`; 0 for a key not in the index."""
        pos = np.fromiter((self._pos.get(int(k), -1) for k in keys), dtype=np.int64, count=len(keys))
        out = np.zeros(len(keys), dtype=np.float32)
        found = pos >= 0
        if found.any():
            out[found] = self._mat[pos[found]] @ query.astype(np.float32, copy=False)
        return out

    def _grow(self) -> None:
        cap = max(1024, len(self._keys) * 2)
        mat = np.zeros((cap, self.dim), dtype=np.float32)
        mat[: self.size] = self._mat[: self.size]
        keys = np.zeros(cap, dtype=np.int64)
        keys[: self.size] = self._keys[: self.size]
        self._mat, self._keys = mat, keys


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
