"""What the engine tells whoever watches it: how many memories it added and deleted, how long a search took, how
its webhook deliveries went.

The server's metrics (memvault.metrics) are one watcher; an app adds its watcher when it starts and removes it
when it stops. A watcher is told after the change is committed, from the thread that made it: it must be quick.
One that raises is logged and skipped: the operation it watched has happened and is answered as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Watcher(Protocol):
    def memories_added(self, count: int) -> None: ...

    def memories_deleted(self, count: int) -> None: ...

    def searched(self, seconds: float) -> None:
        """A search answered, after `seconds` (embedding the query, both searches, fusion, reranking)."""

    def webhook_delivery(self, delivered: bool) -> None:
        """One webhook delivery attempt ended: taken by its receiver (2xx), or failed (to be retried)."""


class Watchers:
    """The engine's watchers, each told in turn."""

    def __init__(self) -> None:
        self._all: tuple[Watcher, ...] = ()

    def __len__(self) -> int:
        return len(self._all)

    def add(self, watcher: Watcher) -> None:
        self._all += (watcher,)

    def remove(self, watcher: Watcher) -> None:
        self._all = tuple(w for w in self._all if w is not watcher)

    def memories_added(self, count: int) -> None:
        if count:
            self._tell(lambda w: w.memories_added(count))

    def memories_deleted(self, count: int) -> None:
        if count:
            self._tell(lambda w: w.memories_deleted(count))

    def searched(self, seconds: float) -> None:
        self._tell(lambda w: w.searched(seconds))

    def webhook_delivery(self, delivered: bool) -> None:
        self._tell(lambda w: w.webhook_delivery(delivered))

    def _tell(self, call: Callable[[Watcher], None]) -> None:
        for watcher in self._all:
            try:
                call(watcher)
            except Exception:
                log.exception("a watcher of the engine failed: %r", watcher)
