"""Decisions made by a chat model behind any OpenAI-compatible API (the same endpoint as the llm extractor).

One ``POST {base_url}/chat/completions`` per add: a system prompt, then the new facts, each followed by the
owner's similar memories under short numbers (``[0]``, ``[1]``, ... per fact, never their ids: a model cannot invent
an id then), with ``response_format`` asking for a JSON object ``{"decisions": [{"fact": 0, "event": "SUPERSEDE",
"memory": 1, "text": "..."}]}``.

The answer is read leniently (memvault.chat): reasoning blocks, code fences and prose around the JSON are skipped; a
bare list, another key than ``decisions`` holding the only list, events in any case, numbers given as strings and
``target``/``id`` for ``memory`` are accepted; decisions without a ``fact`` number are taken in order. A fact the
answer says nothing of is ADD; a decision naming a memory that was not shown for its fact falls back to ADD and is
logged (the engine checks again). An answer that is not JSON, or holds no list of decisions, and any failure of the
service (unreachable, timed out, a non-2xx status) raise :class:`~memvault.errors.Unavailable`: the add fails with
503 and writes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from memvault.chat import complete, read_json
from memvault.decide.base import EVENTS, Decision, Event, Known
from memvault.errors import MODEL_ANSWER_UNUSABLE, InvalidInput, Unavailable
from memvault.remote import Endpoint

log = logging.getLogger(__name__)

SYSTEM_PROMPT = """\
You keep a person's memories up to date. You are given new facts about them; after each fact, the memories \
already stored that are most similar to it, each under a number. For each fact, decide:
- ADD: the fact is new information.
- NONE: a memory already says it; nothing changes. Give that memory's number.
- UPDATE: a memory says the same fact less well or less completely (the fact is still true); its text becomes \
the new text. Give that memory's number and the new text.
- SUPERSEDE: the fact replaces a memory that is no longer true (they moved, changed jobs, changed diet, stopped \
something). The old memory is kept as history. Give that memory's number.

Rules:
- Only the same subject replaces: a fact about someone else ("My brother lives in Madrid") never updates or \
supersedes a fact about the person ("I live in Lyon").
- Use only the numbers shown for that fact. Keep the text in the person's own words and language.

Answer with JSON only, in this shape:
{"decisions": [{"fact": 0, "event": "ADD" | "NONE" | "UPDATE" | "SUPERSEDE", "memory": <number or null>, \
"text": "..."}]}"""

_TARGET_KEYS = ("memory", "target", "id", "memory_id")


class LLMDecider:
    """Asks a chat model what each fact does; see the module docstring for the exchange."""

    name = "llm"

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60) -> None:
        self._endpoint = Endpoint(
            base_url, api_key, timeout, service="the decision model",
            bad_url="the llm decider needs base_url, an http(s) URL such as http://localhost:11434/v1",
        )
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("the llm decider needs model, the name of the chat model to use")
        self.base_url = self._endpoint.base_url
        self.model = model.strip()
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"LLMDecider(base_url={self._endpoint.where!r}, model={self.model!r})"

    def decide(self, facts: Sequence[str], known: Sequence[Sequence[Known]], *,
               instructions: str | None = None) -> list[Decision]:
        if not facts:
            return []
        content = complete(self._endpoint, self.request_body(facts, known, instructions))
        try:
            return parse_decisions(content, facts, known)
        except ValueError as exc:
            raise Unavailable(f"{self._endpoint.service} gave no list of decisions: {exc}",
                              code=MODEL_ANSWER_UNUSABLE) from None

    def request_body(self, facts: Sequence[str], known: Sequence[Sequence[Known]],
                     instructions: str | None = None) -> dict[str, object]:
        """The JSON body of the chat completion request."""
        system = SYSTEM_PROMPT if not instructions else f"{SYSTEM_PROMPT}\n\nThe project's instructions:\n{instructions}"
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": render(facts, known)},
            ],
            "response_format": {"type": "json_object"},
            "temperature": 0,
        }


def render(facts: Sequence[str], known: Sequence[Sequence[Known]]) -> str:
    """The facts, each with its numbered memories, as the model reads them."""
    blocks = []
    for i, (fact, shown) in enumerate(zip(facts, known, strict=True)):
        lines = [f"Fact {i}: {json.dumps(fact, ensure_ascii=False)}", "Memories:"]
        lines += [f"  [{k.number}] {json.dumps(k.text, ensure_ascii=False)}" for k in shown] or ["  (none)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def parse_decisions(content: str, facts: Sequence[str], known: Sequence[Sequence[Known]]) -> list[Decision]:
    """One decision per fact from a model's answer (ADD for a fact it leaves out); ValueError when the answer holds
    no list of decisions. See the module docstring for the shapes accepted."""
    value = read_json(content)
    if isinstance(value, dict):
        value = _decisions_entry(value)
    if not isinstance(value, list):
        raise ValueError(f"expected a list of decisions, got {type(value).__name__}")
    decided: dict[int, Decision] = {}
    for position, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"a decision is not an object: {str(item)[:80]!r}")
        index = _number(item.get("fact"))
        if index is None:
            index = position
        if not 0 <= index < len(facts) or index in decided:
            log.warning("the decision model answered for fact %r, which it was not asked about: ignored", index)
            continue
        decided[index] = _decision(item, facts[index], known[index])
    return [decided.get(i, Decision("ADD", fact)) for i, fact in enumerate(facts)]


def _decisions_entry(value: dict[str, object]) -> object:
    if "decisions" in value:
        return value["decisions"]
    lists = [entry for entry in value.values() if isinstance(entry, list)]
    if len(lists) == 1:
        return lists[0]
    if "event" in value:  # one decision on its own
        return [value]
    raise ValueError(f"expected a 'decisions' key, got keys {sorted(value)[:5]}")


def _decision(item: dict[str, object], fact: str, shown: Sequence[Known]) -> Decision:
    raw_event = item.get("event")
    event = raw_event.strip().upper() if isinstance(raw_event, str) else None
    if event not in EVENTS:
        log.warning("the decision model answered event %r: the fact is added", raw_event)
        return Decision("ADD", fact)
    text = item.get("text")
    text = " ".join(text.split()) if isinstance(text, str) and text.strip() else fact
    chosen: Event = event  # type: ignore[assignment]
    if chosen == "ADD":
        return Decision("ADD", text)
    target = next((_number(item[key]) for key in _TARGET_KEYS if key in item and item[key] is not None), None)
    if target is None and chosen == "NONE":
        return Decision("NONE", fact)
    if target is None or target not in {k.number for k in shown}:
        log.warning("the decision model named memory %r for a fact, which it was not shown: the fact is added",
                    target)
        return Decision("ADD", text)
    return Decision(chosen, text if chosen != "NONE" else fact, target)


def _number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        cleaned = value.strip().strip("[]#")
        if cleaned.lstrip("-").isdigit():
            return int(cleaned)
    return None
