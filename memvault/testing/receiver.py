"""A webhook receiver for tests: a real HTTP server on a loopback port that checks each delivery's signature and
keeps what it received. It can answer 500 (`failing`), or be stopped and started again on the same port (a
receiver that is down for a while)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..delivery import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from .server import free_port


@dataclass(frozen=True)
class Delivery:
    payload: dict[str, Any]
    body: bytes
    event_id: str | None
    signature: str | None
    signed: bool  # the signature checks out with the receiver's secret, and is fresh
    at: float  # time.monotonic() when it arrived


class Receiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[Delivery] = []
        self.refused = 0  # deliveries answered 500 while failing
        self.arrivals = 0  # requests that arrived (counted before `hold` makes them wait)
        self.failing = False
        self.hold: threading.Event | None = None  # when given, each delivery waits (up to 30 s) for it to be set
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  # the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._changed:
                    receiver.arrivals += 1
                    receiver._changed.notify_all()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                if receiver.failing:
                    with receiver._changed:
                        receiver.refused += 1
                        receiver._changed.notify_all()
                    self.send_response(500)
                    self.end_headers()
                    return
                signature = self.headers.get(SIGNATURE_HEADER)
                delivery = Delivery(json.loads(body), body, self.headers.get(EVENT_ID_HEADER), signature,
                                    verify(receiver.secret, body, signature), time.monotonic())
                with receiver._changed:
                    receiver.received.append(delivery)
                    receiver._changed.notify_all()
                self.send_response(200 if delivery.signed else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Down: connections to the port are refused until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        """The deliveries received once there are at least `count` (AssertionError after `timeout` seconds)."""
        return self._wait(lambda: len(self.received) >= count, timeout, f"{count} deliveries")

    def wait_arrivals(self, count: int, timeout: float = 20.0) -> None:
        self._wait(lambda: self.arrivals >= count, timeout, f"{count} requests")

    def wait_refused(self, count: int, timeout: float = 20.0) -> None:
        self._wait(lambda: self.refused >= count, timeout, f"{count} refused deliveries")

    def _wait(self, done: Any, timeout: float, what: str) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"waited {timeout:g} s for {what}; received {len(self.received)}")
                self._changed.wait(left)
            return list(self.received)
