"""The purge sweep of `memvault serve`: `Engine.purge` at start, then every interval, in a daemon thread.

The rules are the engine's (memvault/engine/purge.py); this only keeps time. A sweep that fails (the database is
away) is logged and tried again at the next interval; `stop` ends the thread between two batches of a purge and
waits for it, so the engine can close right after.
"""

from __future__ import annotations

import logging
import threading

from . import logs
from .config import Settings
from .engine import Engine

log = logging.getLogger("memvault.purge")


class Sweeper:
    def __init__(self, engine: Engine, expired_after_days: int | None, superseded_after_days: int | None,
                 interval: float = 3600.0) -> None:
        self.engine = engine
        self.expired_after_days = expired_after_days
        self.superseded_after_days = superseded_after_days
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memvault-purge", daemon=True)

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> Sweeper | None:
        """The sweep the settings ask for; None when they purge nothing."""
        if settings.purge_expired_after_days is None and settings.purge_superseded_after_days is None:
            return None
        return cls(engine, settings.purge_expired_after_days, settings.purge_superseded_after_days,
                   settings.purge_interval_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sweep(self) -> None:
        """One purge, logged (counts only: never a text)."""
        try:
            report = self.engine.purge(self.expired_after_days, self.superseded_after_days,
                                       keep_going=lambda: not self._stop.is_set())
        except Exception:  # the next interval tries again; the server keeps serving
            log.exception("purge sweep failed")
            return
        if report.purged:
            counts = {"purged": report.count(), "expired": report.count("expired"),
                      "superseded": report.count("superseded")}
            log.info("purged %(purged)d memories (%(expired)d expired, %(superseded)d superseded)", counts,
                     extra=logs.fields(event="purge", **counts))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sweep()
            if self._stop.wait(self.interval):
                return
