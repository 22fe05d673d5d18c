"""The filter parser's rules (memvault/filters.py): what a filter means is decided here, once, for every store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from memvault import filters as F
from memvault import validate as V
from memvault.errors import InvalidInput


def refused(raw: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        F.parse(raw)
    message = caught.value.message
    message.encode("utf-8")  # the message itself can always be sent
    return message


def test_exists_false_means_not_exists_for_metadata_and_owner_fields() -> None:
    assert F.parse({"metadata": {"k": {"exists": False}}}) == F.Not(F.Cond("metadata", "exists", None, "k"))
    assert F.parse({"user_id": {"exists": False}}) == F.Not(F.Cond("user_id", "exists"))
    assert F.parse({"user_id": {"exists": True}}) == F.Cond("user_id", "exists")
    assert "true or false" in refused({"user_id": {"exists": "no"}})


def test_null_means_missing_and_ne_null_means_present() -> None:
    assert F.parse({"metadata": {"k": None}}) == F.Not(F.Cond("metadata", "exists", None, "k"))
    assert F.parse({"metadata": {"k": {"ne": None}}}) == F.Cond("metadata", "exists", None, "k")
    assert F.parse({"agent_id": None}) == F.Not(F.Cond("agent_id", "exists"))
    assert "not null" in refused({"metadata": {"k": {"gt": None}}})


@pytest.mark.parametrize("raw", [
    {"OR": []}, {"AND": []}, {"NOT": []}, {"OR": {}}, {"AND": {}}, {"NOT": {}},
    {"OR": [{}]}, {"OR": [{"user_id": "a"}, {}]}, {"user_id": "a", "OR": []},
])
def test_an_empty_and_or_not_is_refused_never_read_as_everything(raw: dict[str, Any]) -> None:
    refused(raw)
    assert F.parse({}) is None and F.parse(None) is None  # no filter at all is still no filter


def test_the_number_of_conditions_is_bounded() -> None:
    limit = V.MAX_FILTER_CONDITIONS
    assert F.conditions(F.parse({"OR": [{"user_id": f"u{i}"} for i in range(limit)]})) == limit
    assert "at most 100 conditions" in refused({"OR": [{"user_id": f"u{i}"} for i in range(1001)]})
    assert "at most 100 conditions" in refused({"metadata": {f"k{i}": i for i in range(1001)}})
    assert "at most 100 conditions" in refused({"AND": [{"metadata": {f"k{i}": {"gt": 1, "lt": 5}}} for i in range(51)]})
    tree = F.all_of(*(F.eq("user_id", f"u{i}") for i in range(limit + 1)))
    with pytest.raises(InvalidInput, match="at most 100 conditions"):
        F.check(tree)


def test_lists_and_values_are_bounded() -> None:
    assert "at most 1000 values" in refused({"user_id": {"in": [f"u{i}" for i in range(1001)]}})
    assert "longer than 2000" in refused({"metadata": {"k": "x" * 2001}})
    assert "longer than 2000" in refused({"user_id": {"icontains": "%" * 2001}})


@pytest.mark.parametrize("raw", [
    {"user_id": "a\ud800"},
    {"metadata": {"k": "\udfff"}},
    {"metadata": {"k\ud800": 1}},
    {"u\ud800": 1},
    {"user_id": {"in": ["ok", "\ud800"]}},
    {"keywords": "tea\ud800"},
])
def test_a_lone_surrogate_anywhere_is_refused_without_repeating_it(raw: dict[str, Any]) -> None:
    message = refused(raw)
    assert "\ud800" not in message and "\udfff" not in message


def test_a_nul_in_a_key_never_stands_for_the_key_without_it() -> None:
    assert "NUL" in refused({"metadata": {"k\u0000": "v"}})
    assert "NUL" in refused({"metadata": {"k": "v\u0000"}})
    assert "NUL" in refused({"user_id\u0000": "a"})


def test_dates_lie_in_the_years_1000_to_9999() -> None:
    assert F.parse({"created_at": {"gte": "1000-01-01"}}) == F.Cond("created_at", "gte", datetime(1000, 1, 1, tzinfo=UTC))
    assert F.parse({"created_at": {"lt": "9999-12-31T23:59:59Z"}}) is not None
    assert "years 1000 to 9999" in refused({"created_at": {"gte": "0999-06-01"}})
    assert "years 1000 to 9999" in refused({"expiration_date": {"lt": -40_000_000_000}})  # a Unix time in 0702
    assert "out of the range" in refused({"created_at": {"lt": float("inf")}})
    with pytest.raises(InvalidInput, match="years 1000 to 9999"):
        F.parse_datetime("0001-01-01T00:00:00Z")


def test_ordered_comparisons_take_numbers_strings_or_dates_not_bools() -> None:
    assert "not a bool" in refused({"metadata": {"k": {"gt": True}}})
    assert F.parse({"metadata": {"k": {"lt": "5"}}}) == F.Cond("metadata", "lt", "5", "k")
    assert F.kind("5") == "string" and F.kind(5) == "number" and F.kind(5.0) == "number" and F.kind(True) == "bool"


def test_metadata_values_are_finite_numbers_within_64_bits() -> None:
    assert "finite" in refused({"metadata": {"k": float("nan")}})
    assert "64 bits" in refused({"metadata": {"k": 2**63}})
    assert "strings, numbers or booleans" in refused({"metadata": {"k": {"in": [[1]]}}})


@pytest.mark.parametrize(("raw", "words"), [
    ({"bucket": {"gt": "a"}}, "does not apply"),
    ({"bucket": {"contains": "a"}}, "does not apply"),
    ({"created_at": {"contains": "2024"}}, "does not apply"),
    ({"keywords": {"eq": "tea"}}, "does not apply"),
    ({"categories": {"lt": "x"}}, "does not apply"),
    ({"colour": "red"}, "unknown filter field: 'colour'"),
])
def test_fields_and_operators_are_decided_here(raw: dict[str, Any], words: str) -> None:
    assert words in refused(raw)


def test_an_unknown_field_is_refused_even_in_a_tree_built_by_code() -> None:
    with pytest.raises(InvalidInput, match="unknown filter field"):
        F.Cond("x_col", "eq", "a")


def test_a_long_bad_name_is_cut_in_the_message() -> None:
    assert len(refused({"z" * 200: 1})) < 100
