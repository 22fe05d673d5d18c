"""Text handling on user input takes time linear in its length, whatever the text.

Every extractor, the offline decider and the query parser are fed runs of each punctuation character, and mixes, at 10 kB and
100 kB. Linearity is checked as a ratio of CPU times measured here, on this machine: the 100 kB text may take
at most RATIO times what the 10 kB one takes (a linear pass takes about 10x; a quadratic one about 100x).
No absolute time is asserted. The garbage collector is off while a call is timed (its passes are not the
code's), each time is the best of a few tries, and a 100 kB call that overruns its budget by far is stopped
(a CPU-time timer), so a quadratic pattern fails in seconds instead of running for minutes.
"""

from __future__ import annotations

import gc
import json
import signal
import string
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from memvault import ranking
from memvault.decide import Known
from memvault.decide.offline import OfflineDecider
from memvault.errors import Unavailable
from memvault.extract.base import Message
from memvault.extract.llm import LLMExtractor
from memvault.extract.offline import OfflineExtractor
from memvault.testing.openai_server import FakeOpenAIServer

RATIO = 20  # 100 kB may take at most this many times what 10 kB takes
SMALL, LARGE = 10_000, 100_000  # characters
TRIES = 3
STOP_AT = 2 * RATIO  # a 100 kB call is stopped after this many times the 10 kB time (a sure failure)
MIN_TIMED = 0.002  # seconds: a 10 kB time is averaged over as many calls as make up at least this

PUNCTUATION = string.punctuation + "…–—"


def _runs() -> dict[str, Callable[[int], str]]:
    """Named texts of a given length: each punctuation character alone, after a sentence, between words, and mixes."""
    def fill(unit: str, size: int, head: str = "", tail: str = "") -> str:
        return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail

    texts: dict[str, Callable[[int], str]] = {}
    for ch in PUNCTUATION:
        texts[f"run of {ch!r}"] = lambda n, ch=ch: fill(ch, n)
        texts[f"'I like tea' + run of {ch!r} + 'x'"] = lambda n, ch=ch: fill(ch, n, "I like tea", "x")
        texts[f"'a{ch} ' repeated"] = lambda n, ch=ch: fill(f"a{ch} ", n)
    mixes = {
        "every punctuation character in turn": PUNCTUATION,
        "punctuation and spaces": ". , ; : ! ? … - – — ",
        "sentence ends and closers": '."!)?]…\'',
        "one-letter words and dots (initials)": "a.I.",
        "abbreviations": "Dr. e.g. x. ",
        "interjections": "ok, ",
        "clauses that never split": "the and ",
        "clauses that split": "I am; I, and ",
        "leading adverbs": "I x and then ",
        "greetings": "hi Anna, ",
        "announcements": "remember that ",
        "bullets": "- * 1. ",
        "code fences": "```",
        "reasoning tags": "<think>",
        "unclosed JSON": '{"facts": [',
        "dates": "2023-05-08 May 8th 2023 ",
        "slot phrases": "I live in my favourite city of the new ",
        "subjects and possessives": "my brother's wife's ",
        "negations and auxiliaries": "I have not been no longer ",
        "names and ages": "I'm Dana 34-year-old call me ",
    }
    for name, unit in mixes.items():
        texts[name] = lambda n, unit=unit: fill(unit, n)
    return texts


TEXTS = _runs()


class _Overrun(Exception):
    pass


def _on_overrun(signum: int, frame: Any) -> None:
    raise _Overrun


def _cpu(call: Callable[[], object], budget: float | None = None) -> float:
    """CPU seconds one call takes; _Overrun after `budget` CPU seconds."""
    if budget is not None:
        previous = signal.signal(signal.SIGPROF, _on_overrun)
        signal.setitimer(signal.ITIMER_PROF, budget)
    try:
        start = time.process_time()
        call()
        return time.process_time() - start
    finally:
        if budget is not None:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)


def _small_time(call: Callable[[], object]) -> float:
    """The best of TRIES per-call times, each averaged over enough calls to last MIN_TIMED."""
    best = float("inf")
    for _ in range(TRIES):
        calls, spent = 0, 0.0
        while spent < MIN_TIMED:
            spent += _cpu(call)
            calls += 1
        best = min(best, spent / calls)
    return best


def _ratio(handle: Callable[[str], object], make: Callable[[int], str]) -> float:
    """How many times longer the 100 kB text takes than the 10 kB one (the best of TRIES; STOP_AT when stopped)."""
    small, large = make(SMALL), make(LARGE)
    gc.disable()  # its passes are not the code's
    try:
        base = _small_time(lambda: handle(small))
        best = float("inf")
        for _ in range(TRIES):
            try:
                best = min(best, _cpu(lambda: handle(large), budget=STOP_AT * base) / base)
            except _Overrun:
                return STOP_AT
            if best <= RATIO:
                break
        return best
    finally:
        gc.enable()


def _assert_linear(handle: Callable[[str], object]) -> None:
    slow: list[str] = []
    for name, make in TEXTS.items():
        ratio = _ratio(handle, make)
        if ratio > RATIO:
            slow.append(f"{name}: 100 kB took {ratio:.0f}x the 10 kB time" + (" or more" if ratio == STOP_AT else ""))
            if len(slow) == 3:
                break
    assert not slow, "not linear:\n" + "\n".join(slow)


# the faces of text handling ------------------------------------------------------------
def test_offline_extractor_is_linear() -> None:
    extractor = OfflineExtractor()
    _assert_linear(lambda text: extractor.extract([Message("user", text)]))


@pytest.fixture
def echoing_model() -> Iterator[FakeOpenAIServer]:
    """A chat model that answers with the user's text around its JSON: in a reasoning block, in prose and in a
    code fence, so the lenient reading of the answer meets the text too."""

    def echo(request: dict[str, Any]) -> str:
        said = request["messages"][-1]["content"]
        return f"<think>{said}</think>{said}\n```json\n{json.dumps({'facts': [said[:200]]})}\n```\n{said}"

    with FakeOpenAIServer(chat_handler=echo) as fake:
        yield fake


def test_llm_extractor_is_linear(echoing_model: FakeOpenAIServer) -> None:
    extractor = LLMExtractor(echoing_model.base_url, "fake", timeout=30)

    def extract(text: str) -> None:
        try:
            extractor.extract([Message("user", text)])
        except Unavailable:  # an answer without facts is one outcome; the time is what is measured
            pass

    _assert_linear(extract)


def test_offline_decider_is_linear() -> None:
    decider = OfflineDecider()
    _assert_linear(lambda text: decider.decide([text], [[Known(0, text, 0.5), Known(1, "I live in Paris", 0.5)]]))


def test_query_parser_is_linear() -> None:
    _assert_linear(lambda query: (ranking.query_terms(query), ranking.dates(query)))
