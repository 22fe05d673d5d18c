"""Calling a model served over HTTP (an OpenAI-compatible server, a rerank service): the endpoint checked once,
one pooled client, and what the service said when it failed, fit to show. Shared by the embedder, the extractor
and the reranker."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

import httpx

from memvault.errors import InvalidInput, Unavailable

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


class Endpoint:
    """A service's base URL and key, checked when configured, and one HTTP client (connection pool) made on first
    use and kept until `close` or until the endpoint is collected.

    `where` is the URL without user, password or query, for messages; `post` raises Unavailable naming
    `service` ("the embedding service") and `where`, never the key. A URL that is not http(s) with a host raises
    InvalidInput with `bad_url`; a timeout that is not positive raises InvalidInput.
    """

    def __init__(self, base_url: object, api_key: str | None, timeout: float, *, service: str, bad_url: str) -> None:
        try:
            url = httpx.URL(base_url.strip().rstrip("/") if isinstance(base_url, str) else "")
        except httpx.InvalidURL:
            url = httpx.URL()
        if url.scheme not in ("http", "https") or not url.host:
            raise InvalidInput(bad_url)
        if timeout <= 0:
            raise InvalidInput("timeout must be a positive number of seconds")
        self.base_url = str(url)
        self.timeout = timeout
        self.api_key = api_key or None
        port = f":{url.port}" if url.port else ""
        self.where = f"{url.scheme}://{url.host}{port}{url.path}"
        self.service = f"{service} at {self.where}"
        self._client: httpx.Client | None = None
        self._closer: weakref.finalize[[], Endpoint] | None = None
        self._lock = threading.Lock()

    def post(self, path: str, body: Any) -> httpx.Response:
        """The successful response to ``POST {base_url}{path}`` with a JSON body (see `call`)."""
        return call(lambda: self._http().post(f"{self.base_url}{path}", json=body), self.service, self.timeout,
                    self.api_key)

    def close(self) -> None:
        """Close the connection pool; a later call opens a new one."""
        with self._lock:
            closer, self._closer, self._client = self._closer, None, None
        if closer is not None:
            closer()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Accept": "application/json"}
                if self.api_key:
                    headers["Authorization"] = f"Bearer {self.api_key}"
                self._client = httpx.Client(timeout=self.timeout, headers=headers)
                # Closed with the endpoint at the latest, so no socket is left to the garbage collector.
                self._closer = weakref.finalize(self, self._client.close)
            return self._client
