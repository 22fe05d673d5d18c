"""Projects and API keys: a key is made for a project, shown once in clear, stored as a hash, and names its project."""

from __future__ import annotations

import hashlib
import secrets

from .. import validate as V
from ..errors import InvalidInput, NotFound, Unauthorized
from ..models import ApiKey, Project, utcnow
from .core import EngineCore

DEFAULT_PROJECT = "default"
KEY_PREFIX = "mv_"
MAX_KEY_NAME_CHARS = 200


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Keys(EngineCore):
    def project(self, name: str | None = None) -> Project:
        name = V.identifier(name or DEFAULT_PROJECT, "project name").strip()
        if not name:
            raise InvalidInput("project name must not be empty")
        return self.store.ensure_project(name)

    def create_key(self, project: str | None = None, name: str = "") -> tuple[ApiKey, str]:
        """Make a key for a project (created on first use). The clear key is returned once, never stored."""
        name = V.identifier(name, "key name", MAX_KEY_NAME_CHARS)
        proj = self.project(project)
        clear = KEY_PREFIX + secrets.token_urlsafe(32)
        return self.store.add_key(proj.id, hash_key(clear), name, clear[:11]), clear

    def list_keys(self, project: str | None = None) -> list[ApiKey]:
        return self.store.list_keys(self.project(project).id if project else None)

    def revoke_key(self, key_id: str) -> ApiKey:
        key_id = V.identifier(key_id, "key id")
        key = self.store.revoke_key(key_id, utcnow())
        if key is None:
            raise NotFound(f"no key {V.shown(key_id)}")
        return key

    @property
    def authenticates_locally(self) -> bool:
        """Whether checking a key is a local read of microseconds (the store reads a local file), cheap enough for an
        event loop to make itself rather than hand to a worker thread. The check is the same either way: every
        request reads the key's row, so a revoked key is refused from the next request on, in every process."""
        return self.store.local_reads

    def authenticate(self, clear_key: str | None) -> str:
        """The project id a key belongs to; Unauthorized for a missing, unknown or revoked key."""
        return self.authenticate_key(clear_key).project_id

    def authenticate_key(self, clear_key: str | None) -> ApiKey:
        """The key (its id, name and project: never the clear key) a clear key is; Unauthorized as `authenticate`."""
        if not clear_key:
            raise Unauthorized("Missing API key")
        if not isinstance(clear_key, str) or not clear_key.isascii():  # keys are ASCII: anything else is no key
            raise Unauthorized("Invalid API key")
        key = self.store.find_key(hash_key(clear_key.strip()))
        if key is None or key.revoked_at is not None:
            raise Unauthorized("Invalid API key")
        return key
