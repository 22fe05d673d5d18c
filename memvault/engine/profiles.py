"""User profiles (Mem0's `/v2/entities/user/{id}/profile/`, profile settings and profile jobs).

Offline, a profile is read from the user's live memories when it is asked for, so it is always current and never
holds a deleted memory's words: the single-valued facts the user stated about themselves (memvault.decide.slots:
name, where they live, job, employer, age, relationship, diet, favourites; the newest statement wins) become fields,
and every other memory is listed under its first category. With a settings `schema`, the profile keeps the fields
the schema names and is checked against it (`status` "failed" with the reason when it does not fit). With a writer
(memvault.write) and a settings `schema`, the model fills the schema from the memories and the project's and the
settings' instructions instead; jsonschema checks it, it is asked once more when it does not fit, then `status` is
"failed" with the reason. Filled when asked for, like the offline one: never kept, so never stale after a delete.

A job (`generate` / `sample`) is recorded so the SDK can poll it, and is answered done at once: there is nothing to
wait for. A repeated `Idempotency-Key` answers the job it made (`replayed`: true).
"""

from __future__ import annotations

import uuid
from typing import Any

import jsonschema

from .. import filters as F
from .. import validate as V
from ..decide.slots import SELF, slots
from ..errors import ENTITY_NOT_FOUND, InvalidInput, NotFound
from ..models import Memory, utcnow
from .exports import MAX_INSTRUCTIONS_CHARS, MAX_SCHEMA_BYTES, Exports, check_schema

MAX_PROFILE_MEMORIES = 2000
MAX_SAMPLE = 10
_SETTINGS, _JOB, _KEYED = "profile_settings", "profile_job", "profile_job_key"
DEFAULT_SETTINGS: dict[str, Any] = {"enabled": True, "schema": None, "custom_instructions": None}
CAPABILITIES = {"generation": "offline", "schema": True, "custom_instructions": False}


def profile_of(memories: list[Memory]) -> dict[str, Any]:
    """The offline profile of a user from their live memories, newest first."""
    fields: dict[str, str] = {}
    by_category: dict[str, list[str]] = {}
    for m in memories:  # newest first: the first statement of a slot seen is the one that holds
        own = [s for s in slots(m.text) if s.subject == SELF]
        for s in own:
            fields.setdefault(s.name.replace(" ", "_"), s.value)
        if not own:
            by_category.setdefault(m.categories[0] if m.categories else "misc", []).append(m.text)
    return {**fields, "categories": {k: list(reversed(v)) for k, v in sorted(by_category.items())}}


