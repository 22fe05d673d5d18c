"""Calling an OpenAI-compatible server, and what it said when it failed, fit to show: shared by the embedder
and the extractor."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from memvault.errors import Unavailable

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


def call(send: Callable[[], httpx.Response], service: str, timeout: float, secret: str | None) -> httpx.Response:
    """`send()`'s successful response; otherwise Unavailable naming `service` ("the embedding service at ...")
    and why: no answer in time, unreachable, or the error the service gave (the API key scrubbed)."""
    try:
        response = send()
    except httpx.TimeoutException:
        raise Unavailable(f"{service} did not answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot reach {service} ({scrub(f'{type(exc).__name__}: {exc}', secret)})") from None
    if not response.is_success:
        detail = scrub(error_detail(response), secret)
        raise Unavailable(f"{service} answered HTTP {response.status_code}: {detail}")
    return response
