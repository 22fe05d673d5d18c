"""Webhook deliveries: a background thread of the server (started by the app's lifespan when `create_app` is given
`deliveries`, as `memvault serve` does; never on a request's path) that reads the change log from each webhook's
cursor and POSTs each event it subscribes to.

- At least once, in log order per webhook: the cursor (in the database) moves past an event only once the receiver
  answered 2xx, so a restart, or a crash between a delivery and its cursor, sends it again. `X-Memvault-Event-Id`
  lets a receiver drop a repeat.
- Signed: `X-Memvault-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the webhook's secret>`.
- A failure (a non-2xx answer, a timeout, a refused connection, a redirect) stops that webhook's deliveries until its
  next attempt (the engine's RetryPolicy: exponential backoff, capped; disabled after failing for 24 h). Other
  webhooks go on meanwhile: each webhook is drained by a worker of a small pool.
- Several servers on one database: a webhook is drained by whoever holds its lease (in the database), renewed
  before each delivery; a server killed while holding one leaves it to the others once it expires.
- With MEMVAULT_WEBHOOK_DENY_PRIVATE, the host is resolved at each delivery and the connection made to the checked
  address (a name that starts resolving to a private address is refused, not followed).
- Once an hour, the thread also trims the change log to its retention (`Engine.trim_events`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import httpx

from .engine import Engine
from .errors import MemvaultError
from .models import ChangeEvent, Webhook, utcnow
from .origin import Origin, acting
from .shapes import webhook_payload

log = logging.getLogger("memvault.delivery")

SIGNATURE_HEADER = "X-Memvault-Signature"
EVENT_ID_HEADER = "X-Memvault-Event-Id"
SYSTEM = Origin("system")


def sign(secret: str, body: bytes, at: int) -> str:
    """The signature header's value for `body` sent at unix time `at`."""
    mac = hmac.new(secret.encode("utf-8"), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, *, now: float | None = None, tolerance: float = 300) -> bool:
    """Whether `header` signs `body` with `secret`, at a time no older than `tolerance` seconds (what a receiver
    checks; the README shows the same in a few lines)."""
    fields = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        at = int(fields.get("t", ""))
    except ValueError:
        return False
    expected = sign(secret, body, at).split("v1=", 1)[1]
    fresh = abs((time.time() if now is None else now) - at) <= tolerance
    return fresh and hmac.compare_digest(expected, fields.get("v1", ""))


@dataclass(frozen=True)
class DeliveryOptions:
    timeout: float = 5.0  # seconds for one delivery
    poll: float = 0.1  # seconds between looks at the log
    lease: float = 15.0  # seconds a server holds a webhook, renewed before each delivery (more than `timeout`)
    batch: int = 100  # events read at once
    workers: int = 4  # webhooks drained at once
    trim_every: float = 3600.0  # seconds between trims of the change log


class Deliveries:
    """The delivery thread and its workers (see the module's docstring)."""

    def __init__(self, engine: Engine, options: DeliveryOptions | None = None) -> None:
        self.engine = engine
        self.options = options or DeliveryOptions()
        self.owner = uuid.uuid4().hex  # this server, as a lease holder
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=self.options.workers, thread_name_prefix="memvault-webhook")
        self._busy: set[int] = set()
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=self.options.timeout, follow_redirects=False)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="memvault-deliveries", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop looking, let the deliveries in flight end (each within its timeout), release the webhooks held."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    # the loop ---------------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        next_trim = time.monotonic()
        with acting(SYSTEM):
            while not self._stop.is_set():
                try:
                    if time.monotonic() >= next_trim:
                        next_trim = time.monotonic() + self.options.trim_every
                        self.engine.trim_events()
                    self._round()
                except Exception:  # the database away for a moment, say: the next round tries again
                    log.exception("webhook deliveries: a round failed")
                self._stop.wait(self.options.poll)

    def _round(self) -> None:
        for webhook in self.engine.webhooks_due(utcnow()):
            with self._lock:
                if webhook.id in self._busy:
                    continue
            if not self.engine.pending_events(webhook, 1):
                continue  # nothing new: no lease taken, nothing written
            with self._lock:
                self._busy.add(webhook.id)
            try:
                self._pool.submit(self._drain, webhook)
            except RuntimeError:  # the pool is shutting down
                with self._lock:
                    self._busy.discard(webhook.id)
                return

    def _drain(self, webhook: Webhook) -> None:
        try:
            with acting(SYSTEM):
                self._deliver_all(webhook)
        except Exception:
            log.exception("webhook %s: deliveries failed", webhook.id)
        finally:
            with self._lock:
                self._busy.discard(webhook.id)

    def _deliver_all(self, webhook: Webhook) -> None:
        engine, options = self.engine, self.options
        held: Webhook | None = webhook
        try:
            while not self._stop.is_set():
                held = engine.claim_webhook(webhook, self.owner, utcnow(), options.lease)
                if held is None or not held.is_active:
                    return
                events = engine.pending_events(held, options.batch)
                if not events:
                    return
                for event in events:
                    if event.type in held.event_types:
                        # the lease outlasts this delivery (its timeout): no other server sends the next event meanwhile
                        if engine.claim_webhook(held, self.owner, utcnow(), options.lease) is None:
                            return
                        error = self._send(held, event)
                        engine.watchers.webhook_delivery(error is None)
                        if error is not None:
                            state = engine.webhook_failed(held, self.owner, error, utcnow())
                            log.warning("webhook %s: delivery of event %s failed (%s); %s", held.id, event.id, error,
                                        "disabled" if state.disabled else f"next attempt at {state.next_attempt_at}")
                            return
                    held = engine.webhook_delivered(held, self.owner, event.seq)
                    if held is None or self._stop.is_set():
                        return
        finally:
            if held is not None:  # let another server (or this one after a restart) take it at once
                engine.claim_webhook(webhook, self.owner, utcnow(), 0)

    def _send(self, webhook: Webhook, event: ChangeEvent) -> str | None:
        """POST one event; None when the receiver took it (2xx), else what went wrong."""
        body = json.dumps(webhook_payload(event), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "memvault-webhooks",
                   SIGNATURE_HEADER: sign(webhook.secret, body, int(time.time())), EVENT_ID_HEADER: event.id}
        url = httpx.URL(webhook.url)
        extensions: dict[str, Any] = {}
        try:
            targets = self.engine.delivery_targets(webhook.url)
        except MemvaultError as exc:
            return exc.message
        if targets:  # connect to the address just checked, not to whatever the name resolves to next
            headers["Host"] = url.netloc.decode("ascii")
            if url.scheme == "https":
                extensions["sni_hostname"] = url.host
            url = url.copy_with(host=targets[0])
        try:
            answer = self._client.post(url, content=body, headers=headers, extensions=extensions)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        return None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"


@asynccontextmanager
async def delivering(engine: Engine, options: DeliveryOptions | None) -> AsyncIterator[None]:
    """For an app's lifespan: deliveries run while the app does (nothing when `options` is None)."""
    if options is None:
        yield
        return
    deliveries = Deliveries(engine, options)
    deliveries.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(deliveries.stop)
