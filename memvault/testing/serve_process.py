"""`python -m memvault serve` as a real process on a free loopback port, for tests that kill it (`kill -9`), stop it
(SIGTERM) or run two at once; and the database it serves (`target_fixture`: a test module imports it by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from ..embed.hashing import HashingEmbedder
from ..engine import Engine
from ..extract.offline import OfflineExtractor
from ..store.base import Store
from .server import free_port
from .stores import BACKENDS, make_postgres


class ServeProcess:
    """The server runs with `args` (e.g. --data-dir, --database-url) and `env` over this process's environment; its
    output goes to `log`. Ready when constructed (`/healthz` answered), or AssertionError with the log's end."""

    def __init__(self, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
                 ready_within: float = 60) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "memvault", "serve", "--port", str(self.port), *args],
                                     env={**os.environ, **(env or {})}, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}: {log.read_text()[-2000:]}"
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"serve did not start: {log.read_text()[-2000:]}")

    def kill9(self) -> None:
        """Kill without a chance to clean up, as a crash or the OOM killer does."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit code (killed after 30 s without exiting)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# a fresh database for such a process, on each backend ---------------------------------------------------------------
@pytest.fixture(name="target", params=BACKENDS)
def target_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """The `serve` arguments of a fresh database: a SQLite data dir, or a migrated PostgreSQL schema."""
    if request.param == "sqlite":
        yield ["--data-dir", str(tmp_path / "data")]
        return
    store = make_postgres(request)
    url = store.url  # type: ignore[attr-defined]
    store.close()
    yield ["--database-url", url]


def open_store(args: Sequence[str]) -> Store:
    """The store the `serve` arguments name, opened from this process (as another process would)."""
    from ..store.postgres import PostgresStore
    from ..store.sqlite import SQLiteStore

    if args[0] == "--database-url":
        return PostgresStore(args[1], max_size=2)
    return SQLiteStore(Path(args[1]) / "memvault.db")


def make_key(args: Sequence[str]) -> str:
    """A key of the default project of the database the `serve` arguments name."""
    store = open_store(args)
    try:
        return Engine(store, HashingEmbedder(), OfflineExtractor()).create_key(None, "crash")[1]
    finally:
        store.close()
