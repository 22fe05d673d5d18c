"""The change log read back (the event feed), its retention, and webhooks: what they subscribe to, where they may
point, and how a failing one is retried and, at last, disabled. The log itself is written by the stores, in the
transaction of each change (`Store._insert_events`); the HTTP deliveries are made by `memvault.delivery`.

The feed (`feed`, Mem0's `GET /v1/events/`) holds two kinds of entries, newest first: the change log's events (kind
"change": one per change to one memory, SUCCEEDED when written) and the async adds (kind "async_add": one per
request, event type memory_add, PENDING, RUNNING, then SUCCEEDED or FAILED; see memvault/engine/jobs.py). A status
other than SUCCEEDED selects async adds only; a memory id selects changes only (an async add may touch several
memories, or none yet). Both are kept for the same retention."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .. import validate as V
from ..errors import InvalidInput, NotFound
from ..models import EVENT_TYPES, JOB_STATUSES, ChangeEvent, DeliveryState, EventQuery, Job, Webhook, utcnow
from ..origin import Origin
from .core import EngineCore, check_uuid
from .memories import MAX_OFFSET

EVENT_NOT_FOUND = "event_not_found"
WEBHOOK_NOT_FOUND = "webhook_not_found"
STATUSES = JOB_STATUSES
JOB_EVENT_TYPE = "memory_add"  # an async add's type in the feed
MAX_URL_CHARS = 2000
MAX_WEBHOOK_NAME_CHARS = 200
_TRIM_PAGE = 1000
_MAX_WEBHOOK_ID = 2**63 - 1


def job_view(job: Job, texts: dict[str, str]) -> dict[str, Any]:
    """An async add as the feed and `GET /v1/event/{id}/` show it: `{id, kind, event_type, status, results, error,
    latency, memory_id (None: it may touch several), actor, request_id, created_at, updated_at}`, each result with
    its memory's text from `texts` (None once the memory is gone). `latency`: milliseconds from submission to the
    result (None before). `actor` and `request_id` (who submitted it) while it waits or runs: the job keeps nothing
    of its request once it ended, and the change events of the memories it made carry them."""
    finished = job.status in ("SUCCEEDED", "FAILED")
    origin = (job.request or {}).get("origin")
    who = Origin(**origin) if isinstance(origin, dict) else None
    return {
        "id": job.id,
        "kind": "async_add",
        "event_type": JOB_EVENT_TYPE,
        "status": job.status,
        "results": [{"id": r["id"], "event": r["event"], "data": {"memory": texts.get(r["id"])}}
                    for r in job.results or []],
        "error": job.error,
        "latency": round((job.updated_at - job.created_at).total_seconds() * 1000, 1) if finished else None,
        "memory_id": None,
        "actor": who.actor if who is not None else None,
        "request_id": who.request_id if who is not None else None,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing webhook is retried: after `first` seconds, then twice as long each time up to `cap`; once it
    has failed for `disable_after` seconds without a success it is disabled."""

    first: float = 1.0
    cap: float = 300.0
    disable_after: float = 24 * 3600.0

    def after_failure(self, webhook: Webhook, error: str, now: datetime) -> DeliveryState:
        since = webhook.failing_since or now
        attempts = webhook.attempts + 1
        delay = min(self.cap, self.first * 2 ** min(attempts - 1, 62))
        return DeliveryState(webhook.cursor, attempts, since, now + timedelta(seconds=delay), error[:500],
                             disabled=(now - since).total_seconds() >= self.disable_after)


def refused_address(address: str) -> bool:
    """A loopback, private, link-local (or otherwise not globally routable) address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an address stays itself)."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (OSError, UnicodeError):
        return []


def check_target(url: str) -> list[str]:
    """The addresses a webhook URL may be delivered to when private targets are refused; InvalidInput when its host
    resolves to none, or to any refused address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise InvalidInput(f"the webhook URL's host {V.shown(host)} does not resolve")
    if any(refused_address(a) for a in addresses):
        raise InvalidInput("the webhook URL points to a loopback, private or link-local address, which this server "
                           "refuses (MEMVAULT_WEBHOOK_DENY_PRIVATE)")
    return addresses


