"""Each dialect words the engine's error codes its own way, over real HTTP: Mem0 says "Memory not found!",
MemoryPlugin "Memory not found"; an empty batch is refused by the engine and worded by the face; a bucket a
filter names but the project has not is a 404 on Mem0's routes as on MemoryPlugin's."""

from __future__ import annotations

import pytest

from memvault.testing.clients import (  # noqa: F401 (the *_fixture names register pytest fixtures)
    MP,
    Mem0,
    mem0_fixture,
    module_server,
    mp_fixture,
    project_fixture,
)

server = module_server


def test_an_empty_batch_is_refused_in_each_dialects_words(mp: MP, mem0: Mem0) -> None:
    kept = mp.add("kept")
    answer = mp.http.post("/memories/bulk-delete", json={"memoryIds": []})
    assert (answer.status_code, answer.json()) == (400, {"error": "memoryIds must not be empty"})
    answer = mem0.http.request("DELETE", "/v1/batch/", json={"memories": []})
    assert (answer.status_code, answer.json()["error"]) == (400, "memories must not be empty")
    answer = mem0.http.put("/v1/batch/", json={"memories": []})
    assert (answer.status_code, answer.json()["error"]) == (400, "memories must not be empty")
    assert mp.texts() == {"kept"} and kept


@pytest.mark.parametrize("filters", [{"bucket": "nope"}, {"OR": [{"bucket": "General"}, {"bucket": {"in": ["nope"]}}]}])
def test_an_unknown_bucket_in_a_filter_is_404_on_every_dialect(mp: MP, mem0: Mem0, filters: dict[str, object]) -> None:
    mem0.add("a general fact")
    for path, body in (("/v2/memories/", {"filters": filters}), ("/v3/memories/", {"filters": {**filters, "user_id": "alice"}}),
                       ("/v2/memories/search/", {"query": "fact", "filters": filters})):
        answer = mem0.http.post(path, json=body)
        assert (answer.status_code, answer.json()["error"]) == (404, "Bucket not found"), path
    answer = mp.http.get("/v2/memory", params={"bucketId": "nope"})
    assert (answer.status_code, answer.json()) == (404, {"error": "Bucket not found"})
    assert [m["memory"] for m in mem0.list({"bucket": "general"})] == ["a general fact"]
