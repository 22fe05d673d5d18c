"""`memvault project show | set` on SQLite (a data dir) and PostgreSQL (a database URL), in-process through typer's
CliRunner: settings round-trip, the memories added after a change use the project's categories, bad input is a
message and exit code 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from memvault.cli import app
from memvault.engine import DEFAULT_CATEGORIES
from memvault.testing.stores import BACKENDS, make_postgres

runner = CliRunner()


@pytest.fixture(params=BACKENDS)
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """The CLI options that name an empty database of each backend."""
    if request.param == "sqlite":
        yield ["--data-dir", str(tmp_path / "data")]
        return
    store = make_postgres(request)
    yield ["--database-url", store.url]  # type: ignore[attr-defined]
    store.close()


def run(where: list[str], *args: str, code: int = 0) -> Result:
    result = runner.invoke(app, [*args, *where], env={"MEMVAULT_EMBEDDER": "hashing"})
    assert result.exit_code == code, result.output
    return result


def js(where: list[str], *args: str) -> Any:
    return json.loads(run(where, *args, "--json").stdout)


def test_project_show_and_set_round_trip(where: list[str]) -> None:
    fresh = js(where, "project", "show", "--project", "acme")
    assert (fresh["name"], fresh["custom_categories"], fresh["custom_instructions"]) == ("acme", None, None)
    assert [next(iter(c)) for c in fresh["categories"]] == [name for name, _ in DEFAULT_CATEGORIES]
    done = js(where, "project", "set", "--project", "acme", "--custom-categories",
              '[{"pets": "Pets and animals: dogs, cats"}, {"misc": "Anything else"}]',
              "--custom-instructions", "Remember pets.", "--name", "Acme app")
    assert (done["name"], done["custom_instructions"]) == ("Acme app", "Remember pets.")
    assert js(where, "project", "show", "--project", "acme") == done
    assert js(where, "project", "show", "--project", "other")["custom_categories"] is None  # only acme changed
    [memory] = js(where, "add", "My dog Rex loves walks", "--project", "acme")["results"]
    assert memory["categories"] and set(memory["categories"]) <= {"pets", "misc"}
    shown = run(where, "project", "show", "--project", "acme").stdout
    assert "categories (custom):" in shown and "pets: Pets and animals: dogs, cats" in shown
    cleared = js(where, "project", "set", "--project", "acme", "--custom-categories", "[]", "--custom-instructions", "")
    assert (cleared["custom_categories"], cleared["custom_instructions"], cleared["name"]) == (None, None, "Acme app")


@pytest.mark.parametrize(("args", "message"), [
    ((), "nothing to update"),
    (("--custom-categories", '"food"'), "must be a list"),
    (("--custom-categories", "[{"), "must be JSON"),
    (("--custom-categories", json.dumps([{f"c{i}": "x"} for i in range(51)])), "at most 50"),
])
def test_project_set_refuses_bad_input_with_a_message(where: list[str], args: tuple[str, ...], message: str) -> None:
    result = run(where, "project", "set", *args, code=1)
    assert message in result.output and "Traceback" not in result.output
    assert js(where, "project", "show")["custom_categories"] is None
