"""Running calls at the same moment, for race tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def together(pool: ThreadPoolExecutor, *calls: Callable[[], Any],
             allowed: tuple[type[BaseException], ...] = (Exception,)) -> list[Any]:
    """Run the calls at the same moment, one per thread (the pool needs a thread per call); each one's result, or
    the exception it raised when that exception is one of `allowed` (any other is raised here)."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        start.wait()
        try:
            return call()
        except allowed as exc:
            return exc

    return [f.result() for f in [pool.submit(run, call) for call in calls]]
