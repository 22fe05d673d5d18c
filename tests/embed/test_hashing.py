"""The hashing fake embedder, and the registry it is built through."""

from __future__ import annotations

import numpy as np
import pytest

from memvault.embed import Embedder, build_embedder, embedder_names, register_embedder
from memvault.embed.hashing import HashingEmbedder
from memvault.errors import Conflict, InvalidInput


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_vectors_are_unit_float32_rows_of_the_dimension() -> None:
    vectors = HashingEmbedder(dim=32).embed(["I moved to Lyon", "My favourite food is sushi", "x"])
    assert vectors.shape == (3, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_name_carries_the_dimension_and_it_is_an_embedder() -> None:
    embedder = HashingEmbedder(dim=48)
    assert embedder.name == "hashing-48"
    assert embedder.dim == 48
    assert isinstance(embedder, Embedder)


def test_same_text_gives_the_same_vector_across_instances() -> None:
    texts = ["I moved to Lyon", "Tea, not coffee!"]
    np.testing.assert_array_equal(HashingEmbedder().embed(texts), HashingEmbedder().embed(texts))


def test_vectors_do_not_depend_on_the_batch() -> None:
    embedder = HashingEmbedder()
    texts = ["I moved to Lyon", "My favourite food is sushi", "I live in Lyon"]
    batch = embedder.embed(texts)
    for row, text in enumerate(texts):
        np.testing.assert_array_equal(batch[row], embedder.embed([text])[0])


def test_texts_sharing_words_are_closer_than_unrelated_texts() -> None:
    a, b, c = HashingEmbedder().embed(
        ["I moved to Lyon", "I now live in Lyon, France", "My favourite food is sushi"]
    )
    assert cosine(a, b) > cosine(a, c)
    assert cosine(a, b) > cosine(b, c)


def test_case_and_punctuation_are_ignored() -> None:
    a, b = HashingEmbedder().embed(["I moved to LYON.", "i moved to lyon"])
    assert cosine(a, b) == pytest.approx(1.0)


@pytest.mark.parametrize("text", ["", "   ", "?!..."])
def test_a_text_without_words_gets_the_fixed_unit_vector(text: str) -> None:
    (vector,) = HashingEmbedder(dim=8).embed([text])
    np.testing.assert_array_equal(vector, np.eye(8, dtype=np.float32)[0])


def test_empty_input_gives_an_empty_array_of_the_dimension() -> None:
    vectors = HashingEmbedder(dim=16).embed([])
    assert vectors.shape == (0, 16)
    assert vectors.dtype == np.float32


def test_dimension_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HashingEmbedder(dim=0)


def test_build_embedder_builds_the_hashing_embedder_with_its_options() -> None:
    embedder = build_embedder("hashing", dim=24)
    assert isinstance(embedder, HashingEmbedder)
    assert embedder.dim == 24


def test_built_in_embedders_are_registered() -> None:
    assert {"minilm", "openai", "hashing"} <= set(embedder_names())


def test_unknown_kind_or_option_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="unknown embedder 'nope'"):
        build_embedder("nope")
    with pytest.raises(InvalidInput, match="hashing"):
        build_embedder("hashing", colour="red")


def test_an_outside_embedder_registers_like_a_built_in_one() -> None:
    register_embedder("test-hashing-7", lambda: HashingEmbedder(dim=7))
    assert build_embedder("test-hashing-7").dim == 7
    with pytest.raises(Conflict):
        register_embedder("test-hashing-7", lambda: HashingEmbedder(dim=8))
    register_embedder("test-hashing-7", lambda: HashingEmbedder(dim=8), replace=True)
    assert build_embedder("test-hashing-7").dim == 8
