"""The door: every value that enters memvault is checked here, once, whatever face it came through.

The engine calls these helpers on every argument it takes (text, queries, owner ids, metadata, categories,
bucket names and descriptions, sources, dates, filters, the messages of an add, import records), so REST,
MCP, the CLI, the library and import share one set of rules, and the stores can trust what they are given.

Rules (each refusal is an `InvalidInput`, HTTP 400):
  * every string is valid Unicode that UTF-8 can encode: a lone surrogate (U+D800..U+DFFF) is refused, and the
    message never repeats the bad string (repeating it could itself fail to encode);
  * no string holds a NUL character (PostgreSQL text cannot store one, and a key "k\\0" must never stand for
    "k"); ids, names and keys hold no control characters either, and bucket names no invisible ones
    (zero-width, bidi controls: the Unicode categories Cc, Cf, Co, Cn, Zl, Zp);
  * dates lie in the years MIN_YEAR..MAX_YEAR (UTC);
  * metadata is a JSON object with string keys, at most MAX_METADATA_DEPTH levels deep, of finite numbers
    that fit in 64 bits, within `Limits.max_metadata_bytes` as compact UTF-8 JSON;
  * every field has a bound: owner ids, categories (each and how many), bucket names and descriptions, sources,
    metadata keys, filter values, and the number of conditions in one filter.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import InvalidInput

MIN_YEAR = 1000
MAX_YEAR = 9999
MAX_METADATA_DEPTH = 32
MAX_KEY_CHARS = 255  # a metadata key, also as a filter key
MAX_OWNER_ID_CHARS = 255  # user_id, agent_id, app_id, run_id
MAX_CATEGORY_CHARS = 100
MAX_CATEGORIES = 50  # per memory
MAX_BUCKET_NAME_CHARS = 100
MAX_BUCKET_DESCRIPTION_CHARS = 1000
MAX_SOURCE_CHARS = 255
MAX_ROLE_CHARS = 64
MAX_FILTER_CONDITIONS = 100  # conditions in one filter, the owners given beside it included
MAX_FILTER_VALUES = 1000  # values in one in / nin list
MAX_FILTER_VALUE_CHARS = 2000  # one string compared in a filter

_INVISIBLE = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})


def shown(value: str, limit: int = 40) -> str:
    """A value fit to repeat in a message: only once it passed `text`; cut to `limit` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def text(value: str, what: str) -> str:
    """`value` as it is, if it is valid Unicode without NUL; else InvalidInput naming `what` (never `value`)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode: it holds a lone surrogate (U+D800..U+DFFF)") from None
    if "\x00" in value:
        raise InvalidInput(f"{what} must not contain a NUL character")
    return value


def string(value: Any, what: str, max_chars: int) -> str:
    """A string of at most `max_chars` characters, valid as `text`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    text(value, what)
    if len(value) > max_chars:
        raise InvalidInput(f"{what} is longer than {max_chars} characters")
    return value


def identifier(value: Any, what: str, max_chars: int = MAX_OWNER_ID_CHARS) -> str:
    """An id or a key: a string as `string` without control characters."""
    string(value, what, max_chars)
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def optional_identifier(value: Any, what: str, max_chars: int = MAX_OWNER_ID_CHARS) -> str | None:
    return None if value is None else identifier(value, what, max_chars)


def name(value: Any, what: str, max_chars: int) -> str:
    """A name shown to people (a bucket's): trimmed, not empty, without invisible characters."""
    string(value, what, max_chars)
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if any(unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise InvalidInput(f"{what} must not contain invisible or control characters (zero-width, bidi controls...)")
    if len(name_key(value)) > 4 * max_chars:  # NFKC can expand a character up to 18 times; the key is indexed
        raise InvalidInput(f"{what} is too long once case-folded")
    return value


def name_key(value: str) -> str:
    """The form two names are compared in: Unicode case-folded and NFKC-normalized ("Straße" and "STRASSE",
    "Émile" and "émile" have one key)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def categories(values: Any) -> list[str]:
    """Non-empty category strings (blank ones dropped, as before), each bounded, at most MAX_CATEGORIES."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput("categories must be a list of strings")
    out = []
    for value in values:
        identifier(value, "a category", MAX_CATEGORY_CHARS)
        if value.strip():
            out.append(value)
    if len(out) > MAX_CATEGORIES:
        raise InvalidInput(f"categories: at most {MAX_CATEGORIES} per memory, got {len(out)}")
    return out


def date(value: datetime | None, what: str) -> datetime | None:
    """The date in UTC (one without a time zone is taken as UTC), in the years MIN_YEAR..MAX_YEAR."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a date")
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last representable UTC date
        raise InvalidInput(f"{what}: dates must lie in the years {MIN_YEAR} to {MAX_YEAR}") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(f"{what}: dates must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    return value


def flag(value: Any, what: str) -> bool:
    """A true/false switch: a bool, nothing else (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise InvalidInput(f"{what} must be true or false")
    return value


def number(value: int | float, what: str) -> int | float:
    """A JSON number both stores keep exactly: finite, and an integer within 64 bits."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{what}: numbers must be finite")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"{what}: integers must fit in 64 bits")
    return value


def metadata(value: Any, max_bytes: int) -> dict[str, Any]:
    """A JSON object within the depth and size bounds, every string and key valid."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be an object")
    json_value(value, "metadata")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > max_bytes:
        raise InvalidInput(f"metadata is larger than {max_bytes} bytes")
    return value


def json_value(value: Any, what: str, depth: int = 1) -> None:
    """Any JSON value within the rules of metadata: valid strings and keys, depth, finite 64-bit numbers."""
    if isinstance(value, dict):
        if depth > MAX_METADATA_DEPTH:
            raise InvalidInput(f"{what} is nested deeper than {MAX_METADATA_DEPTH} levels")
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{what}: keys must be strings")
            identifier(key, f"a {what} key", MAX_KEY_CHARS)
            json_value(item, what, depth + 1)
    elif isinstance(value, list):
        if depth > MAX_METADATA_DEPTH:
            raise InvalidInput(f"{what} is nested deeper than {MAX_METADATA_DEPTH} levels")
        for item in value:
            json_value(item, what, depth + 1)
    elif isinstance(value, str):
        text(value, f"a {what} value")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, (int, float)):
        number(value, what)
    else:
        raise InvalidInput(f"{what} must be plain JSON")
