"""memvault: a self-hosted memory layer for AI apps and agents.

The library's public face: `Memory` (mem0's `Memory` methods and shapes over memvault's engine), the
engine itself for finer control, and the errors every face raises.
"""

from .config import Settings
from .engine import Engine
from .errors import Conflict, InvalidInput, MemvaultError, NotFound, TooLarge, Unauthorized, Unavailable
from .factory import build_engine
from .library import Memory

__version__ = "0.1.0"

__all__ = [
    "Conflict",
    "Engine",
    "InvalidInput",
    "Memory",
    "MemvaultError",
    "NotFound",
    "Settings",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "build_engine",
]
