"""The Mem0 platform API beyond memories themselves: feedback, exports, summaries and profiles (what the `mem0ai`
SDK's `feedback`, `create_memory_export`, `get_memory_export`, `get_summary` and the profile methods call).
Included by the Mem0 dialect's router; the rules live in the engine (engine/feedback.py, exports.py, profiles.py,
receipts.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

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


@router.post("/v1/feedback/", summary="Give feedback on a memory")
def feedback(body: FeedbackRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Sets a memory's feedback (POSITIVE, NEGATIVE or VERY_NEGATIVE; null takes it back) and its reason. The last
    one counts; it is shown on the memory and filterable (`feedback`), and does not change search ranking."""
    m = engine.feedback(project, body.memory_id, body.feedback, body.feedback_reason)
    return {"id": m.id, "feedback": m.feedback, "feedback_reason": m.feedback_reason}


@router.post("/v1/exports/", summary="Create a memory export")
def create_export(body: ExportRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Records an export of the memories `filters` (or the owner ids given) select, in the shape of `schema` (a JSON
    Schema, checked here). Kept for 7 days; its data is read when it is fetched, so it never holds a deleted memory."""
    record = engine.create_export(project, body.schema_, body.combined_filters(), body.export_instructions)
    return {"message": "Memory export request received. The export will be ready in a few seconds.",
            "id": record["id"]}


@router.post("/v1/exports/get/", summary="Get a memory export")
def get_export(body: ExportRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """The export `memory_export_id` names (or the newest one made with the same filters), filled with the live
    memories it selects now: under the schema's one top-level array property, else under `memories`. With a model
    configured (MEMVAULT_LLM_URL and _MODEL), the model fills the schema, checked with jsonschema and asked once more
    when it does not fit; then `{"id", "status": "FAILED", "error"}`. 503 when the model's service fails."""
    return engine.get_export(project, body.memory_export_id,
                             None if body.memory_export_id is not None else body.combined_filters())


@router.post("/v1/summary/", summary="Summarise memories")
def summary(body: SummaryRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """The live memories `filters` select (at least one owner), grouped by category as bullet lines, with their
    count, the count per category and the time of the latest change. With a model configured, `summary` is the
    model's written summary of them (the other fields unchanged); 503 when its service fails."""
    return engine.summary(project, body.filters)


# profiles ---------------------------------------------------------------------------------------------------------
def _settings_out(settings: dict[str, Any], capabilities: dict[str, Any]) -> dict[str, Any]:
    return {"enabled": settings["enabled"], "capabilities": capabilities,
            "entities": {"user": {"schema": settings["schema"], "custom_instructions": settings["custom_instructions"]}}}


class ProfileSettingsRequest(_Open):
    enabled: Any = None
    entities: Any = None


class ProfileJobRequest(_Open):
    operation: Any = None
    entity_type: Any = "user"
    entity_id: Any = None
    limit: Any = None


@router.get("/v2/entities/user/{entity_id}/profile/", summary="Get a user's profile")
def get_profile(entity_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """A user's profile, read from their live memories now: the facts they stated about themselves (name, where they
    live, job, diet, ...) as fields, the rest by category. `status`: succeeded, failed (the settings' schema does not
    fit), not_enabled or insufficient_data. With a model configured and a settings schema, the model fills the schema
    (checked with jsonschema, one retry, else failed with the reason). 404 for a user the project has no memory of."""
    return engine.profile(project, entity_id)


@router.get("/v2/profiles/settings/", summary="Get profile settings")
def get_profile_settings(engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Whether profiles are on for the project, and the user profile's schema and custom instructions."""
    return _settings_out(engine.profile_settings(project), engine.profile_capabilities())


@router.post("/v2/profiles/settings/", summary="Update profile settings")
def update_profile_settings(body: ProfileSettingsRequest, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """Changes only what is given: `enabled`, and under `entities.user` the `schema` (a JSON Schema whose every
    property has a description; null clears it) and `custom_instructions`. Anything else is a 400."""
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
    return _settings_out(engine.update_profile_settings(project, changes), engine.profile_capabilities())


@router.post("/v2/profiles/jobs/", summary="Start a profile job")
def create_profile_job(body: ProfileJobRequest, engine: EngineDep, project: ProjectDep,
                       idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """`trigger` (one user, `entity_id`) or `sample` (up to `limit` users, 1-10): done at once, since a profile is
    read from the memories when asked for. The same `Idempotency-Key` answers the job it made (`replayed`: true)."""
    if body.entity_type != "user":
        raise InvalidInput("entity_type must be 'user'")
    return engine.profile_job(project, body.operation, body.entity_id, body.limit, idempotency_key)


@router.get("/v2/profiles/jobs/{job_id}/", summary="Get a profile job")
def get_profile_job(job_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """A profile job of the key's project (404 otherwise), as `job`: status and counts."""
    return engine.get_profile_job(project, job_id)


@router.get("/v1/receipts/{receipt_id}/", summary="Get a deletion receipt")
def get_receipt(receipt_id: str, engine: EngineDep, project: ProjectDep) -> dict[str, Any]:
    """The receipt a delete answered with (`receipt_id`, `X-Memvault-Receipt`): `{id, at, actor, route, count,
    memory_ids}`, never a text or metadata. 404 for another project's or an unknown receipt."""
    return engine.receipt(project, receipt_id)
