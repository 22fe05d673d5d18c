"""`python -m memvault serve` as a real process on a free loopback port, for tests that kill it (`kill -9`), stop it
(SIGTERM) or run two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from .server import free_port


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
