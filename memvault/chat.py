"""What the chat-model parts share (the llm extractor and the llm decider): one chat completion over an
OpenAI-compatible API, and reading the JSON a model answers with, leniently.

A model's answer is read leniently: reasoning blocks (``<think>...</think>``) and Markdown code fences are removed and
prose around the JSON is skipped. What the JSON must hold is each caller's business.
"""

from __future__ import annotations

import json
import re

from memvault.errors import MODEL_ANSWER_UNUSABLE, Unavailable
from memvault.remote import Endpoint

# Linear in the answer, whatever it holds: reasoning blocks are cut by plain search (a regex would read
# the rest of the answer again after every unclosed "<think>"), and the fence's info string is taken whole.
_THINK_OPEN = re.compile(re.escape("<think>"), re.IGNORECASE)
_THINK_CLOSE = re.compile(re.escape("</think>"), re.IGNORECASE)
_FENCED = re.compile(r"```[\w-]*+[ \t]*+\n?+(.*?)```", re.DOTALL)


def complete(endpoint: Endpoint, body: dict[str, object]) -> str:
    """The assistant message content a chat completion answers with; Unavailable when there is none."""
    response = endpoint.post("/chat/completions", body)
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError):
        content = None
    if not isinstance(content, str):
        raise Unavailable(f"{endpoint.service} gave no chat completion message", code=MODEL_ANSWER_UNUSABLE)
    return content


def read_json(content: str) -> object:
    """The JSON value in a model's answer; ValueError when there is none."""
    text = without_thinking(content).strip()
    fenced = _FENCED.search(text)
    if fenced is not None:
        text = fenced.group(1).strip()
    return load_json(text)


def without_thinking(text: str) -> str:
    """The text without its ``<think>...</think>`` blocks (any case); an unclosed block is kept."""
    kept: list[str] = []
    position = 0
    while (opened := _THINK_OPEN.search(text, position)) is not None:
        closed = _THINK_CLOSE.search(text, opened.end())
        if closed is None:
            break
        kept.append(text[position : opened.start()])
        position = closed.end()
    kept.append(text[position:])
    return "".join(kept)


def load_json(text: str) -> object:
    """The text as JSON, else the first object or list in it; ValueError when neither reads."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the decoder goes
        pass
    starts = [index for index in (text.find("{"), text.find("[")) if index >= 0]
    if starts:
        start = min(starts)
        end = text.rfind("}" if text[start] == "{" else "]")
        if end > start:
            try:
                return json.loads(text[start : end + 1])
            except (ValueError, RecursionError):
                pass
    raise ValueError(f"the answer is not JSON: {text[:80]!r}")
