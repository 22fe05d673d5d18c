"""The server's log lines: one JSON object per line (or one plain line of text), written to stderr.

`configure(format, level)` is called once by `memvault serve`; the library and the tests leave logging to their
caller. A line carries `time` (UTC), `level`, `logger`, `message` and the fields its caller gave with `fields(...)`:

    log.info("GET /v1/ping/ 200", extra=fields(request_id="…", status=200))

What is logged is chosen where it is logged (memvault.access): never a key, never a memory's text, never a query
string. Exceptions of memvault's own request handling are logged as their type and frames (memvault.access); a
record that carries `exc_info` (another library's) is written with its traceback under `exc`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

FORMATS = ("json", "text")
LEVELS = ("debug", "info", "warning", "error")
LogFormat = Literal["json", "text"]

_FIELDS = "memvault_fields"  # the LogRecord attribute `fields()` fills


def fields(**values: Any) -> dict[str, Any]:
    """The `extra` of a log call whose values become the line's fields (None values are left out)."""
    return {_FIELDS: {k: v for k, v in values.items() if v is not None}}


def _fields_of(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = getattr(record, _FIELDS, {})
    return found


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _time(record), "level": record.levelname.lower(), "logger": record.name,
                                "message": record.getMessage(), **_fields_of(record)}
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …`, for a person reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in _fields_of(record).items())
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}" + (f" {extra}" if extra else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _NotUvicornsCrashCopy(logging.Filter):
    """uvicorn logs every exception an app raises ("Exception in ASGI application", with its message). memvault's
    access log has written that request's line already, with its request id and without the message (which may
    hold what a user sent): uvicorn's copy is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("uvicorn") and record.getMessage().startswith("Exception in ASGI application"))


def configure(format: LogFormat = "json", level: str = "info") -> None:
    """Every log line of the process to stderr in `format`; memvault's own loggers at `level`, other libraries'
    at warning (or `level` when that is higher). Calling it again replaces what it set."""
    if format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    number = logging.getLevelName(level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else TextFormatter())
    handler.addFilter(_NotUvicornsCrashCopy())
    handler.set_name("memvault")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "memvault"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(number, logging.WARNING))
    logging.getLogger("memvault").setLevel(number)
