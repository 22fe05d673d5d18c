"""Schemathesis over the server's own `/openapi.json`, with a valid key: no operation ever answers 5xx,
and every answer is JSON."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import Server
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.failures import Failure

MAX_EXAMPLES = 20


class NotJson(Failure):
    def __init__(self, content_type: str) -> None:
        super().__init__(operation="", title="The answer is not JSON", message=f"content-type: {content_type!r}",
                         code="not_json")


def answers_json(ctx: Any, response: Any, case: Case) -> bool | None:
    content_type = response.headers.get("content-type", [""])
    value = content_type[0] if isinstance(content_type, list) else content_type
    if response.status_code != 204 and not value.startswith("application/json"):
        raise NotJson(value)
    return None


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_operation_answers_5xx(server: Server, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Token {server.key('fuzz')}"}
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18  # the Mem0 routes at least
    checks = [schemathesis.checks.not_a_server_error, answers_json]

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Case) -> None:
            response = case.call(base_url=server.url, headers=headers)
            case.validate_response(response, checks=checks)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
