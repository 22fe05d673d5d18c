"""The `memvault` command: serve, keys, and the rest. Translation only: every rule is in the engine."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .config import Settings
from .engine import Engine
from .errors import MemvaultError

if TYPE_CHECKING:
    from fastapi import FastAPI

app = typer.Typer(help="memvault: a self-hosted memory layer for AI apps and agents.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
chats_app = typer.Typer(help="The chat-history archive: import whole conversations.", no_args_is_help=True)
app.add_typer(chats_app, name="chats")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Folder of the embedded database "
                                              "(default: $MEMVAULT_DATA_DIR or ./memvault-data).")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="postgresql://... to use PostgreSQL "
                                                 "(default: $MEMVAULT_DATABASE_URL; none: embedded SQLite).")]


def settings_for(data_dir: Path | None = None, database_url: str | None = None, **more: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in more.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


@contextmanager
def _refusals() -> Iterator[None]:
    """A memvault error ends the command with its message on stderr and exit code 1, never a traceback."""
    try:
        yield
    except MemvaultError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None


def open_engine(settings: Settings, *, light: bool = False) -> Engine:
    """An engine over the configured store. `light` skips loading the embedding model (key commands).
    A part that cannot be built (e.g. PostgreSQL support not installed) ends the command with its message."""
    from .factory import build_engine

    with _refusals():
        if light:
            from .embed.hashing import HashingEmbedder
            from .extract.offline import OfflineExtractor

            return build_engine(settings, embedder=HashingEmbedder(), extractor=OfflineExtractor())
        return build_engine(settings)


def data_location(settings: Settings) -> str:
    """Where the data lives, as a person needs to know it: the SQLite file's absolute path, or the database URL
    without its password."""
    if settings.database_url:
        from .store.postgres import redact  # the engine opened: psycopg is there

        return redact(settings.database_url)
    return str(settings.sqlite_path.resolve())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes answering on the one port, each with its own "
                                         "model and connections (PostgreSQL, or SQLite on one machine).")] = 1,
) -> None:
    """Run the HTTP server (Mem0 and MemoryPlugin APIs, MCP at /mcp, /docs, and /metrics on loopback).
    Logs go to stderr, one JSON object a line ($MEMVAULT_LOG_FORMAT=text for plain lines, $MEMVAULT_LOG_LEVEL).
    Expired and superseded memories are purged at start and every hour ($MEMVAULT_PURGE_*).

    With --workers N, this process starts N worker processes (uvicorn's) that share the port, each building its
    engine from the same settings (`worker_app`), and runs the purge sweep itself, once for all of them."""
    import logging
    import time

    import uvicorn

    from . import heap, logs
    from .metrics import metrics_enabled
    from .sweep import Sweeper

    heap.for_server()
    settings = settings_for(data_dir, database_url, host=host, port=port)
    logs.configure(settings.log_format, settings.log_level)
    log = logging.getLogger("memvault.server")
    # With workers, this engine only migrates, makes the default project and sweeps: its model (loaded at the first
    # embedding) is never loaded, but its parts are built, so a setting that names no part ends `serve` here, once.
    if workers > 1:
        # The workers (spawned) read their settings from the environment. Set it before any thread starts: glibc's
        # setenv moves the environment while another thread's getenv (a log line's localtime reads TZ) walks it.
        os.environ.update(worker_environment(settings))
    engine = open_engine(settings)
    engine.project()  # the default project exists from the start
    metrics = metrics_enabled(settings.host, settings.metrics)
    log.info("memvault: data in %s; listening on http://%s:%s", data_location(settings), settings.host, settings.port,
             extra=logs.fields(event="start", data=data_location(settings), host=settings.host, port=settings.port,
                               metrics=metrics, pid=os.getpid(), workers=workers))
    started = time.monotonic()
    sweeper = Sweeper.from_settings(engine, settings)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler it found: this one
    # turns it into a normal exit, so the sweep stops between two batches and the store closes (and compacts).
    # (With workers, uvicorn's supervisor takes SIGTERM and SIGINT over: it stops the workers, each gracefully.)
    signal.signal(signal.SIGTERM, _exit)
    try:
        if sweeper is not None:
            sweeper.start()
        if workers == 1:
            uvicorn.run(server_app(engine, settings, metrics), host=settings.host, port=settings.port,
                        log_level="warning", log_config=None, access_log=False)
        else:
            uvicorn.run("memvault.cli:worker_app", factory=True, workers=workers, host=settings.host,
                        port=settings.port, log_level="warning", log_config=None, access_log=False)
    finally:
        if sweeper is not None:
            sweeper.stop()
        engine.close()
        log.info("memvault: stopped", extra=logs.fields(event="stop", uptime_s=round(time.monotonic() - started, 1)))


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(0)


def server_app(engine: Engine, settings: Settings, metrics: bool, *, close_engine: bool = False) -> FastAPI:
    """The app `serve` runs over `engine`: webhook deliveries and the async-add workers in its lifespan."""
    from .delivery import DeliveryOptions
    from .http import create_app
    from .workers import JobWorkerOptions

    deliveries = DeliveryOptions(timeout=settings.webhook_timeout_seconds, poll=settings.webhook_poll_seconds,
                                 lease=max(settings.webhook_lease_seconds, 2 * settings.webhook_timeout_seconds))
    jobs = JobWorkerOptions(settings.job_workers, settings.job_poll_seconds)
    return create_app(engine, max_body_bytes=settings.max_body_bytes, metrics=metrics, deliveries=deliveries,
                      job_workers=jobs, close_engine=close_engine)


def worker_environment(settings: Settings) -> dict[str, str]:
    """What `serve --workers` exports before starting its workers: the settings its options gave (the rest already
    came from the environment the workers inherit), so that every worker builds the same engine."""
    found = {"MEMVAULT_DATA_DIR": str(settings.data_dir.resolve()), "MEMVAULT_HOST": settings.host,
             "MEMVAULT_PORT": str(settings.port)}
    if settings.database_url:
        found["MEMVAULT_DATABASE_URL"] = settings.database_url
    return found


def worker_app() -> FastAPI:
    """One worker process of `serve --workers N` (uvicorn calls it in each): the settings from the environment
    `serve` prepared (`worker_environment`), its own engine (model, connections; on SQLite its own vector index,
    kept current from the file's change log), webhook deliveries and async-add workers, which share the database's
    leases with the other workers. The engine closes when the worker stops. The purge sweep is not here: `serve`
    runs it once for all the workers."""
    import logging

    from uvicorn.config import STARTUP_FAILURE

    from . import heap, logs
    from .metrics import metrics_enabled

    heap.for_server()
    settings = Settings()
    logs.configure(settings.log_format, settings.log_level)
    log = logging.getLogger("memvault.server")
    try:
        engine = open_engine(settings)
    except Exception as exc:  # uvicorn's supervisor stops on this exit code, instead of starting the worker again
        if not isinstance(exc, typer.Exit):  # (open_engine's refusal has printed its message)
            log.exception("memvault: worker %s could not start", os.getpid())
        raise SystemExit(STARTUP_FAILURE) from None
    log.info("memvault: worker %s ready", os.getpid(), extra=logs.fields(event="worker", pid=os.getpid()))
    return server_app(engine, settings, metrics_enabled(settings.host, settings.metrics), close_engine=True)


@keys_app.command("create")
def keys_create(
    project: Annotated[str | None, typer.Option(help="Project (tenant) the key belongs to; made on first use.")] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line; only its hash is stored.
    The line before says which database holds it: a server started on another data dir will not know the key."""
    settings = settings_for(data_dir, database_url)
    fresh = not settings.database_url and not settings.sqlite_path.exists()
    engine = open_engine(settings, light=True)
    try:
        with _refusals():
            key, clear = engine.create_key(project, name)
        proj = engine.store.get_project(key.project_id)
        typer.echo(f"created key {key.prefix}… (id {key.id}) for project {proj.name if proj else key.project_id}")
        typer.echo(f"stored in {'a new database at ' if fresh else ''}{data_location(settings)} "
                   "(a server accepts the key when it runs on this data)")
        typer.echo(clear)
    finally:
        engine.close()


@keys_app.command("list")
def keys_list(
    project: Annotated[str | None, typer.Option(help="Only this project's keys.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (prefix, id, project, state); never the keys themselves."""
    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        with _refusals():
            keys = engine.list_keys(project)
        for key in keys:
            proj = engine.store.get_project(key.project_id)
            state = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
            typer.echo(f"{key.prefix}…\t{key.id}\t{proj.name if proj else key.project_id}\t{key.name}\t{state}")
    finally:
        engine.close()


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id or its prefix (as `keys list` shows).")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key: it stops working at once."""

    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        with _refusals():
            key = engine.revoke_key(key_id)
        typer.echo(f"revoked {key.prefix}… ({key.id})")
    finally:
        engine.close()


webhooks_app = typer.Typer(help="Add, list and remove webhooks: signed deliveries of the change log, made by `serve`.",
                           no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
EventType = Annotated[list[str] | None, typer.Option(
    "--event-type", help="An event to deliver (repeat it): memory_add, memory_update, memory_delete, memory_supersede, "
    "memory_purge, memory_categorize (default: memory_add, memory_update, memory_delete).")]


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST the events: an http(s) URL.")],
    name: Annotated[str, typer.Option(help="A label to recognise the webhook by.")] = "webhook",
    event_type: EventType = None,
    project: Annotated[str | None, typer.Option(help="Project (tenant) whose changes it receives.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a webhook. Its signing secret is printed once, alone on the last line."""
    with _session(data_dir, database_url, project, light=True) as (engine, pid):
        hook = engine.create_webhook(pid, url, name, event_type or ["memory_add", "memory_update", "memory_delete"])
        typer.echo(f"added webhook {hook.id} ({hook.name}) for {', '.join(hook.event_types)} to {hook.url}; "
                   "its signing secret (shown once):")
        typer.echo(hook.secret)


@webhooks_app.command("list")
def webhooks_list(
    project: Annotated[str | None, typer.Option(help="Project (tenant) whose webhooks to list.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List webhooks (id, name, url, events, state); never their secrets."""
    with _session(data_dir, database_url, project, light=True) as (engine, pid):
        for hook in engine.list_webhooks(pid):
            state = "active" if hook.is_active else f"disabled {hook.disabled_at.isoformat() if hook.disabled_at else ''}"
            if hook.is_active and hook.failing_since:
                state = f"failing since {hook.failing_since.isoformat()}: {hook.last_error}"
            typer.echo(f"{hook.id}\t{hook.name}\t{hook.url}\t{','.join(hook.event_types)}\t{state}")


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id (as `webhooks list` shows).")],
    project: Annotated[str | None, typer.Option(help="Project (tenant) of the webhook.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a webhook: nothing more is delivered to it."""
    with _session(data_dir, database_url, project, light=True) as (engine, pid):
        engine.delete_webhook(pid, webhook_id)
        typer.echo(f"removed webhook {webhook_id}")


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to this version's. Run it once per upgrade, before starting the new version
    (a store refuses to open a schema behind it; a new, empty database is set up on its own)."""
    settings = settings_for(data_dir, database_url)
    from .store.migrations import SchemaError

    if not settings.database_url:
        from .store.sqlite.schema import migrate_path

        where = str(settings.sqlite_path)
        try:
            before, after = migrate_path(settings.sqlite_path)
        except SchemaError as exc:
            typer.echo(f"error: {where}: {exc.message}", err=True)
            raise typer.Exit(1) from None
    else:
        try:
            import psycopg

            from .store.postgres import redact
            from .store.postgres.schema import migrate_url
        except ModuleNotFoundError as exc:
            typer.echo(f"error: PostgreSQL support is not installed ({exc.name} is missing): "
                       "pip install 'memvault[postgres]'", err=True)
            raise typer.Exit(1) from None

        where = redact(settings.database_url)
        try:
            before, after = migrate_url(settings.database_url)
        except (SchemaError, psycopg.Error) as exc:
            typer.echo(f"error: {where}: {exc}", err=True)
            raise typer.Exit(1) from None
    done = f"migrated from version {before} to {after}" if after != before else f"already at version {after}"
    typer.echo(f"{where}: {done}")


@app.command()
def compact(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    rewrite: Annotated[bool, typer.Option("--rewrite", help="Also rewrite the files whole (VACUUM / VACUUM FULL): "
                                          "clears the free space inside pages too; slow, and writers wait.")] = False,
) -> None:
    """Drop from the database files what deletes left behind (SQLite does this by itself seconds after a
    delete; on PostgreSQL this runs VACUUM on the tables that hold text)."""
    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        engine.compact(rewrite)
    finally:
        engine.close()
    typer.echo("compacted")


@app.command()
def purge(
    expired_after_days: Annotated[int | None, typer.Option(
        "--expired-after-days", min=0, help="Purge memories this many days after their expiration day (0: every "
        "expired one). Default: $MEMVAULT_PURGE_EXPIRED_AFTER_DAYS, else 30.")] = None,
    superseded_after_days: Annotated[int | None, typer.Option(
        "--superseded-after-days", min=0, help="Purge superseded memories this many days after they were "
        "superseded. Default: $MEMVAULT_PURGE_SUPERSEDED_AFTER_DAYS, else never.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be purged; delete nothing.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Delete for good, in every project, the memories that expired or were superseded long enough ago (what
    `serve` does every hour). Prints each one's project and id and why, never its text."""
    settings = settings_for(data_dir, database_url, purge_expired_after_days=expired_after_days,
                            purge_superseded_after_days=superseded_after_days)
    engine = open_engine(settings, light=True)
    try:
        with _refusals():
            report = engine.purge(settings.purge_expired_after_days, settings.purge_superseded_after_days,
                                  dry_run=dry_run)
    finally:
        engine.close()  # on SQLite, the compaction that drops the purged bytes from the files runs here
    verb = "would purge" if dry_run else "purged"
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "purged": report.count(), "expired": report.count("expired"),
                               "superseded": report.count("superseded"),
                               "results": [{"project_id": p.project_id, "id": p.memory_id, "reason": p.reason}
                                           for p in report.purged]}))
        return
    for p in report.purged:
        typer.echo(f"{verb}\t{p.project_id}\t{p.memory_id}\t{p.reason}")
    typer.echo(f"{verb} {report.count()} memories ({report.count('expired')} expired, "
               f"{report.count('superseded')} superseded)")


# memories: add, search, list, get, delete, export, import, mcp ---------------------------------
Project = Annotated[str | None, typer.Option("--project", help="Project (tenant) to work in (default: the default project).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]
LatestOnly = Annotated[bool, typer.Option("--latest-only/--all-versions",
                                         help="Only memories still true, or superseded ones too.")]
UserOpt = Annotated[str | None, typer.Option("--user-id", help="Only this user's memories / the memory's user.")]
ShowExpired = Annotated[bool, typer.Option("--show-expired", help="Also memories whose expiration date has passed.")]


@contextmanager
def _session(data_dir: Path | None, database_url: str | None, project: str | None,
             light: bool = False) -> Iterator[tuple[Engine, str]]:
    """An engine and the project id; a memvault error ends the command with its message and exit code 1. The
    change log records what the command changes as the CLI's."""
    from .origin import Origin, acting

    engine = open_engine(settings_for(data_dir, database_url), light=light)
    try:
        with _refusals(), acting(Origin("cli")):  # for the command only: a program that runs it in-process keeps its own
            yield engine, engine.project(project).id
    finally:
        engine.close()


def _json_arg(value: str | None, what: str) -> Any:
    from .errors import InvalidInput

    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise InvalidInput(f"{what} must be JSON, e.g. '{{\"topic\": \"travel\"}}'") from None


def _print(data: Any, as_json: bool, rows: list[dict[str, Any]] | None = None, columns: Sequence[str] = ()) -> None:
    """JSON for scripts, else a table of `rows` (default: `data["results"]`)."""
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for column in table.columns:  # ids stay whole (to paste into get/delete); the text wraps
        column.no_wrap = column.header != "memory"
    for row in rows if rows is not None else data["results"]:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console().print(table)


MEMORY_COLUMNS = ("id", "memory", "user_id")


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="What to remember.")],
    user_id: UserOpt = None,
    agent_id: Annotated[str | None, typer.Option("--agent-id")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id")] = None,
    metadata: Annotated[str | None, typer.Option(help="A JSON object stored with the memory.")] = None,
    bucket: Annotated[str | None, typer.Option(help="Bucket name or id (default: General).")] = None,
    infer: Annotated[bool, typer.Option(help="Extract standalone facts instead of storing the text as it is.")] = False,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Add a memory (or, with --infer, the facts found in the text)."""
    from .engine import Owners
    from .extract.base import Message
    from .shapes import effect_out, memory_out

    with _session(data_dir, database_url, project) as (engine, pid):
        results = engine.add(pid, [Message("user", text)], Owners(user_id, agent_id, None, run_id), infer=infer,
                             metadata=_json_arg(metadata, "--metadata"), bucket=bucket, source="cli")
        _print({"results": [{**memory_out(r.memory), **effect_out(r)} for r in results]}, as_json,
               columns=("id", "event", "memory", "user_id"))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in natural language.")],
    user_id: UserOpt = None,
    filters: Annotated[str | None, typer.Option(help="Mem0-style filters as JSON.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="How many results at most.")] = 10,
    latest_only: LatestOnly = True,
    show_expired: ShowExpired = False,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Find memories by meaning and keywords, best first."""
    from . import filters as F
    from .engine import Owners, SearchOptions
    from .shapes import hit_out

    with _session(data_dir, database_url, project) as (engine, pid):
        where = F.all_of(F.parse(_json_arg(filters, "--filters")), F.owned_by(Owners(user_id=user_id)))
        hits = engine.search(pid, query, where, SearchOptions(top_k=top_k, show_expired=show_expired),
                             latest_only=latest_only)
        results = [hit_out(h) for h in hits]
        rows = [{**r, "score": f"{r['score']:.3f}"} for r in results]
        _print({"results": results}, as_json, rows, ("id", "score", "memory", "user_id"))


@app.command("list")
def list_memories(
    user_id: UserOpt = None,
    bucket: Annotated[str | None, typer.Option(help="Only this bucket (name or id).")] = None,
    limit: Annotated[int, typer.Option(help="How many at most, newest first.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many first (to read the next page).")] = 0,
    latest_only: LatestOnly = True,
    show_expired: ShowExpired = False,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """List memories, newest first. When more are left, a line on stderr says how to read them."""
    from . import filters as F
    from .engine import Owners
    from .shapes import memory_out

    with _session(data_dir, database_url, project) as (engine, pid):
        in_bucket = F.eq("bucket", bucket) if bucket is not None else None
        page = engine.list(pid, F.all_of(F.owned_by(Owners(user_id=user_id)), in_bucket), limit=limit, offset=offset,
                           latest_only=latest_only, show_expired=show_expired)
        _print({"results": [memory_out(m) for m in page.items], "total": page.total}, as_json, columns=MEMORY_COLUMNS)
    shown = offset + len(page.items)
    if shown < page.total:
        typer.echo(f"{offset + 1}-{shown} of {page.total} shown; --offset {shown} for the next ones", err=True)


@app.command()
def get(
    memory_id: Annotated[str, typer.Argument(help="The memory's id, or the start of it (at least 4 characters).")],
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Show one memory."""
    from .shapes import memory_out

    with _session(data_dir, database_url, project) as (engine, pid):
        memory = memory_out(engine.get(pid, engine.resolve_id(pid, memory_id)))
        rows = [{"field": k, "value": json.dumps(v) if isinstance(v, dict | list) else v} for k, v in memory.items()]
        _print(memory, as_json, rows, ("field", "value"))


@app.command()
def delete(
    memory_ids: Annotated[list[str], typer.Argument(help="The ids of the memories to delete (or the start of each, "
                                                    "at least 4 characters).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted; delete nothing.")] = False,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Delete memories for good. Exit code 1 when any id was not deleted (unknown or malformed); a prefix that
    names several memories deletes nothing. With --dry-run, the same report, and nothing is deleted."""
    from .engine.receipts import receipting
    from .errors import InvalidInput, NotFound
    from .shapes import deletes_out

    with _session(data_dir, database_url, project) as (engine, pid):
        ids = []
        for ref in memory_ids:
            try:
                ids.append(engine.resolve_id(pid, ref))
            except (NotFound, InvalidInput):
                ids.append(ref)  # reported as not deleted below (an ambiguous prefix ends the command)
        with receipting("cli delete") as made:
            outcome = deletes_out(engine.delete_many(pid, ids, dry_run=dry_run))
        if made.issued:
            outcome["receipt_id"] = made.issued[-1]
        _print(outcome, as_json, columns=("id", "deleted", "reason"))
        if made.issued and not as_json:
            typer.echo(f"receipt: {made.issued[-1]}")
    if outcome["failed"]:
        raise typer.Exit(1)


@contextmanager
def _progress(label: str, total: Callable[[], int | None]) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal (yields `advance(n)`); elsewhere, None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total())
        yield lambda n: progress.advance(task, n)


@app.command("export")
def export_cmd(
    output: Annotated[str, typer.Option("--output", "-o", help="File to write; '-' (default) is stdout.")] = "-",
    with_embeddings: Annotated[bool, typer.Option("--with-embeddings", help="Include the vectors "
                                                  "(an import by the same embedder then skips embedding).")] = False,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """Export the project's memories, with their history, as JSON Lines (streamed, any size)."""
    from . import transfer

    with _session(data_dir, database_url, project) as (engine, pid):
        with contextlib.ExitStack() as stack:
            out = sys.stdout if output == "-" else stack.enter_context(open(output, "w", encoding="utf-8"))
            advance = stack.enter_context(_progress("exporting", lambda: engine.list(pid, limit=1, latest_only=False).total))
            count = transfer.export_to(out, engine, pid, with_embeddings=with_embeddings, progress=advance)
        typer.echo(f"exported {count} memories", err=True)


@app.command("import")
def import_cmd(
    source: Annotated[str, typer.Argument(help="An export file (JSON Lines); '-' reads stdin.")],
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Import an export file in one transaction. Idempotent by id; the whole file is checked before anything is
    written, and a bad line (named by number) or a failure commits nothing."""
    import shutil
    import tempfile

    from . import transfer

    with contextlib.ExitStack() as stack:
        path = Path(source)
        if source == "-":  # the file is read twice on a terminal (count, then import): keep stdin in a file
            spool = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8"))
            shutil.copyfileobj(sys.stdin, spool)
            spool.flush()
            path = Path(spool.name)
        elif not path.is_file():
            typer.echo(f"error: no file {source}", err=True)
            raise typer.Exit(1)
        with _session(data_dir, database_url, project) as (engine, pid):
            with _progress("importing", lambda: transfer.validate(path, engine)) as advance:
                report = transfer.import_from(path, engine, pid, progress=advance)
    summary = {"added": report.added, "exists": report.exists}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"imported {report.added} memories; {report.exists} already here (unchanged)")


@chats_app.command("import")
def chats_import(
    source: Annotated[Path, typer.Argument(help="A ChatGPT export's conversations.json, or MemoryPlugin ingest "
                                           "JSON (one body, or a list of them).")],
    platform: Annotated[str | None, typer.Option(help="The platform to file them under (default: chatgpt for a "
                                                 "ChatGPT export, else the file's own or custom).")] = None,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Import conversations into the chat-history archive, one by one (each is its own import: a conversation
    already there gains only its new messages). A conversation refused (bad input, over 100,000 tokens) is
    reported with its number and reason and the others go on; the exit code is then 1."""
    import uuid

    from . import chat_import
    from .errors import MemvaultError

    if not source.is_file():
        typer.echo(f"error: no file {source}", err=True)
        raise typer.Exit(1)
    with _session(data_dir, database_url, project) as (engine, pid):
        items = chat_import.read(source, platform)
        import_id, done, refused = str(uuid.uuid4()), [], []
        with _progress("importing conversations", lambda: len(items)) as advance:
            for n, item in enumerate(items, 1):
                try:
                    conv = engine.ingest_chat(pid, item, import_id)
                    if conv.status == "rejected":
                        refused.append({"conversation": n, "id": item.conversation_id, "reason": conv.status_reason})
                    else:
                        done.append(conv)
                except MemvaultError as exc:
                    refused.append({"conversation": n, "id": str(item.conversation_id), "reason": exc.message})
                if advance:
                    advance(1)
    summary = {"importId": import_id, "imported": len(done), "messages": sum(c.message_count for c in done),
               "refused": refused}
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        typer.echo(f"imported {len(done)} conversations ({summary['messages']} messages in all); import id {import_id}")
        for r in refused:
            typer.echo(f"conversation {r['conversation']} ({r['id']}): {r['reason']}", err=True)
    if refused:
        raise typer.Exit(1)
# project settings ------------------------------------------------------------------------------
project_app = typer.Typer(help="Show and change a project's settings (categories, instructions, name).",
                          no_args_is_help=True)
app.add_typer(project_app, name="project")


@contextmanager
def _light_session(data_dir: Path | None, database_url: str | None, project: str | None) -> Iterator[tuple[Engine, str]]:
    """`_session` without the embedding model: settings need none."""
    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        with _refusals():
            yield engine, engine.project(project).id
    finally:
        engine.close()


def _print_settings(shown: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    typer.echo(f"project: {shown['name']} ({shown['id']})")
    for field in ("custom_instructions", "agent_custom_instructions"):
        typer.echo(f"{field}: {shown[field] if shown[field] is not None else '(none)'}")
    kind = "custom" if shown["custom_categories"] is not None else "default"
    typer.echo(f"categories ({kind}):")
    for entry in shown["categories"]:
        for name, description in entry.items():
            typer.echo(f"  {name}: {description}")


@project_app.command("show")
def project_show(
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Show a project's settings and the categories its memories are sorted into."""
    from .shapes import settings_out

    with _light_session(data_dir, database_url, project) as (engine, pid):
        _print_settings(settings_out(engine.project_settings(pid), engine.project_categories(pid)), as_json)


@project_app.command("set")
def project_set(
    name: Annotated[str | None, typer.Option(help="A display name ('' for the project's own).")] = None,
    custom_categories: Annotated[str | None, typer.Option(
        "--custom-categories", help='JSON list replacing the default categories, e.g. \'[{"pets": "Animals I own"}]\' '
        "('[]' for the defaults).")] = None,
    custom_instructions: Annotated[str | None, typer.Option(
        "--custom-instructions", help="What the LLM extractor should remember or skip ('' for none).")] = None,
    agent_custom_instructions: Annotated[str | None, typer.Option(
        "--agent-custom-instructions", help="The same, for memories of an agent ('' for none).")] = None,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Change a project's settings; the options not given stay as they are."""
    from .shapes import settings_out

    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name or None
    if custom_instructions is not None:
        changes["custom_instructions"] = custom_instructions
    if agent_custom_instructions is not None:
        changes["agent_custom_instructions"] = agent_custom_instructions
    with _light_session(data_dir, database_url, project) as (engine, pid):
        if custom_categories is not None:
            changes["custom_categories"] = _json_arg(custom_categories, "--custom-categories")
        done = engine.update_project_settings(pid, **changes)
        _print_settings(settings_out(done, engine.project_categories(pid)), as_json)


@app.command()
def mcp(
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None,
) -> None:
    """Serve MCP over stdio (for Claude Desktop, Cursor, ...) in the data dir's default project."""
    from .mcp import run_stdio

    engine = open_engine(settings_for(data_dir, database_url))
    try:
        run_stdio(engine, project)
    finally:
        engine.close()


@app.command("receipts")
def receipts_cmd(
    receipt_id: Annotated[str | None, typer.Argument(help="Show this receipt; without it, list the newest.")] = None,
    limit: Annotated[int, typer.Option(help="How many to list.")] = 50,
    project: Project = None, data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: AsJson = False,
) -> None:
    """Deletion receipts: what each delete removed (ids and counts, never text), by whom and by which route."""
    with _session(data_dir, database_url, project) as (engine, pid):
        if receipt_id is not None:
            found = engine.receipt(pid, receipt_id)
            _print(found, as_json, [{"field": k, "value": json.dumps(v) if isinstance(v, list) else v}
                                    for k, v in found.items()], ("field", "value"))
            return
        listed = engine.receipts(pid, limit)
        _print({"results": listed}, as_json, [{**r, "memory_ids": len(r["memory_ids"])} for r in listed],
               ("id", "at", "actor", "route", "count"))



def main() -> None:
    app()


if __name__ == "__main__":
    main()

