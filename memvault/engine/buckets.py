"""Buckets: a project's named folders of memories; the General bucket is always there and keeps its name."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .. import filters as F
from .. import validate as V
from ..errors import EMPTY_BATCH, Conflict, InvalidInput
from ..models import DEFAULT_BUCKET, Bucket, utcnow
from .core import check_uuid
from .receipts import Receipts


class Buckets(Receipts):
    def list_buckets(self, project_id: str) -> list[Bucket]:
        self._bucket(project_id, None)
        return self.store.list_buckets(project_id)

    def get_bucket(self, project_id: str, bucket: str) -> Bucket:
        return self._bucket(project_id, bucket)

    def create_bucket(self, project_id: str, name: Any, description: Any = "") -> Bucket:
        name = V.name(name, "name", V.MAX_BUCKET_NAME_CHARS)
        if description is not None:
            V.string(description, "description", V.MAX_BUCKET_DESCRIPTION_CHARS)
        self._bucket(project_id, None)
        bucket = Bucket(str(uuid.uuid4()), project_id, name, description or "", utcnow())
        return self.store.create_bucket(bucket)

    def rename_bucket(self, project_id: str, bucket: str, name: Any = None, description: Any = None) -> Bucket:
        """Rename a bucket and/or change its description; a field left None stays as it is."""
        target = self._bucket(project_id, bucket)
        if name is None and description is None:
            raise InvalidInput("nothing to update: give name or description")
        name = target.name if name is None else V.name(name, "name", V.MAX_BUCKET_NAME_CHARS)
        if V.name_key(target.name) == V.name_key(DEFAULT_BUCKET) and V.name_key(name) != V.name_key(DEFAULT_BUCKET):
            raise Conflict(f"the {DEFAULT_BUCKET} bucket cannot be renamed")
        if description is not None:
            V.string(description, "description", V.MAX_BUCKET_DESCRIPTION_CHARS)
        return self.store.rename_bucket(project_id, target.id, name, description)

    def delete_bucket(self, project_id: str, bucket: str, memories: str) -> int:
        """Delete a bucket. `memories` says what happens to its memories: "move" (to General) or "delete"."""
        if memories not in ("move", "delete"):
            raise InvalidInput('say what to do with the bucket\'s memories: "move" (to General) or "delete"')
        target = self._bucket(project_id, bucket)
        if V.name_key(target.name) == V.name_key(DEFAULT_BUCKET):
            raise Conflict(f"the {DEFAULT_BUCKET} bucket cannot be deleted")
        general = self._bucket(project_id, None)
        held = [] if memories == "move" else self._ids_where(project_id, F.eq("bucket", target.id))
        count = self.store.delete_bucket(project_id, target.id, general.id if memories == "move" else None, utcnow())
        if memories == "delete":
            self.watchers.memories_deleted(count)
            self._receipt(project_id, held)  # the ids it held just before: one added meanwhile goes unnamed
        return count

    def move_memories(self, project_id: str, ids: Sequence[Any], bucket: str) -> tuple[list[str], list[str]]:
        """Move memories to a bucket; returns (moved, rejected) ids. Nothing moves if the bucket is unknown."""
        if not ids:
            raise InvalidInput("give at least one memory id to move", code=EMPTY_BATCH)
        self._batch(ids, "memory ids")
        for i in ids:  # a rejected id is answered back: it must be valid text
            if isinstance(i, str):
                V.text(i, "a memory id")
        target = self._bucket(project_id, bucket)
        valid = []
        rejected = []
        for raw in dict.fromkeys(ids):
            try:
                valid.append(check_uuid(raw))
            except InvalidInput:
                rejected.append(str(raw))
        moved = self.store.move_memories(project_id, valid, target.id, utcnow())
        done = set(moved)
        rejected += [i for i in valid if i not in done]
        return moved, rejected
