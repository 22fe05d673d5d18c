"""What an OpenAI-compatible server said when it failed, fit to show: shared by the embedder and the extractor."""

from __future__ import annotations

import httpx

DETAIL_LIMIT = 200  # characters of a remote error kept in our own message


def scrub(text: str, secret: str | None) -> str:
    """The text without the API key, cut to DETAIL_LIMIT characters."""
    if secret:
        text = text.replace(secret, "***")
    return text[:DETAIL_LIMIT]


def error_detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return " ".join(response.text.split()) or response.reason_phrase
