"""Categories and project settings through the official `mem0ai` 2.2.1 MemoryClient, unchanged, against a real memvault
server on both stores: memories carry categories, the caller's win, a project's custom categories replace the
defaults, settings round-trip through `client.project` and the older `get_project` / `update_project`, another
project's ids are a 404, and every malformed setting is a 400 (never a 500) that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError, ValidationError

from memvault.engine import DEFAULT_CATEGORIES
from memvault.testing.clients import fresh_project, module_server
from memvault.testing.server import Server

server = module_server
DEFAULT_NAMES = {name for name, _ in DEFAULT_CATEGORIES}
FACTS = ["I play tennis every Saturday", "My sister Anna is a nurse", "I'm flying to Tokyo in April",
         "I love jazz, especially Miles Davis", "I'm allergic to peanuts", "I use a MacBook Pro for work",
         "My favourite film is Spirited Away", "The parcel should arrive on Tuesday"]


def connect(server: Server, project: str | None = None) -> MemoryClient:
    return MemoryClient(api_key=server.key(project or fresh_project()), host=server.url,
                        client=httpx.Client(timeout=30))


@pytest.fixture
def client(server: Server) -> Iterator[MemoryClient]:
    made = connect(server)
    yield made
    made.client.close()


def project_url(client: MemoryClient, org_id: str | None = None, project_id: str | None = None) -> str:
    return f"/api/v1/orgs/organizations/{org_id or client.org_id}/projects/{project_id or client.project_id}/"


def categories_of(client: MemoryClient, user_id: str) -> dict[str, list[str]]:
    return {m["memory"]: m["categories"] for m in client.get_all(filters={"user_id": user_id})["results"]}


# categories on memories ---------------------------------------------------------------------------------------------
def test_inferred_and_plain_memories_carry_default_categories(client: MemoryClient) -> None:
    client.add("I love jazz. I moved to Lyon last year.", user_id="dana")
    client.add([{"role": "user", "content": f} for f in FACTS], user_id="plain", infer=False)
    for user in ("dana", "plain"):
        found = categories_of(client, user)
        assert found and all(1 <= len(c) <= 3 and set(c) <= DEFAULT_NAMES for c in found.values()), found
        assert all("misc" not in c or c == ["misc"] for c in found.values())


def test_categories_the_caller_gives_win(client: MemoryClient) -> None:
    client.add("I love jazz. I moved to Lyon last year.", user_id="dana", categories=["mine"])
    client.add("I play tennis", user_id="plain", infer=False, categories=["sport", "weekend"])
    client.add("I play tennis", user_id="chosen", infer=False)  # the same text without: memvault chooses
    assert set(map(tuple, categories_of(client, "dana").values())) == {("mine",)}
    assert list(categories_of(client, "plain").values()) == [["sport", "weekend"]]
    [chosen] = categories_of(client, "chosen").values()
    assert chosen and set(chosen) <= DEFAULT_NAMES


def test_category_filters_select_exactly_the_memories_that_carry_an_assigned_category(client: MemoryClient) -> None:
    client.add([{"role": "user", "content": f} for f in FACTS], user_id="dana", infer=False)
    found = categories_of(client, "dana")
    assigned = {c for cats in found.values() for c in cats}
    assert assigned
    for category in assigned:
        carrying = {text for text, cats in found.items() if category in cats}
        for condition in ({"in": [category, "no-such-category"]}, {"contains": category}):
            got = client.get_all(filters={"AND": [{"user_id": "dana"}, {"categories": condition}]})["results"]
            assert {m["memory"] for m in got} == carrying, (category, condition)
        hits = client.search("anything", filters={"AND": [{"user_id": "dana"}, {"categories": {"in": [category]}}]},
                             top_k=50)["results"]
        assert {h["memory"] for h in hits} <= carrying and hits


def test_custom_categories_replace_the_defaults(client: MemoryClient) -> None:
    custom = [{"pets": "Pets and animals: dogs, cats, vets"}, {"travel_plans": "Trips, flights and hotels"},
              {"misc": "Anything else"}]
    answer = client.project.update(custom_categories=custom)
    assert answer["custom_categories"] == custom
    client.add([{"role": "user", "content": f} for f in FACTS], user_id="dana", infer=False)
    client.add("My cat Miso sleeps all day. I'm flying to Tokyo.", user_id="dana")
    found = categories_of(client, "dana")
    assert all(c and set(c) <= {"pets", "travel_plans", "misc"} for c in found.values()), found
    assert client.project.get()["categories"] == custom


# settings -----------------------------------------------------------------------------------------------------------
def test_project_settings_round_trip_through_the_sdk(client: MemoryClient) -> None:
    fresh = client.project.get()
    assert (fresh["id"], fresh["custom_categories"], fresh["custom_instructions"],
            fresh["agent_custom_instructions"]) == (client.project_id, None, None, None)
    assert [next(iter(c)) for c in fresh["categories"]] == [name for name, _ in DEFAULT_CATEGORIES]
    client.project.update(custom_instructions="Remember food preferences only.",
                          agent_custom_instructions="Remember the tools an agent uses.",
                          custom_categories=[{"food": "What I eat"}])
    got = client.project.get(fields=["custom_instructions", "agent_custom_instructions", "custom_categories"])
    assert got == {"custom_instructions": "Remember food preferences only.",
                   "agent_custom_instructions": "Remember the tools an agent uses.",
                   "custom_categories": [{"food": "What I eat"}]}
    client.update_project(custom_instructions="Now this.")  # the older methods speak the same exchange
    assert client.get_project(fields=["custom_instructions"]) == {"custom_instructions": "Now this."}
    assert client.project.get()["custom_categories"] == [{"food": "What I eat"}]  # a patch leaves the rest


def test_a_name_is_set_and_cleared_over_http(server: Server, client: MemoryClient) -> None:
    headers = {"Authorization": f"Token {client.api_key}"}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        named = http.patch(project_url(client), json={"name": "My app", "org_id": client.org_id, "decay": True})
        assert named.status_code == 200 and named.json()["name"] == "My app"
        cleared = http.patch(project_url(client), json={"name": None})
        assert cleared.status_code == 200 and cleared.json()["name"] != "My app"


def test_another_projects_ids_are_not_found(server: Server, client: MemoryClient) -> None:
    other = connect(server)
    try:
        other.project.update(custom_instructions="theirs")
        client.project.config.org_id = other.org_id  # this key, their ids
        client.project.config.project_id = other.project_id
        with pytest.raises(MemoryNotFoundError):
            client.project.get()
        with pytest.raises(MemoryNotFoundError):
            client.project.update(custom_instructions="overwritten?")
        assert other.project.get()["custom_instructions"] == "theirs"
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {client.api_key}"}) as http:
            for org_id, project_id in ((client.org_id, other.project_id), (other.org_id, client.org_id),
                                       ("not-an-id", client.org_id)):
                answer = http.get(f"/api/v1/orgs/organizations/{org_id}/projects/{project_id}/")
                assert answer.status_code == 404 and answer.json()["detail"] == "Project not found"
    finally:
        other.client.close()


@pytest.mark.parametrize("categories", [
    "food", ["food"], [{"a": "x", "b": "y"}], [{"food": 3}], [{"": "x"}], [{"Food": "a"}, {"food": "b"}],
    [{f"c{i}": "x"} for i in range(51)], [{"c" * 101: "x"}], {"food": "What I eat"},
])
def test_malformed_custom_categories_are_a_400_through_the_sdk(client: MemoryClient, categories: Any) -> None:
    client.project.update(custom_categories=[{"kept": "as it was"}])
    with pytest.raises(ValidationError):
        client.project.update(custom_categories=categories)
    assert client.project.get()["custom_categories"] == [{"kept": "as it was"}]


@pytest.mark.parametrize(("method", "body", "params"), [
    ("PATCH", b'"custom_categories"', None),
    ("PATCH", b"[1, 2]", None),
    ("PATCH", b"{not json", None),
    ("PATCH", b"{}", None),
    ("PATCH", b'{"multilingual": true}', None),
    ("PATCH", b'{"custom_instructions": 5}', None),
    ("PATCH", b'{"custom_instructions": "' + b"x" * 20_001 + b'"}', None),
    ("PATCH", b'{"agent_custom_instructions": {"a": 1}}', None),
    ("PATCH", b'{"name": ""}', None),
    ("PATCH", b'{"name": "a\\u0000b"}', None),
    ("PATCH", b'{"custom_categories": [{"a\\ud800": "lone surrogate"}]}', None),
    ("GET", None, {"fields": ["custom_instructions", "nope"]}),
])
def test_every_bad_settings_request_is_a_400_and_changes_nothing(server: Server, client: MemoryClient, method: str,
                                                                  body: bytes | None, params: Any) -> None:
    client.project.update(custom_instructions="kept")
    before = client.project.get()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Token {client.api_key}",
                                                    "Content-Type": "application/json"}) as http:
        answer = http.request(method, project_url(client), content=body, params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"]
    assert client.project.get() == before