class Profiles(Exports):
    # settings ------------------------------------------------------------------------------------------------------
    def profile_settings(self, project_id: str) -> dict[str, Any]:
        return {**DEFAULT_SETTINGS, **(self.store.get_record(project_id, _SETTINGS, "user", utcnow()) or {})}

    def profile_capabilities(self) -> dict[str, Any]:
        """How profiles are made here: offline, or by the writer's model (which follows custom instructions)."""
        if self.writer is None:
            return CAPABILITIES
        return {"generation": self.writer.model, "schema": True, "custom_instructions": True}

    def update_profile_settings(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Only the keys given change; a None schema or instructions clears them."""
        settings = self.profile_settings(project_id)
        if "enabled" in changes:
            if not isinstance(changes["enabled"], bool):
                raise InvalidInput("enabled must be true or false")
            settings["enabled"] = changes["enabled"]
        if "schema" in changes:
            schema = changes["schema"]
            if schema is not None:
                schema = check_schema(schema)
                props = schema.get("properties")
                if not isinstance(props, dict) or not props:
                    raise InvalidInput("a profile schema must have properties")
                missing = [k for k, p in props.items() if not isinstance(p, dict) or not p.get("description")]
                if missing:
                    raise InvalidInput(f"every property of a profile schema needs a description: {V.shown(missing[0])}")
            settings["schema"] = schema
        if "custom_instructions" in changes:
            text = changes["custom_instructions"]
            if text is not None:
                V.string(text, "custom_instructions", MAX_INSTRUCTIONS_CHARS)
            settings["custom_instructions"] = text
        self.store.put_record(project_id, _SETTINGS, "user", settings, utcnow())
        return settings

    # profiles ------------------------------------------------------------------------------------------------------
    def profile(self, project_id: str, user_id: Any) -> dict[str, Any]:
        """{profile, status, entity_type, entity_id, updated_at, generation_count}; NotFound for a user the project
        has never had a memory of."""
        V.identifier(user_id, "user id")
        memories = self._owned(project_id, user_id)
        settings = self.profile_settings(project_id)
        answer: dict[str, Any] = {"entity_type": "user", "entity_id": user_id, "profile": None, "error": None,
                                  "generation_count": len(self.store.list_records(project_id, f"{_JOB}:{user_id}",
                                                                                  utcnow(), 1000)),
                                  "updated_at": max(m.updated_at for m in memories).isoformat() if memories else None}
        if not settings["enabled"]:
            return {**answer, "status": "not_enabled"}
        if not memories:
            return {**answer, "status": "insufficient_data"}
        schema = settings["schema"]
        if schema is not None and self.writer is not None:
            filled, reason = self._written(project_id, schema, memories, settings["custom_instructions"])
            if reason is not None:
                return {**answer, "status": "failed", "error": reason}
            return {**answer, "status": "succeeded", "profile": filled}
        profile = profile_of(memories)
        if schema is not None:
            profile = {k: v for k, v in profile.items() if k in schema["properties"]}
            try:
                jsonschema.validate(profile, schema)
            except jsonschema.ValidationError as exc:
                return {**answer, "status": "failed", "error": f"the profile does not fit the schema: {exc.message[:200]}"}
        return {**answer, "status": "succeeded", "profile": profile}

    def _owned(self, project_id: str, user_id: str) -> list[Memory]:
        if not self.store.list(project_id, F.eq("user_id", user_id), 1).items:  # superseded and expired ones count
            raise NotFound("Entity not found", code=ENTITY_NOT_FOUND)
        return self.store.list(project_id, self._live(F.eq("user_id", user_id)), MAX_PROFILE_MEMORIES).items

    # jobs ----------------------------------------------------------------------------------------------------------
    def profile_job(self, project_id: str, operation: Any, entity_id: Any = None, limit: Any = None,
                    idempotency_key: str | None = None) -> dict[str, Any]:
        """Start a `trigger` (one user) or `sample` (up to `limit` users) job; done at once (see the module)."""
        now = utcnow()
        if idempotency_key is not None:
            V.string(idempotency_key, "Idempotency-Key", 200)
            known = self.store.get_record(project_id, _KEYED, idempotency_key, now)
            if known is not None:
                job = self.store.get_record(project_id, _JOB, known["job_id"], now)
                if job is not None:
                    return {**job, "replayed": True}
        if operation == "trigger":
            V.identifier(entity_id, "entity_id")
            if not entity_id:
                raise InvalidInput("entity_id is required")
            users = [entity_id]
            self._owned(project_id, entity_id)
        elif operation == "sample":
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SAMPLE):
                raise InvalidInput(f"limit must be between 1 and {MAX_SAMPLE}")
            users = [e.name for e in self.store.entities(project_id) if e.type == "user"][:limit or 3]
        else:
            raise InvalidInput("operation must be 'trigger' or 'sample'")
        if not self.profile_settings(project_id)["enabled"]:
            raise InvalidInput("profiles are not enabled for this project")
        job_id = str(uuid.uuid4())
        results = {u: self.profile(project_id, u)["status"] for u in users}
        job = {"job_id": job_id, "status": "succeeded", "status_url": f"/v2/profiles/jobs/{job_id}/",
               "operation": operation, "entity_type": "user", "entity_count_reserved": len(users),
               "event_id": job_id, "replayed": False, "entity_ids": users, "sampled": len(users),
               "job": {"id": job_id, "status": "succeeded", "total": len(users), "completed": len(users),
                       "succeeded": sum(s == "succeeded" for s in results.values()),
                       "failed": sum(s == "failed" for s in results.values()),
                       "skipped": sum(s not in ("succeeded", "failed") for s in results.values()),
                       "enumeration_complete": True, "created_at": now.isoformat(), "updated_at": now.isoformat()}}
        self.store.put_record(project_id, _JOB, job_id, job, now)
        for u in users:
            self.store.put_record(project_id, f"{_JOB}:{u}", job_id, {"job_id": job_id}, now)
        if idempotency_key is not None:
            self.store.put_record(project_id, _KEYED, idempotency_key, {"job_id": job_id}, now)
        return job

    def get_profile_job(self, project_id: str, job_id: Any) -> dict[str, Any]:
        if not isinstance(job_id, str):
            raise InvalidInput("job id must be a string")
        job = self.store.get_record(project_id, _JOB, V.string(job_id, "job id", 100), utcnow())
        if job is None:
            raise NotFound("Job not found")
        return job


__all__ = ["MAX_SCHEMA_BYTES", "Profiles", "profile_of"]
