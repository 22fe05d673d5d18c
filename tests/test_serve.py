"""The real `memvault serve` as a subprocess: its stderr is log lines from a start line to a stop line, JSON by
default (`MEMVAULT_LOG_FORMAT=text` for plain lines), and /metrics is offered on loopback unless turned off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import free_port


def make_key(data_dir: Path) -> str:
    engine = Engine(SQLiteStore(data_dir / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:
        return engine.create_key("ops", "test")[1]
    finally:
        engine.close()


@contextmanager
def serving(data_dir: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """`memvault serve` on a free loopback port; at the end it is stopped with SIGINT (Ctrl-C) and must exit."""
    port = free_port()
    log = data_dir / "stderr.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
    environ.update({"MEMVAULT_EMBEDDER": "hashing", "MEMVAULT_DATA_DIR": str(data_dir), "MEMVAULT_PORT": str(port),
                    "MEM0_TELEMETRY": "False", **env})
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "memvault", "serve"], env=environ, stdout=subprocess.DEVNULL,
                                stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield url, log
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()


def test_serve_logs_json_lines_from_start_to_stop(tmp_path: Path) -> None:
    key = make_key(tmp_path)
    with serving(tmp_path) as (url, log):
        ok = httpx.get(url + "/v1/ping/", headers={"Authorization": f"Token {key}", "X-Request-ID": "ping-1"})
        refused = httpx.get(url + "/v1/ping/", headers={"Authorization": "Token mv_nope"})
        metrics = httpx.get(url + "/metrics")  # on by default: the server listens on loopback
    assert (ok.status_code, refused.status_code, metrics.status_code) == (200, 401, 200)
    assert 'route="/v1/ping/"' in metrics.text

    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object
    assert lines[0]["event"] == "start" and lines[0]["logger"] == "memvault.server"
    assert (lines[0]["host"], lines[0]["metrics"]) == ("127.0.0.1", True)
    assert lines[0]["data"] == str((tmp_path / "memvault.db").resolve())
    assert lines[-1]["event"] == "stop" and lines[-1]["message"] == "memvault: stopped"
    access = {line["request_id"]: line for line in lines if line["logger"] == "memvault.access"}
    assert access["ping-1"]["status"] == 200 and access["ping-1"]["route"] == "/v1/ping/"
    assert access[refused.headers["X-Request-ID"]]["level"] == "warning"
    assert key not in log.read_text()


def test_serve_logs_text_and_metrics_can_be_turned_off(tmp_path: Path) -> None:
    key = make_key(tmp_path)
    with serving(tmp_path, MEMVAULT_METRICS="false", MEMVAULT_LOG_FORMAT="text", MEMVAULT_LOG_LEVEL="WARNING") as (url, log):
        assert httpx.get(url + "/metrics").status_code == 401  # not a public path: there is no such route
        assert httpx.get(url + "/metrics", headers={"Authorization": f"Token {key}"}).status_code == 404
        assert httpx.get(url + "/v1/ping/", headers={"Authorization": f"Token {key}"}).status_code == 200
    text = log.read_text()
    assert text.strip(), "nothing logged"
    assert not text.lstrip().startswith("{")
    # at warning, only the 401 is a line: the start line, the 404 and the ping are info
    lines = text.splitlines()
    assert len(lines) == 1 and " WARNING memvault.access: GET (no route) 401 " in lines[0], text
    assert "refusal=Missing API key" in lines[0]
