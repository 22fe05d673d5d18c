"""`memvault webhooks add | list | remove` against a data folder, checked through a real server on it (which
delivers to a real receiver) and the CLI's own memory commands (recorded as the CLI's in the change log)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from memvault.cli import app
from memvault.delivery import DeliveryOptions
from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.receiver import Receiver
from memvault.testing.server import Server

runner = CliRunner()
ENV = {"MEMVAULT_EMBEDDER": "hashing"}


def cli(data: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)], env=ENV)
    assert result.exit_code == code, result.output
    return result.output


def test_a_webhook_added_by_the_cli_receives_what_the_cli_changes_until_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Receiver() as receiver:
        out = cli(data, "webhooks", "add", receiver.url, "--name", "audit", "--event-type", "memory_add",
                  "--event-type", "memory_delete")
        receiver.secret = out.strip().splitlines()[-1]
        assert receiver.secret.startswith("whsec_") and "audit" in out
        listed = cli(data, "webhooks", "list")
        hook_id = listed.split("\t", 1)[0]
        assert "audit" in listed and "memory_add,memory_delete" in listed and "active" in listed
        assert receiver.secret not in listed
        engine = Engine(SQLiteStore(data / "memvault.db"), HashingEmbedder(), OfflineExtractor())
        with Server(engine, deliveries=DeliveryOptions(poll=0.05)):
            cli(data, "add", "remembered from the command line")
            [delivery] = receiver.wait_for(1)
        [event] = engine.events(engine.project().id)[0]
        engine.close()
        assert delivery.signed and delivery.payload["event_details"]["data"]["memory"] == \
            "remembered from the command line"
        assert event.actor == "cli" and event.key_id is None
        assert cli(data, "webhooks", "remove", hook_id) == f"removed webhook {hook_id}\n"
        assert cli(data, "webhooks", "list") == ""


def test_webhook_commands_refuse_bad_arguments_with_a_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert "http:// or https://" in cli(data, "webhooks", "add", "file:///etc/passwd", code=1)
    assert "memory_add, memory_update" in cli(data, "webhooks", "add", "http://127.0.0.1:9/h", "--event-type",
                                              "memory_exploded", code=1)
    assert "Webhook not found" in cli(data, "webhooks", "remove", "12345", code=1)
    assert "Webhook not found" in cli(data, "webhooks", "remove", "nope", code=1)
