"""Hypothesis strategies for hostile input: nasty strings, dates at the edges, deep and wide JSON, huge values."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
BIDI = ["\u202e", "\u202d", "\u2066", "\u2067", "\u2069", "\u200f", "\u200e", "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
COMBINING = ["\u0301", "\u0308", "\u0336", "\u20dd", "\u0489"]
ODD = ["\x00", "\x01", "\x1b", "\x7f", "\ufffe", "\uffff", "\U0010ffff", "\U0001f600", "\u2028", "\r\n", "\t"]
SYNTAX = ["'", '"', "\\", "%", "_", "*", "NEAR(", "OR", "--", ";", "{", "}", "$", "`", "^", "(", ")", ":", "-"]
# Runs of one character: punctuation is what made the offline extractor's regexes quadratic.
RUN_CHARS = [".", "!", "?", ",", "-", ";", ":", "'", '"', "*", "(", ")", "…", " ", "\n", "a", "é", "\u200b", "\x00"]
RUN_LENGTHS = [10_000, 100_000]

pieces = st.sampled_from(SURROGATES + BIDI + ZERO_WIDTH + COMBINING + ODD + SYNTAX + ["a", "tea", " ", "Émile"])


@st.composite
def _mixed(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(pieces, min_size=1, max_size=12)))


class Run:
    """`prefix + char * length + suffix`, built only when sent: hypothesis prints it short (a 100 kB repr is a
    warning, and warnings are errors here)."""

    def __init__(self, prefix: str, char: str, length: int, suffix: str) -> None:
        self.prefix, self.char, self.length, self.suffix = prefix, char, length, suffix

    def __repr__(self) -> str:
        return f"Run({self.prefix!r} + {self.char!r} * {self.length} + {self.suffix!r})"

    def build(self) -> str:
        return self.prefix + self.char * self.length + self.suffix


def _run() -> st.SearchStrategy[Run]:
    return st.builds(Run, st.sampled_from(["", "I like tea", "x"]), st.sampled_from(RUN_CHARS),
                     st.sampled_from(RUN_LENGTHS), st.sampled_from(["", "x", "."]))


def _combining() -> st.SearchStrategy[Run]:
    return st.builds(Run, st.just("e"), st.sampled_from(COMBINING), st.sampled_from([50, 5_000]), st.just(""))


def nasty_strings() -> st.SearchStrategy[str | Run]:
    """Lone surrogates, NUL and controls, bidi and zero-width marks, combining-mark pile-ups, 100 kB runs."""
    return st.one_of(
        st.sampled_from(SURROGATES + ["a\ud800b", "\x00", "k\x00", "\u202eevil", "\u200b", " \u200b ", "\ufeff"]),
        _mixed(),
        _run(),
        _combining(),
        st.text(min_size=1, max_size=30),
    ).filter(lambda s: s not in ("*", "keeper", "target", "General"))


EDGE_DATES: list[Any] = [
    "0001-01-01", "0001-01-01T00:00:00+01:00", "0999-06-01", "0999-12-31T23:59:59", "1000-01-01",
    "9999-12-31", "9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59.999999+00:00", "10000-01-01",
    "-0001-01-01", "0000-01-01", "2025-02-30", "2025-13-01", "2025-01-01T25:00:00", "2025-01-01T00:00:00+25:00",
    "2025-01-01T00:00:00+23:59", "2025-01-01T00:00:00-23:59", "not a date", "", " ", "2025-01-01\x00",
    "2025-01-01\ud800", "T", "2025", "2025-W01", "1e10", 0, -1, 1e20, -1e20, 253402300800, -62135596801,
    True, [], {}, {"gte": "2025-01-01"},
]


def edge_dates() -> st.SearchStrategy[Any]:
    return st.sampled_from(EDGE_DATES)


def nested(depth: int, leaf: Any = "x", kind: str = "object") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"k": value} if kind == "object" else [value]
    return value


class Deep:
    """JSON nested `depth` deep, built only when sent: hypothesis never prints (or recurses into) the value."""

    def __init__(self, depth: int, kind: str) -> None:
        self.depth, self.kind = depth, kind

    def __repr__(self) -> str:
        return f"<{self.kind} nested {self.depth} deep>"

    def build(self) -> Any:
        return nested(self.depth, "x", self.kind)


def deep_values() -> st.SearchStrategy[Deep]:
    """JSON nested past any sane depth (objects and arrays); deeper still comes as raw bytes in the tests."""
    return st.builds(Deep, st.sampled_from([33, 40, 100, 400]), st.sampled_from(["object", "array"]))


def wide_objects() -> st.SearchStrategy[Any]:
    return st.sampled_from([1_001, 5_000]).map(lambda n: {f"k{i}": i for i in range(n)})


def odd_numbers() -> st.SearchStrategy[Any]:
    return st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**400, float("nan"), float("inf"), -float("inf"),
                            1e308, -0.0, 5e-324])
