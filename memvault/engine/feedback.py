"""Feedback: what a person says of one memory (Mem0's POSITIVE, NEGATIVE, VERY_NEGATIVE). The last one counts; None
takes it back. It is kept on the memory (a delete takes it along), shown with it and filterable (`feedback`); it does
not change how search ranks (an app that wants a memory gone deletes it, or filters it out by its feedback)."""

from __future__ import annotations

from typing import Any

from .. import validate as V
from ..errors import InvalidInput
from ..models import Memory
from .core import EngineCore, check_uuid, memory_not_found

FEEDBACK_VALUES = ("POSITIVE", "NEGATIVE", "VERY_NEGATIVE")
MAX_FEEDBACK_REASON_CHARS = 2000


class Feedback(EngineCore):
    def feedback(self, project_id: str, memory_id: Any, feedback: Any, reason: Any = None) -> Memory:
        mid = check_uuid(memory_id)
        if feedback is not None:
            if not isinstance(feedback, str) or feedback.upper() not in FEEDBACK_VALUES:
                raise InvalidInput(f"feedback must be one of {', '.join(FEEDBACK_VALUES)} or null")
            feedback = feedback.upper()
        if reason is not None:
            if not isinstance(reason, str):
                raise InvalidInput("feedback_reason must be a string")
            reason = V.string(reason, "feedback_reason", MAX_FEEDBACK_REASON_CHARS).strip() or None
        found = self.store.set_feedback(project_id, mid, feedback, reason if feedback is not None else None)
        if found is None:
            raise memory_not_found()
        return found
