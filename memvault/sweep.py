"""The sweep of `memvault serve`, at start and then every interval, in a daemon thread: the purge of expired and
superseded memories (`Engine.purge`, when the settings ask for one) and the trim of finished async adds older than
the feed's retention (`Engine.trim_jobs`, always).

The rules are the engine's (memvault/engine/purge.py, memvault/engine/events.py); this only keeps time. A sweep that
fails (the database is away) is logged and tried again at the next interval; `stop` ends the thread between two
batches of a purge and waits for it, so the engine can close right after.
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
    def from_settings(cls, engine: Engine, settings: Settings) -> Sweeper:
        """The sweep the settings ask for (finished jobs are trimmed even when nothing is purged)."""
        return cls(engine, settings.purge_expired_after_days, settings.purge_superseded_after_days,
                   settings.purge_interval_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def sweep(self) -> None:
        """One purge (when asked for) and one trim of finished jobs, logged (counts only: never a text)."""
        if self.expired_after_days is not None or self.superseded_after_days is not None:
            self._purge()
        if self._stop.is_set():
            return
        try:
            trimmed = self.engine.trim_jobs()
        except Exception:  # the next interval tries again; the server keeps serving
            log.exception("trim of finished jobs failed")
            return
        if trimmed:
            log.info("trimmed %d finished async adds", trimmed, extra=logs.fields(event="trim_jobs", trimmed=trimmed))

    def _purge(self) -> None:
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
