"""The `memvault` command: serve, keys, and the rest. Translation only: every rule is in the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .config import Settings
from .engine import Engine

app = typer.Typer(help="memvault: a self-hosted memory layer for AI apps and agents.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

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


def open_engine(settings: Settings, *, light: bool = False) -> Engine:
    """An engine over the configured store. `light` skips loading the embedding model (key commands)."""
    from .factory import build_engine

    if light:
        from .embed.hashing import HashingEmbedder
        from .extract.offline import OfflineExtractor

        return build_engine(settings, embedder=HashingEmbedder(), extractor=OfflineExtractor())
    return build_engine(settings)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the HTTP server (Mem0 and MemoryPlugin APIs, MCP at /mcp)."""
    import uvicorn

    from .http import create_app

    settings = settings_for(data_dir, database_url, host=host, port=port)
    engine = open_engine(settings)
    engine.project()  # the default project exists from the start
    where = settings.database_url and "PostgreSQL" or str(settings.sqlite_path.resolve())
    typer.echo(f"memvault: data in {where}; listening on http://{settings.host}:{settings.port}", err=True)
    try:
        uvicorn.run(create_app(engine, max_body_bytes=settings.max_body_bytes), host=settings.host,
                    port=settings.port, log_level="warning")
    finally:
        engine.close()


@keys_app.command("create")
def keys_create(
    project: Annotated[str | None, typer.Option(help="Project (tenant) the key belongs to; made on first use.")] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line; only its hash is stored."""
    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        key, clear = engine.create_key(project, name)
        proj = engine.store.get_project(key.project_id)
        typer.echo(f"created key {key.prefix}… (id {key.id}) for project {proj.name if proj else key.project_id}")
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
        for key in engine.list_keys(project):
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
    from .errors import NotFound

    engine = open_engine(settings_for(data_dir, database_url), light=True)
    try:
        key = engine.revoke_key(key_id)
        typer.echo(f"revoked {key.prefix}… ({key.id})")
    except NotFound as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.close()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
