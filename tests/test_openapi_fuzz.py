"""Schemathesis over the server's own `/openapi.json`, with a valid key: no operation ever answers 5xx,
and every answer is JSON. Positive cases follow the schema; negative ones break it on purpose."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok

from memvault.testing.server import Server

MAX_EXAMPLES = 20


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_operation_answers_5xx(server: Server, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Token {server.key('fuzz')}"}
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results)  # the schema itself is valid
    assert len(operations) >= 18  # the Mem0 routes at least

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Case) -> None:
            response = case.call(base_url=server.url, headers=headers)
            case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
            content_type = response.headers.get("content-type") or [""]
            value = content_type[0] if isinstance(content_type, list) else content_type
            assert value.startswith("application/json"), (value, response.text)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
