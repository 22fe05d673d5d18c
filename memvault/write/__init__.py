"""The writer: a chat model that writes what a caller reads (an export filled to a schema, a summary, a profile, a
synthesis of recalled passages). Built from the same settings as the llm extractor; None when no model is
configured, and then every path that would use it stays offline."""

from __future__ import annotations

from .llm import Writer

__all__ = ["Writer"]
