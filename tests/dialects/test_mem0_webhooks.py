"""Webhooks through the official mem0ai SDK (create_webhook, get_webhooks, update_webhook, delete_webhook) over real
HTTP, on both stores: the secret is shown once, each project sees and changes only its own, bad input is a 400
that names the problem."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mem0 import MemoryClient

from memvault.testing.server import Server

TYPES = ["memory_add", "memory_update", "memory_delete"]


@pytest.fixture
def client(server: Server) -> Iterator[MemoryClient]:
    made = MemoryClient(api_key=server.key("hooks"), host=server.url)
    yield made
    made.client.close()


def test_a_webhook_is_created_listed_updated_and_deleted_through_the_sdk(client: MemoryClient) -> None:
    project = client.project_id
    assert project and client.get_webhooks(project) == []
    made = client.create_webhook("http://127.0.0.1:9/hook", "crm sync", project, TYPES)
    assert isinstance(made["webhook_id"], int) and made["is_active"] is True
    assert made["secret"].startswith("whsec_") and (made["name"], made["event_types"]) == ("crm sync", TYPES)
    [listed] = client.get_webhooks(project)
    assert listed["webhook_id"] == made["webhook_id"] and "secret" not in listed  # shown once, at creation
    changed = client.update_webhook(made["webhook_id"], name="crm", url="https://example.com/hook",
                                    event_types=["memory_delete"])
    assert (changed["name"], changed["url"], changed["event_types"]) == ("crm", "https://example.com/hook",
                                                                          ["memory_delete"])
    only_name = client.update_webhook(made["webhook_id"], name="crm 2")
    assert (only_name["name"], only_name["event_types"]) == ("crm 2", ["memory_delete"])
    assert client.delete_webhook(made["webhook_id"]) == {"message": "Webhook deleted successfully"}
    assert client.get_webhooks(project) == []
    with pytest.raises(Exception, match="Webhook not found"):
        client.delete_webhook(made["webhook_id"])


BAD = [
    ({"url": "ftp://example.com/hook"}, "http:// or https://"),
    ({"url": "http://example.com/" + "a" * 2000}, "longer than 2000"),
    ({"url": "http:///nohost"}, "http:// or https://"),
    ({"url": None}, "url must be a string"),
    ({"event_types": ["memory_add", "memory_exploded"]}, "memory_add, memory_update, memory_delete"),
    ({"event_types": []}, "event_types must be a non-empty list"),
    ({"event_types": "memory_add"}, "event_types must be a non-empty list"),
    ({"name": ""}, "name must not be empty"),
]


@pytest.mark.parametrize(("change", "says"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_webhooks_are_a_400_naming_the_problem(server: Server, change: dict, says: str) -> None:
    key = server.key("hooks")
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {key}"}, timeout=30) as http:
        project = http.get("/v1/ping/").json()["project_id"]
        body = {"url": "http://127.0.0.1:9/hook", "name": "n", "event_types": TYPES, **change}
        answer = http.post(f"/api/v1/webhooks/projects/{project}/", json=body)
        assert answer.status_code == 400, answer.text
        assert says in answer.json()["detail"]
        made = http.post(f"/api/v1/webhooks/projects/{project}/", json={**body, **{k: v for k, v in {
            "url": "http://127.0.0.1:9/hook", "name": "n", "event_types": TYPES}.items() if k in change}})
        assert made.status_code == 200, made.text
        answer = http.put(f"/api/v1/webhooks/{made.json()['webhook_id']}/", json=change)
        if None in change.values():  # an update leaves out what it does not give
            assert answer.status_code == 200, answer.text
        else:
            assert answer.status_code == 400 and says in answer.json()["detail"]
        assert http.get(f"/api/v1/webhooks/projects/{project}/").json()[0]["url"] == "http://127.0.0.1:9/hook"


def test_a_project_sees_and_changes_only_its_own_webhooks(server: Server) -> None:
    mine, theirs = (httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key(p)}"}, timeout=30)
                    for p in ("hooks", "elsewhere"))
    with mine, theirs:
        their_project = theirs.get("/v1/ping/").json()["project_id"]
        my_project = mine.get("/v1/ping/").json()["project_id"]
        hook = theirs.post(f"/api/v1/webhooks/projects/{their_project}/",
                           json={"url": "http://127.0.0.1:9/h", "name": "theirs", "event_types": TYPES}).json()
        assert mine.get(f"/api/v1/webhooks/projects/{their_project}/").status_code == 404
        assert mine.post(f"/api/v1/webhooks/projects/{their_project}/",
                         json={"url": "http://127.0.0.1:9/h", "name": "x", "event_types": TYPES}).status_code == 404
        assert mine.put(f"/api/v1/webhooks/{hook['webhook_id']}/", json={"name": "mine now"}).status_code == 404
        assert mine.delete(f"/api/v1/webhooks/{hook['webhook_id']}/").status_code == 404
        assert mine.delete("/api/v1/webhooks/not-a-number/").status_code == 404
        assert mine.get(f"/api/v1/webhooks/projects/{my_project}/").json() == []
        assert [h["name"] for h in theirs.get(f"/api/v1/webhooks/projects/{their_project}/").json()] == ["theirs"]
        assert theirs.get(f"/api/v1/webhooks/projects/{their_project}/", headers={"Authorization": ""}).status_code == 401


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/h", "http://localhost/h", "http://10.1.2.3/h",
                                 "http://169.254.169.254/latest", "http://[::1]/h", "http://[::ffff:127.0.0.1]/h",
                                 "http://192.168.0.10/h", "http://0.0.0.0/h"])
def test_with_private_targets_denied_a_private_url_is_refused_at_creation(server: Server, url: str) -> None:
    server.engine.configure_events(deny_private=True)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {server.key('hooks')}"},
                          timeout=30) as http:
            project = http.get("/v1/ping/").json()["project_id"]
            answer = http.post(f"/api/v1/webhooks/projects/{project}/",
                               json={"url": url, "name": "n", "event_types": TYPES})
            assert answer.status_code == 400 and "private" in answer.json()["detail"], answer.text
    finally:
        server.engine.configure_events(deny_private=False)
