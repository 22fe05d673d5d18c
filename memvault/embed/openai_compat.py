"""Vectors from any OpenAI-compatible embeddings endpoint (OpenAI, Ollama, vLLM, llama.cpp, TEI).

``POST {base_url}/embeddings`` with ``{"model": ..., "input": [...]}``, at most ``batch_size``
texts per request; the answer's ``data`` items are put back in input order by their ``index`` and
L2-normalised here, whatever the server does. When ``dim`` is not given it is learnt from the first
answer, and reading ``.dim`` before any call makes one small probe request.

Any failure of the service (unreachable, timed out, a non-2xx status, an answer that is not a list
of finite non-zero vectors of one length) raises :class:`~memvault.errors.Unavailable`, whose
message names the endpoint without credentials and never contains the API key.

The embedder keeps one HTTP client (connection pool) for its lifetime, made on first use; it is
closed by :meth:`OpenAICompatEmbedder.close`, on ``with`` exit, or when the embedder is collected.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from memvault.embed.base import Vectors
from memvault.errors import InvalidInput, Unavailable
from memvault.remote import Endpoint

_PROBE_TEXT = "dimension probe"


class OpenAICompatEmbedder:
    """Embeds through ``{base_url}/embeddings``; see the module docstring for the exchange."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        timeout: float = 30,
        *,
        batch_size: int = 256,
    ) -> None:
        self._endpoint = Endpoint(base_url, api_key, timeout, service="the embedding service",
                                  bad_url="base_url must be an http(s) URL such as http://localhost:11434/v1")
        if not model or not model.strip():
            raise InvalidInput("model must name the embedding model to use")
        if dim is not None and dim < 1:
            raise InvalidInput("dim must be a positive number of dimensions")
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1")
        self.base_url = self._endpoint.base_url
        self.model = model.strip()
        self.name = f"openai:{self.model}"
        self.timeout = timeout
        self.batch_size = batch_size
        self._dim = dim

    def __repr__(self) -> str:
        return f"OpenAICompatEmbedder(base_url={self._endpoint.where!r}, model={self.model!r})"

    def __enter__(self) -> OpenAICompatEmbedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def dim(self) -> int:
        """The vector dimension: as given, else learnt from the first answer (probing if none yet)."""
        if self._dim is None:
            self._request([_PROBE_TEXT])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._request(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def close(self) -> None:
        """Close the connection pool; a later call opens a new one."""
        self._endpoint.close()

    def _request(self, texts: list[str]) -> Vectors:
        """Unit vectors for one request's worth of texts, in their order."""
        response = self._endpoint.post("/embeddings", {"model": self.model, "input": texts})
        try:
            vectors = _read_vectors(response, len(texts))
        except ValueError as exc:
            raise Unavailable(f"{self._endpoint.service} gave {exc}") from None
        if self._dim is None:
            self._dim = vectors.shape[1]
        elif vectors.shape[1] != self._dim:
            raise Unavailable(
                f"{self._endpoint.service} gave vectors of dimension {vectors.shape[1]}, "
                f"expected {self._dim}"
            )
        unit: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit


def _read_vectors(response: httpx.Response, count: int) -> Vectors:
    """The ``data`` embeddings of an answer in ``index`` order; ValueError saying what is wrong."""
    try:
        items: Any = response.json()["data"]
        pairs = sorted((int(item["index"]), item["embedding"]) for item in items)
    except (ValueError, LookupError, TypeError):
        raise ValueError("an answer without a list of indexed embeddings") from None
    if [index for index, _ in pairs] != list(range(count)):
        raise ValueError(f"{len(pairs)} embeddings for {count} texts")
    try:
        vectors = np.array([embedding for _, embedding in pairs], dtype=np.float32)
    except (ValueError, TypeError):
        raise ValueError("embeddings that are not lists of numbers of one length") from None
    if vectors.ndim != 2 or vectors.shape[1] == 0:
        raise ValueError("embeddings that are not lists of numbers of one length")
    if not np.isfinite(vectors).all() or not np.linalg.norm(vectors, axis=1).all():
        raise ValueError("a zero or non-finite vector")
    return vectors
