"""The Mem0 platform API beyond memories themselves: feedback, exports, summaries and profiles (what the `mem0ai`
SDK's `feedback`, `create_memory_export`, `get_memory_export`, `get_summary` and the profile methods call).
Included by the Mem0 dialect's router; the rules live in the engine (engine/feedback.py, exports.py, profiles.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from ..engine.profiles import CAPABILITIES
from ..errors import InvalidInput
from ..faces import EngineDep, ProjectDep
from ..models import ENTITY_FIELDS

router = APIRouter(tags=["mem0"])


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class FeedbackRequest(_Open):
    memory_id: Any = None
    feedback: Any = None
    feedback_reason: Any = None


class ExportRequest(_Open):
    schema_: Any = Field(None, alias="schema")
    filters: Any = None
    export_instructions: Any = None
    memory_export_id: Any = None
    user_id: Any = None
    agent_id: Any = None
    app_id: Any = None
    run_id: Any = None

    def combined_filters(self) -> Any:
        """`filters` and the top-level owner ids the SDK sends as keyword arguments, as one filter (AND)."""
        parts = [self.filters] if self.filters is not None else []
        parts += [{f: getattr(self, f)} for f in ENTITY_FIELDS if getattr(self, f) is not None]
        return None if not parts else parts[0] if len(parts) == 1 else {"AND": parts}


class SummaryRequest(_Open):
    filters: Any = None


@router.post("/v1/feedback/")
def feedback(body: FeedbackRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    m = engine.feedback(project, body.memory_id, body.feedback, body.feedback_reason)
    return {"id": m.id, "feedback": m.feedback, "feedback_reason": m.feedback_reason}


@router.post("/v1/exports/")
def create_export(body: ExportRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    record = engine.create_export(project, body.schema_, body.combined_filters(), body.export_instructions)
    return {"message": "Memory export request received. The export will be ready in a few seconds.",
            "id": record["id"]}


@router.post("/v1/exports/get/")
def get_export(body: ExportRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return engine.get_export(project, body.memory_export_id,
                             None if body.memory_export_id is not None else body.combined_filters())


@router.post("/v1/summary/")
def summary(body: SummaryRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return engine.summary(project, body.filters)


# profiles ---------------------------------------------------------------------------------------------------------
def _settings_out(settings: dict[str, Any]) -> dict[str, Any]:
    return {"enabled": settings["enabled"], "capabilities": CAPABILITIES,
            "entities": {"user": {"schema": settings["schema"], "custom_instructions": settings["custom_instructions"]}}}


class ProfileSettingsRequest(_Open):
    enabled: Any = None
    entities: Any = None


class ProfileJobRequest(_Open):
    operation: Any = None
    entity_type: Any = "user"
    entity_id: Any = None
    limit: Any = None


@router.get("/v2/entities/user/{entity_id}/profile/")
def get_profile(entity_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return engine.profile(project, entity_id)


@router.get("/v2/profiles/settings/")
def get_profile_settings(engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return _settings_out(engine.profile_settings(project))


@router.post("/v2/profiles/settings/")
def update_profile_settings(body: ProfileSettingsRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    sent = body.model_fields_set
    if set(body.model_extra or {}):
        raise InvalidInput("Unsupported settings: give enabled and entities.user.schema / custom_instructions")
    changes: dict[str, Any] = {}
    if "enabled" in sent:
        changes["enabled"] = body.enabled
    if "entities" in sent:
        if not isinstance(body.entities, dict) or set(body.entities) - {"user"} \
                or not isinstance(body.entities.get("user", {}), dict):
            raise InvalidInput("entities must be {\"user\": {\"schema\": ..., \"custom_instructions\": ...}}")
        user = body.entities.get("user", {})
        if set(user) - {"schema", "custom_instructions"}:
            raise InvalidInput("Unsupported settings: a user's settings are schema and custom_instructions")
        changes.update(user)
    return _settings_out(engine.update_profile_settings(project, changes))


@router.post("/v2/profiles/jobs/")
def create_profile_job(body: ProfileJobRequest, engine: EngineDep, project: ProjectDep,
                       idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    if body.entity_type != "user":
        raise InvalidInput("entity_type must be 'user'")
    return engine.profile_job(project, body.operation, body.entity_id, body.limit, idempotency_key)


@router.get("/v2/profiles/jobs/{job_id}/")
def get_profile_job(job_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    return engine.get_profile_job(project, job_id)
