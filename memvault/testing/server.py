"""A real memvault HTTP server for tests: uvicorn in a thread, on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

from ..engine import Engine
from ..http import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real uvicorn server in a thread, on a free loopback port."""

    def __init__(self, engine: Engine, **app_options: object) -> None:
        self.engine = engine
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(engine, **app_options), host="127.0.0.1", port=self.port,  # type: ignore[arg-type]
                                log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.02)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def key(self, project: str = "test") -> str:
        return self.engine.create_key(project, "test")[1]
