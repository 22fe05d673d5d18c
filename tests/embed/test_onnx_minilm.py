"""The bundled all-MiniLM-L6-v2 int8 ONNX embedder (runs the real model, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memvault.embed import Embedder, build_embedder
from memvault.embed.onnx_minilm import MiniLMEmbedder, plan_batches

TEXTS = [
    "I moved to Lyon",
    "My favourite food is sushi",
    "I am allergic to peanuts and I always carry an epinephrine pen when I travel abroad for work",
    "Tea",
    "My sister Anna is a nurse in Berlin",
    "",
    "I prefer dark mode in every editor",
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    embedder = MiniLMEmbedder(batch_size=3)  # small batches, so the tests cross batch boundaries
    embedder.load()
    return embedder


def test_it_is_the_default_embedder() -> None:
    embedder = build_embedder()
    assert isinstance(embedder, MiniLMEmbedder)
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dim) == ("all-MiniLM-L6-v2-int8", 384)


def test_vectors_are_unit_float32_rows_of_384(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(embedder: MiniLMEmbedder) -> None:
    moved, lives, sushi = embedder.embed(
        ["I moved to Lyon", "I now live in Lyon, France", "My favourite food is sushi"]
    )
    assert moved @ lives > 0.6
    assert moved @ lives > moved @ sushi + 0.3
    assert moved @ lives > lives @ sushi + 0.3


def test_batch_keeps_the_input_order_and_matches_single_calls(embedder: MiniLMEmbedder) -> None:
    batch = embedder.embed(TEXTS)
    for row, text in enumerate(TEXTS):
        (single,) = embedder.embed([text])
        assert batch[row] @ single > 0.999, text


def test_a_batch_in_another_order_gives_the_same_vectors(embedder: MiniLMEmbedder) -> None:
    forward = embedder.embed(TEXTS)
    backward = embedder.embed(TEXTS[::-1])[::-1]
    assert np.all(np.sum(forward * backward, axis=1) > 0.999)


def test_empty_input_gives_an_empty_array(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_text_longer_than_the_model_window_is_truncated(embedder: MiniLMEmbedder) -> None:
    head = "I moved to Lyon. " * 80  # about 400 tokens; the model reads the first 256
    long, longer = embedder.embed([head, head + "My favourite food is sushi. " * 50])
    assert long @ longer > 0.999


def test_cached_query_vector_cannot_be_corrupted_by_the_caller(embedder: MiniLMEmbedder) -> None:
    first = embedder.embed(["where does the user live?"])
    first[:] = 0
    again = embedder.embed(["where does the user live?"])
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, rtol=1e-5)


def test_without_cache_single_calls_give_the_same_vectors(embedder: MiniLMEmbedder) -> None:
    uncached = MiniLMEmbedder(cache_size=0)
    for _ in range(2):
        assert uncached.embed(["I moved to Lyon"])[0] @ embedder.embed(["I moved to Lyon"])[0] > 0.9999


def test_threads_can_share_one_embedder(embedder: MiniLMEmbedder) -> None:
    expected = embedder.embed(TEXTS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: embedder.embed(TEXTS), range(8)))
    for vectors in results:
        assert np.all(np.sum(vectors * expected, axis=1) > 0.9999)


def test_a_model_call_holds_at_most_max_tokens_padded_tokens_and_every_text_once() -> None:
    lengths = [3, 250, 12, 12, 40, 1, 256, 7, 90, 30]
    batches = plan_batches(lengths, batch_size=4, max_tokens=100)
    assert sorted(i for rows in batches for i in rows) == list(range(len(lengths)))
    for rows in batches:
        assert len(rows) <= 4
        assert len(rows) == 1 or len(rows) * max(lengths[i] for i in rows) <= 100  # a text over the budget goes alone
    assert [lengths[i] for rows in batches for i in rows] == sorted(lengths)  # shortest first: little padding


def test_token_bounded_batches_give_the_vectors_of_texts_embedded_alone() -> None:
    texts = [*TEXTS, "a long note about my travels " * 40]  # truncated at 256 tokens, over the budget on its own
    bounded = MiniLMEmbedder(max_tokens=64, cache_size=0).embed(texts)
    alone = np.vstack([MiniLMEmbedder(batch_size=1, cache_size=0).embed([t]) for t in texts])
    assert np.all(np.sum(bounded * alone, axis=1) > 1 - 1e-6)


def reference_vectors(texts: list[str]) -> np.ndarray:
    """The packaged model file run by onnxruntime as it is (its tables dequantized whole), pooled as
    sentence-transformers does: the vectors the embedder gave before it kept the word embeddings int8."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from memvault.embed.onnx_minilm import _packaged_model, _packaged_tokenizer

    tokenizer = Tokenizer.from_file(str(_packaged_tokenizer()))
    tokenizer.enable_truncation(max_length=256)
    tokenizer.no_padding()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(_packaged_model()), sess_options=options, providers=["CPUExecutionProvider"])
    rows = []
    for encoding in tokenizer.encode_batch(texts):
        ids = np.array([encoding.ids], dtype=np.int64)
        (hidden,) = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                        "token_type_ids": np.zeros_like(ids)})
        pooled = hidden[0].mean(axis=0)
        rows.append(pooled / np.linalg.norm(pooled))
    return np.vstack(rows)


def test_vectors_are_those_of_the_packaged_model_file_as_it_is(embedder: MiniLMEmbedder) -> None:
    texts = [*TEXTS, "a long note about my travels " * 40, "Ünïcödé текст 日本語のテキスト 🙂", "x" * 2000]
    vectors = embedder.embed(texts)
    expected = reference_vectors(texts)
    assert np.all(np.sum(vectors * expected, axis=1) >= 0.99999)


LOAD_RSS = """
import json, os, sys
import onnxruntime as ort
import tokenizers

from memvault.embed.onnx_minilm import MiniLMEmbedder, _packaged_model


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


before = rss()
if sys.argv[1] == "embedder":
    embedder = MiniLMEmbedder(threads=1)
    embedder.load()
else:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.enable_mem_pattern = False
    session = ort.InferenceSession(str(_packaged_model()), sess_options=options, providers=["CPUExecutionProvider"])
from memvault import heap
heap.release_free()
left = [name for name in os.listdir(sys.argv[2]) if name.endswith(".onnx")]
print(json.dumps({"mb": rss() - before, "left": left}))
"""


def load_rss(what: str, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TMPDIR": str(tmp)}
    done = subprocess.run([sys.executable, "-c", LOAD_RSS, what, str(tmp)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads the RSS from /proc")
def test_the_loaded_model_keeps_its_word_embedding_table_int8_and_leaves_no_file(tmp_path: Path) -> None:
    as_is = load_rss("file", tmp_path)
    embedder = load_rss("embedder", tmp_path)
    # 30,522 x 384 weights: 46.9 MB as float32, 11.7 MB as int8 (the same load otherwise; measured 106 vs 73 MB)
    assert embedder["mb"] < as_is["mb"] - 25, (embedder, as_is)
    assert embedder["left"] == []  # the rewritten copy it loaded is gone


def test_a_rewritten_model_has_nothing_left_to_rewrite() -> None:
    from memvault.embed.onnx_graph import gather_before_dequantize
    from memvault.embed.onnx_minilm import _packaged_model

    rewritten = gather_before_dequantize(_packaged_model().read_bytes())
    assert rewritten is not None
    assert gather_before_dequantize(rewritten) is None
