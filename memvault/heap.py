"""The C heap of a long-running server (glibc's malloc; on other C libraries these do nothing).

glibc serves every allocation under its mmap threshold from heaps it rarely gives back, and raises that threshold
(up to 32 MB) each time a large block is freed: after the model's load and a few large batches, tens of megabytes a
server freed stay in its RSS for good. `for_server` pins the threshold low, so large blocks (batches, vector pages,
result arrays) come from the system and go back to it when freed; `release_free` hands back what is free now."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MMAP_THRESHOLD = 256 * 1024  # glibc's default before it adapts is 128 KiB


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def for_server() -> None:
    """Blocks of `MMAP_THRESHOLD` or more from the system, for the rest of the process (call it early)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_free() -> None:
    """Give the C heap's free pages back to the system now (malloc_trim)."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
