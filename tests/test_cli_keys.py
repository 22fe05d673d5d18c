"""`memvault keys create | list | revoke` against a data folder, checked through a real server on it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from memvault.cli import app
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.server import Server

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def create_key(data_dir: Path, project: str) -> str:
    out = cli("keys", "create", "--project", project, "--data-dir", str(data_dir))
    lines = out.strip().splitlines()
    assert len(lines) >= 2
    return lines[-1]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server_on(data_dir: Path) -> Iterator[Server]:
    """A server over the same folder the CLI writes to, as `memvault serve --data-dir` would run."""
    create_key(data_dir, "warmup")  # the CLI makes the database first
    engine = Engine(SQLiteStore(data_dir / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    with Server(engine) as srv:
        yield srv
    engine.close()


def ping(server: Server, key: str) -> httpx.Response:
    return httpx.get(server.url + "/v1/ping/", headers={"Authorization": f"Token {key}"})


def db_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("memvault.db*")))


def test_create_prints_the_key_alone_on_the_last_line_and_it_works(data_dir: Path, server_on: Server) -> None:
    key = create_key(data_dir, "acme")
    assert key.startswith("mv_") and " " not in key and len(key) > 30
    answer = ping(server_on, key)
    assert answer.status_code == 200
    assert answer.json()["project_id"] == server_on.engine.project("acme").id


def test_keys_of_two_projects_reach_two_projects(data_dir: Path, server_on: Server) -> None:
    a, b = create_key(data_dir, "a"), create_key(data_dir, "b")
    assert a != b
    assert ping(server_on, a).json()["project_id"] != ping(server_on, b).json()["project_id"]


def test_list_never_prints_a_key(data_dir: Path, server_on: Server) -> None:
    keys = [create_key(data_dir, "acme"), create_key(data_dir, "acme"), create_key(data_dir, "other")]
    listing = cli("keys", "list", "--data-dir", str(data_dir))
    assert len(listing.strip().splitlines()) == 4  # with the warm-up key
    for key in keys:
        assert key not in listing
        assert key[11:] not in listing  # not even the secret part past the shown prefix
    only_acme = cli("keys", "list", "--project", "acme", "--data-dir", str(data_dir))
    assert len(only_acme.strip().splitlines()) == 2 and "other" not in only_acme


def test_revoke_makes_the_key_401(data_dir: Path, server_on: Server) -> None:
    key, kept = create_key(data_dir, "acme"), create_key(data_dir, "acme")
    assert ping(server_on, key).status_code == 200
    line = next(row for row in cli("keys", "list", "--data-dir", str(data_dir)).splitlines()
                if row.startswith(key[:11]))
    key_id = line.split("\t")[1]
    out = cli("keys", "revoke", key_id, "--data-dir", str(data_dir))
    assert "revoked" in out and key not in out
    refused = ping(server_on, key)
    assert refused.status_code == 401 and refused.json()["detail"]
    assert ping(server_on, kept).status_code == 200
    assert "revoked" in next(row for row in cli("keys", "list", "--data-dir", str(data_dir)).splitlines()
                             if row.startswith(key[:11]) and key_id in row)


def test_revoking_an_unknown_key_fails_cleanly(data_dir: Path) -> None:
    create_key(data_dir, "acme")
    result = runner.invoke(app, ["keys", "revoke", "no-such-key", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert "no key" in result.output


def test_keys_are_stored_hashed(data_dir: Path) -> None:
    key = create_key(data_dir, "acme")
    stored = db_bytes(data_dir)
    assert key.encode() not in stored
    assert key[11:].encode() not in stored
    assert hashlib.sha256(key.encode()).hexdigest().encode() in stored


def test_the_installed_command_prints_the_key_last(data_dir: Path) -> None:
    env = {**os.environ, "MEMVAULT_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "memvault.cli", "keys", "create", "--project", "x"],
                          capture_output=True, text=True, env=env, timeout=60, check=True)
    key = done.stdout.strip().splitlines()[-1]
    engine = Engine(SQLiteStore(data_dir / "memvault.db"), HashingEmbedder(), OfflineExtractor())
    try:
        assert engine.authenticate(key) == engine.project("x").id
    finally:
        engine.close()


def test_create_says_which_database_holds_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "elsewhere"
    first = cli("keys", "create", "--data-dir", str(data_dir))
    db = str((data_dir / "memvault.db").resolve())
    assert f"stored in a new database at {db}" in first
    second = cli("keys", "create", "--data-dir", str(data_dir))
    assert f"stored in {db}" in second and "new database" not in second


@pytest.mark.parametrize("command", [["keys", "create"], ["migrate"]])
def test_a_postgres_url_without_the_postgres_extra_says_what_to_install(tmp_path: Path, command: list[str]) -> None:
    # psycopg made unimportable the way a missing package is (None in sys.modules raises ModuleNotFoundError)
    code = ("import sys; sys.modules['psycopg'] = None; from memvault.cli import app; "
            f"app({command!r}, prog_name='memvault')")
    env = {**os.environ, "MEMVAULT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 1
    assert "pip install 'memvault[postgres]'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("args", [["keys", "create", "--name", "bad \udcff"], ["keys", "create", "--name", "x" * 201],
                                  ["keys", "create", "--project", "\x01\x7f"], ["keys", "revoke", "\udcff"],
                                  ["keys", "list", "--project", "tab\there"]])
def test_key_commands_refuse_bad_arguments_with_a_message(data_dir: Path, args: list[str]) -> None:
    """Arguments a shell can pass (invalid UTF-8 arrives as lone surrogates): a clean error, exit 1, nothing made."""
    result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "error:" in result.stderr
    listed = runner.invoke(app, ["keys", "list", "--data-dir", str(data_dir)])
    assert listed.exit_code == 0 and listed.stdout.strip() == ""
