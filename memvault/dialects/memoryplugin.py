"""The MemoryPlugin API: request → engine call → MemoryPlugin's shapes. Errors are `{"error": msg}`."""

from __future__ import annotations

from fastapi import APIRouter

from ..http import register_error_shape

router = APIRouter(tags=["memoryplugin"])
register_error_shape("/api/", lambda status, message: {"error": message})