class Events(EngineCore):
    events_retention = timedelta(days=90)
    webhook_deny_private = False
    webhook_retry = RetryPolicy()

    def configure_events(self, *, retention_days: float | None = None, deny_private: bool | None = None,
                         retry: RetryPolicy | None = None) -> None:
        """The settings of the change log and of webhooks (`memvault.factory.build_engine` passes them)."""
        if retention_days is not None:
            self.events_retention = timedelta(days=retention_days)
        if deny_private is not None:
            self.webhook_deny_private = deny_private
        if retry is not None:
            self.webhook_retry = retry

    # the feed --------------------------------------------------------------------------------------------------------
    def event(self, project_id: str, event_id: Any) -> tuple[ChangeEvent, list[ChangeEvent]]:
        """The event and every event of its write (an add of several memories is one write), in log order."""
        eid = check_uuid(event_id, "event_id")
        batch = self.store.event_batch(project_id, eid)
        asked = next((e for e in batch if e.id == eid), None)
        if asked is None:
            raise NotFound("Event not found", code=EVENT_NOT_FOUND)
        return asked, batch

    def events(self, project_id: str, *, status: Any = None, event_types: Sequence[Any] | None = None,
               memory_id: Any = None, since: datetime | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[ChangeEvent], int]:
        """The project's change log, newest first, and how many events match in all. Every change-log event
        SUCCEEDED (it is written with its change): other statuses match none of them."""
        wanted, query = self._feed_query(status, event_types, memory_id, since, limit, offset)
        if wanted not in (None, "SUCCEEDED"):
            return [], 0
        return self.store.events(project_id, query, limit, offset)

    def feed(self, project_id: str, *, status: Any = None, event_types: Sequence[Any] | None = None,
             memory_id: Any = None, since: datetime | None = None, limit: int = 100,
             offset: int = 0) -> tuple[list[ChangeEvent | dict[str, Any]], int]:
        """The project's feed (see the module docstring), newest first: change-log events as they are, async adds as
        `job_view` shows them; and how many entries match in all. InvalidInput naming the valid values for an
        unknown status or event type."""
        wanted, query = self._feed_query(status, event_types, memory_id, since, limit, offset)
        changes = wanted in (None, "SUCCEEDED")
        if query.memory_id is not None or (query.types and JOB_EVENT_TYPE not in query.types):
            if not changes:
                return [], 0
            events, total = self.store.events(project_id, query, limit, offset)
            return list[ChangeEvent | dict[str, Any]](events), total
        found, total = self.store.feed(project_id, query, limit, offset, changes=changes,
                                       job_statuses=(wanted,) if wanted is not None else STATUSES)
        ids = [r["id"] for j in found if isinstance(j, Job) for r in j.results or []]
        texts = {m.id: m.text for m in self.store.get(project_id, ids)} if ids else {}
        return [job_view(x, texts) if isinstance(x, Job) else x for x in found], total

    def _feed_query(self, status: Any, event_types: Sequence[Any] | None, memory_id: Any, since: datetime | None,
                    limit: int, offset: int) -> tuple[str | None, EventQuery]:
        """The status asked (upper case; None: any) and the rest of a feed's filters, each checked."""
        if not 1 <= limit <= self.limits.max_page_size:
            raise InvalidInput(f"page size must be between 1 and {self.limits.max_page_size}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidInput(f"offset (or page) must be between 0 and {MAX_OFFSET}")
        if status is not None and (not isinstance(status, str) or status.upper() not in STATUSES):
            shown = V.shown(V.text(status, "status")) if isinstance(status, str) else "?"
            raise InvalidInput(f"unknown status {shown}: the valid ones are {', '.join(STATUSES)}")
        query = EventQuery(types=self.event_types(event_types) if event_types else (),
                           memory_id=check_uuid(memory_id) if memory_id is not None else None,
                           since=V.date(since, "since"))
        return status.upper() if status is not None else None, query

    @staticmethod
    def event_types(values: Any) -> tuple[str, ...]:
        """Event types as given, each one known; InvalidInput naming the valid ones."""
        if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
            raise InvalidInput(f"event_types must be a non-empty list of: {', '.join(EVENT_TYPES)}")
        unknown = [v for v in values if not isinstance(v, str) or v not in EVENT_TYPES]
        if unknown:
            shown = V.shown(unknown[0]) if isinstance(unknown[0], str) and V.text(unknown[0], "an event type") else "?"
            raise InvalidInput(f"unknown event type {shown}: the valid ones are {', '.join(EVENT_TYPES)}")
        return tuple(dict.fromkeys(values))

    def trim_jobs(self, now: datetime | None = None) -> int:
        """Delete the async adds that ended (SUCCEEDED or FAILED) before the retention (MEMVAULT_EVENTS_RETENTION_DAYS,
        the feed's), a page at a time; waiting and running ones stay."""
        return _paged(self.store.trim_jobs, (now or utcnow()) - self.events_retention)

    def trim_events(self, now: datetime | None = None) -> int:
        """Delete the events older than the retention (MEMVAULT_EVENTS_RETENTION_DAYS), a page at a time."""
        return _paged(self.store.trim_events, (now or utcnow()) - self.events_retention)

    # webhooks --------------------------------------------------------------------------------------------------------
    def create_webhook(self, project_id: str, url: Any, name: Any, event_types: Any) -> Webhook:
        """A new webhook, with its signing secret (shown once: the answers after this one leave it out)."""
        url, name, types = self._webhook_url(url), self._webhook_name(name), self.event_types(event_types)
        return self.store.add_webhook(project_id, name, url, types, "whsec_" + secrets.token_urlsafe(32), utcnow())

    def list_webhooks(self, project_id: str) -> list[Webhook]:
        return self.store.list_webhooks(project_id)

    def get_webhook(self, project_id: str, webhook_id: Any) -> Webhook:
        found = self.store.get_webhook(project_id, self._webhook_id(webhook_id))
        if found is None:
            raise NotFound("Webhook not found", code=WEBHOOK_NOT_FOUND)
        return found

    def update_webhook(self, project_id: str, webhook_id: Any, *, url: Any = None, name: Any = None,
                       event_types: Any = None) -> Webhook:
        """Change what is given; a disabled webhook is active again (its deliveries resume where they stopped)."""
        wid = self._webhook_id(webhook_id)
        changed = self.store.update_webhook(
            project_id, wid, utcnow(), name=self._webhook_name(name) if name is not None else None,
            url=self._webhook_url(url) if url is not None else None,
            event_types=self.event_types(event_types) if event_types is not None else None)
        if changed is None:
            raise NotFound("Webhook not found", code=WEBHOOK_NOT_FOUND)
        return changed

    def delete_webhook(self, project_id: str, webhook_id: Any) -> None:
        if not self.store.delete_webhook(project_id, self._webhook_id(webhook_id)):
            raise NotFound("Webhook not found", code=WEBHOOK_NOT_FOUND)

    def delivery_targets(self, url: str) -> list[str] | None:
        """Where a delivery to `url` may connect: None when any address will do; else the checked addresses of its
        host, resolved now (InvalidInput when it resolves to a refused one)."""
        return check_target(url) if self.webhook_deny_private else None

    def _webhook_url(self, url: Any) -> str:
        url = V.identifier(url, "url", MAX_URL_CHARS).strip()
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018  # a port that is no number raises here
        except ValueError:
            raise InvalidInput("url has an invalid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in url):
            raise InvalidInput("url must be an http:// or https:// URL with a host")
        if self.webhook_deny_private:
            check_target(url)
        return url

    @staticmethod
    def _webhook_name(name: Any) -> str:
        return V.name(name, "name", MAX_WEBHOOK_NAME_CHARS)

    @staticmethod
    def _webhook_id(webhook_id: Any) -> int:
        if isinstance(webhook_id, str) and webhook_id.isascii() and webhook_id.isdigit() and len(webhook_id) <= 19:
            webhook_id = int(webhook_id)
        if isinstance(webhook_id, bool) or not isinstance(webhook_id, int) or not 1 <= webhook_id <= _MAX_WEBHOOK_ID:
            raise NotFound("Webhook not found", code=WEBHOOK_NOT_FOUND)
        return webhook_id

    # deliveries (memvault.delivery makes the HTTP requests; the rules of what to send and when are here) -----------
    def webhooks_due(self, now: datetime) -> list[Webhook]:
        """The active webhooks of every project whose next attempt is due."""
        return [w for w in self.store.list_webhooks(None)
                if w.is_active and (w.next_attempt_at is None or w.next_attempt_at <= now)]

    def pending_events(self, webhook: Webhook, limit: int) -> list[ChangeEvent]:
        """The log events after the webhook's cursor, oldest first (whether it wants them or not)."""
        return self.store.events_after(webhook.project_id, webhook.cursor, limit)

    def claim_webhook(self, webhook: Webhook, owner: str, now: datetime, lease: float) -> Webhook | None:
        """The webhook as it stands once `owner` holds its delivery lease for `lease` seconds; None when another
        owner holds it, or it was disabled or deleted meanwhile. `lease` 0 releases it."""
        if not self.store.claim_webhook(webhook.project_id, webhook.id, owner, now + timedelta(seconds=lease), now):
            return None
        return self.store.get_webhook(webhook.project_id, webhook.id)

    def webhook_delivered(self, webhook: Webhook, owner: str, cursor: int) -> Webhook | None:
        """Every event up to `cursor` is handled: its failures are over. None when `owner` lost the lease."""
        state = DeliveryState(cursor)
        if not self.store.save_delivery(webhook.project_id, webhook.id, owner, state, utcnow()):
            return None
        return replace(webhook, cursor=cursor, attempts=0, failing_since=None, next_attempt_at=None, last_error=None)

    def webhook_failed(self, webhook: Webhook, owner: str, error: str, now: datetime) -> DeliveryState:
        """The event after the cursor was not delivered: retried later, with backoff; disabled after too long."""
        state = self.webhook_retry.after_failure(webhook, error, now)
        self.store.save_delivery(webhook.project_id, webhook.id, owner, state, now)
        return state


def _paged(trim: Callable[[datetime, int], int], before: datetime) -> int:
    """Call a store's `trim(before, page)` until a page comes back short; how many rows it deleted in all."""
    done = 0
    while True:
        trimmed = trim(before, _TRIM_PAGE)
        done += trimmed
        if trimmed < _TRIM_PAGE:
            return done
