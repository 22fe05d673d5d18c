"""A deterministic fake embedder for tests: feature hashing, no model, no dependency.

Each lowercased word token (weight 1) and each character trigram of a word padded with ``#``
(weight 0.5) is hashed with blake2b to a coordinate and a sign; the sum is L2-normalised. The same
text gives the same vector in every process, and texts sharing words or word parts score a higher
cosine than unrelated ones. There is no meaning in it: "car" and "automobile" are strangers.
A text without any word (empty, punctuation only) gets the fixed unit vector ``e_0``.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from memvault.embed.base import Vectors

_WORD = re.compile(r"\w+")
_TRIGRAM_WEIGHT = 0.5


class HashingEmbedder:
    """Feature-hashed bag of words and trigrams of dimension ``dim``; see the module docstring."""

    def __init__(self, dim: int = 64) -> None:
        if dim < 1:
            raise ValueError("dim must be at least 1")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"

    def embed(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, weight in _features(text):
                index, sign = _bucket(feature, self.dim)
                out[row, index] += sign * weight
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        out[empty, 0] = 1.0
        norms[empty] = 1.0
        unit: Vectors = out / norms
        return unit


def _features(text: str) -> list[tuple[str, float]]:
    features: list[tuple[str, float]] = []
    for word in _WORD.findall(text.lower()):
        features.append(("w:" + word, 1.0))
        padded = f"#{word}#"
        features.extend(("t:" + padded[i : i + 3], _TRIGRAM_WEIGHT) for i in range(len(padded) - 2))
    return features


@lru_cache(maxsize=65536)
def _bucket(feature: str, dim: int) -> tuple[int, float]:
    """The coordinate and sign a feature adds to, the same in every process."""
    value = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
    return (value >> 1) % dim, (1.0 if value & 1 else -1.0)
