"""The server's background loops. `JobWorkers`: threads that run the queue of async adds (memvault/engine/jobs.py)
while the app runs; started and stopped by the app's lifespan (memvault/http.py `create_app(..., job_workers=...)`),
so a request never waits for them. Several servers on one PostgreSQL share the queue."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .engine import Engine

log = logging.getLogger("memvault.workers")


@dataclass(frozen=True)
class JobWorkerOptions:
    threads: int = 1  # workers in this process
    poll: float = 0.2  # seconds between looks at an empty queue


class JobWorkers:
    def __init__(self, engine: Engine, options: JobWorkerOptions) -> None:
        self.engine, self.options = engine, options
        self._stop = threading.Event()
        prefix = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # unique across processes and restarts
        self._threads = [threading.Thread(target=self._loop, args=(f"{prefix}-{i}",), name=f"memvault-jobs-{i}",
                                          daemon=True) for i in range(options.threads)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the workers to stop and wait for the job each is running (its lease lets another take it up if the
        wait runs out)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout)

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                ran = self.engine.run_jobs_once(worker_id)
            except Exception:  # the database away for a moment: try again after the pause
                log.exception("job worker %s: a turn failed", worker_id)
                ran = None
            if ran is None:
                self._stop.wait(self.options.poll)


@asynccontextmanager
async def running_jobs(engine: Engine, options: JobWorkerOptions | None) -> AsyncIterator[None]:
    """The job workers, while the `async with` body runs (nothing when `options` is None)."""
    if options is None or options.threads < 1:
        yield
        return
    workers = JobWorkers(engine, options)
    workers.start()
    try:
        yield
    finally:
        workers.stop()
