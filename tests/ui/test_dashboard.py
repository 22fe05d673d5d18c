"""The dashboard at /ui in a real browser: headless Chromium (Playwright) against a real memvault server on SQLite,
with memories written through the official `mem0ai` SDK. Elements are found by their roles and accessible names.

Playwright's own browser download is not used: the system's `chromium` is. Where there is none (or no playwright),
these tests skip, saying how to install it; with CI=true they fail instead, so CI never passes without them.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mem0 import MemoryClient
from mem0.exceptions import MemoryNotFoundError

from memvault.embed.hashing import HashingEmbedder
from memvault.engine import Engine
from memvault.extract.offline import OfflineExtractor
from memvault.store.sqlite import SQLiteStore
from memvault.testing.clients import fresh_project
from memvault.testing.server import Server

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
HOW = ("the browser tests need Chromium and playwright: `apt-get install chromium` (Debian/Ubuntu; any Chromium or "
       "Chrome on PATH as chromium, chromium-browser or google-chrome) and `pip install -e '.[test]'`")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _not_here(why: str) -> None:
    if IN_CI:
        pytest.fail(f"{why}; with CI=true the browser tests must run: {HOW}", pytrace=False)
    pytest.skip(f"{why}: {HOW}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _not_here("playwright is not installed")
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if binary is None:
        _not_here("no Chromium on PATH")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=binary, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server on SQLite for the module; each test signs in to a project of its own."""
    store = SQLiteStore(tmp_path_factory.mktemp("ui") / "memvault.db")
    with Server(Engine(store, HashingEmbedder(), OfflineExtractor())) as running:
        yield running
    store.close()


class Watched:
    """A page and what it did that it should not: script errors, alert/confirm/prompt dialogs, requests elsewhere."""

    def __init__(self, page: Any, origin: str) -> None:
        self.page, self.errors, self.dialogs, self.foreign = page, [], [], []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: None if request.url.startswith(origin) else self.foreign.append(request.url))


@pytest.fixture
def watched(browser: Any, server: Server) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP)
    made = Watched(context.new_page(), server.url)
    yield made
    context.close()
    assert (made.errors, made.dialogs, made.foreign) == ([], [], [])


@pytest.fixture
def key(server: Server) -> str:
    return server.key(fresh_project())


@pytest.fixture
def sdk(server: Server, key: str) -> Iterator[MemoryClient]:
    client = MemoryClient(api_key=key, host=server.url, client=httpx.Client(timeout=30))
    yield client
    client.client.close()


def add(sdk: MemoryClient, *texts: str, user_id: str = "alice", **extra: Any) -> list[str]:
    """One SDK call per text (so each has its own time), without inference; the ids in order."""
    return [sdk.add([{"role": "user", "content": t}], user_id=user_id, infer=False, **extra)["results"][0]["id"]
            for t in texts]


def sign_in(page: Any, server: Server, key: str) -> None:
    page.goto(server.url + "/ui")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Memories").wait_for()
    page.locator("#page[aria-busy=false]").wait_for()


def go(page: Any, name: str) -> None:
    """Open a page from the navigation and wait until it has loaded (its heading, then aria-busy false)."""
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name).click()
    page.get_by_role("heading", level=1, name=re.compile(name)).wait_for()
    page.locator("#page[aria-busy=false]").wait_for()


def rows(page: Any) -> list[str]:
    """The memory texts of the table, top to bottom (each row's checkbox is named after its memory)."""
    page.locator("tbody").wait_for()
    return [box.get_attribute("aria-label") for box in page.locator("tbody").get_by_role("checkbox").all()]


def expect(page: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(page)


# the browser ------------------------------------------------------------------------------------------------
def test_sign_in_shows_the_memories_added_through_the_mem0_sdk_newest_first(
        watched: Watched, server: Server, key: str, sdk: MemoryClient, tmp_path: Path) -> None:
    add(sdk, "Prefers window seats", "Moved to Lyon in 2024")
    add(sdk, "Allergic to peanuts", user_id="bob", agent_id="nurse", categories=["health"])
    page = watched.page
    sign_in(page, server, key)
    assert rows(page) == ["Allergic to peanuts", "Moved to Lyon in 2024", "Prefers window seats"]
    newest = page.get_by_role("row").filter(has_text="Allergic to peanuts")
    for shown in ["user: bob", "agent: nurse", "General", "health"]:
        expect(newest).to_contain_text(shown)
    assert page.evaluate("sessionStorage.getItem('memvault.key')") == key
    assert key not in page.url
    assert page.context.cookies() == []
    page.screenshot(path=tmp_path / "memories.png", full_page=True)
    assert (tmp_path / "memories.png").stat().st_size > 0

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('memvault.key')") is None


def test_a_wrong_key_shows_an_error_not_a_blank_page(watched: Watched, server: Server, tmp_path: Path) -> None:
    page = watched.page
    page.goto(server.url + "/ui")
    page.get_by_label("API key").fill("mv_wrong-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Invalid API key")
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('memvault.key')") is None
    page.screenshot(path=tmp_path / "sign-in-refused.png")


def test_search_finds_a_memory_with_its_score_and_breakdown(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "Prefers window seats on long flights", "Allergic to peanuts", "Moved to Lyon in 2024")
    page = watched.page
    sign_in(page, server, key)
    page.get_by_label("Search memories").fill("peanuts allergy")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("for “peanuts allergy”")).to_be_visible()
    assert rows(page)[0] == "Allergic to peanuts"
    best = page.get_by_role("row").filter(has_text="Allergic to peanuts")
    expect(best.get_by_role("list", name="Score breakdown")).to_contain_text("keyword")
    assert float(best.locator("td.score strong").inner_text()) > 0


def test_the_table_pages_and_filters_by_bucket_and_category(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    sdk.add([{"role": "user", "content": f"note {i:02}"} for i in range(27)], user_id="alice", infer=False,
            categories=["misc"])  # given: memvault chooses none for them
    add(sdk, "Vegetarian since 2019", user_id="bob", categories=["food"])
    headers = {"Authorization": f"Bearer {key}"}
    travel = httpx.post(server.url + "/api/buckets", json={"name": "Travel"}, headers=headers).json()["id"]
    moved = httpx.post(server.url + "/api/v2/memory/update", headers=headers,
                       json={"memoryIds": [add(sdk, "Window seat, always", categories=["travel"])[0]],
                             "bucketId": travel})
    assert moved.json()["moved"] == 1
    page = watched.page
    sign_in(page, server, key)
    assert len(rows(page)) == 25
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text("Page 2 of 2")).to_be_visible()
    assert len(rows(page)) == 4  # 29 memories, 25 a page
    page.get_by_label("Category", exact=True).fill("food")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("1 memory matching the filters")).to_be_visible()
    assert rows(page) == ["Vegetarian since 2019"]
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_label("Bucket", exact=True).select_option(label="Travel")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("1 memory matching the filters")).to_be_visible()
    assert rows(page) == ["Window seat, always"]


def test_select_three_delete_confirm_and_they_are_gone_for_the_sdk(
        watched: Watched, server: Server, key: str, sdk: MemoryClient, tmp_path: Path) -> None:
    ids = add(sdk, "fact one", "fact two", "fact three", "fact four", "fact five")
    page = watched.page
    sign_in(page, server, key)
    for text in ["fact one", "fact three", "fact five"]:
        page.get_by_role("checkbox", name=text, exact=True).check()
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete 3 memories?")
    page.screenshot(path=tmp_path / "confirm-delete.png")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("Deleted 3, failed 0.").first).to_be_visible()
    expect(page.get_by_role("checkbox", name="fact one", exact=True)).to_have_count(0)
    assert rows(page) == ["fact four", "fact two"]
    shown = page.get_by_text("Receipt ")
    expect(shown).to_be_visible()
    receipt = httpx.get(server.url + f"/v1/receipts/{shown.inner_text().removeprefix('Receipt ')}/",
                        headers={"Authorization": f"Token {key}"}).json()
    assert sorted(receipt["memory_ids"]) == sorted([ids[0], ids[2], ids[4]]) and "fact" not in str(receipt)

    assert {m["memory"] for m in sdk.get_all(filters={"user_id": "alice"})["results"]} == {"fact two", "fact four"}
    for gone in (ids[0], ids[2], ids[4]):
        with pytest.raises(MemoryNotFoundError):
            sdk.get(gone)


def test_select_all_on_this_page_then_cancel_deletes_nothing(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "kept one", "kept two")
    page = watched.page
    sign_in(page, server, key)
    page.get_by_label("Select all on this page").check()
    assert all(box.is_checked() for box in page.locator("tbody").get_by_role("checkbox").all())
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete 2 memories?")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert sdk.get_all(filters={"user_id": "alice"})["count"] == 2


def test_delete_by_filter_shows_the_count_first(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "bob one", "bob two", user_id="bob")
    add(sdk, "alice stays")
    page = watched.page
    sign_in(page, server, key)
    page.get_by_label("User", exact=True).fill("bob")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("2 memories matching the filters")).to_be_visible()
    page.get_by_role("button", name="Delete all matching").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete 2 memories matching the filters?")
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_text("Deleted 2 memories matching the filters.")).to_be_visible()
    assert {m["memory"] for m in sdk.get_all(filters={"user_id": "*"})["results"]} == {"alice stays"}


def test_open_a_memory_read_its_history_edit_its_text_and_move_it(
        watched: Watched, server: Server, key: str, sdk: MemoryClient, tmp_path: Path) -> None:
    [mid] = add(sdk, "Lives in Porto", metadata={"source": "chat"})
    httpx.post(server.url + "/api/buckets", json={"name": "Travel"}, headers={"Authorization": f"Bearer {key}"})
    page = watched.page
    sign_in(page, server, key)
    page.get_by_role("button", name="Lives in Porto").click()
    dialog = page.get_by_role("dialog", name="Memory")
    expect(dialog).to_contain_text('"source": "chat"')
    dialog.get_by_label("Memory text").fill("Lives in Lyon")
    dialog.get_by_role("button", name="Save text").click()
    expect(dialog.locator(".history")).to_contain_text("UPDATE")
    expect(dialog.locator(".history")).to_contain_text("Lives in Porto")
    dialog.get_by_label("Move to bucket").select_option(label="Travel")
    dialog.get_by_role("button", name="Move", exact=True).click()
    expect(dialog.locator(".facts")).to_contain_text("Travel")
    page.screenshot(path=tmp_path / "memory.png")
    dialog.get_by_role("button", name="Close").click()

    got = sdk.get(mid)
    assert (got["memory"], got["bucket"]) == ("Lives in Lyon", "Travel")
    assert rows(page) == ["Lives in Lyon"]


def test_an_xss_memory_renders_as_text_and_runs_nothing(
        watched: Watched, server: Server, key: str, sdk: MemoryClient, tmp_path: Path) -> None:
    hostile = ["<script>window.__pwned = 1; alert('script')</script>",
               "<img src=x onerror=\"window.__pwned = 2; alert('img')\">"]
    add(sdk, *hostile, user_id="<b>eve</b>", metadata={"note": "<img src=x onerror=alert(3)>"})
    page = watched.page
    sign_in(page, server, key)
    for text in hostile:
        expect(page.get_by_role("button", name=text, exact=True)).to_have_text(text)
    expect(page.get_by_text("user: <b>eve</b>")).to_have_count(2)
    page.get_by_role("button", name=hostile[1], exact=True).click()
    expect(page.get_by_role("dialog")).to_contain_text("<img src=x onerror=alert(3)>")
    page.get_by_role("button", name="Close").click()
    go(page, "Users")
    expect(page.get_by_role("cell", name="<b>eve</b>", exact=True)).to_be_visible()
    page.screenshot(path=tmp_path / "xss.png")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0 and page.locator("b").count() == 0
    # the `watched` fixture checks that no dialog opened, no script error happened and nothing was fetched elsewhere


def test_another_projects_memories_never_appear(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "mine: the red notebook")
    their_key = server.key(fresh_project())
    theirs = MemoryClient(api_key=their_key, host=server.url, client=httpx.Client(timeout=30))
    try:
        add(theirs, "theirs: the blue notebook", user_id="mallory")
    finally:
        theirs.client.close()
    made = httpx.post(server.url + "/api/buckets", json={"name": "Secret plans"},
                      headers={"Authorization": f"Bearer {their_key}"})
    assert made.status_code == 200
    page = watched.page
    sign_in(page, server, key)
    assert rows(page) == ["mine: the red notebook"]
    page.get_by_label("Search memories").fill("blue notebook")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("for “blue notebook”")).to_be_visible()
    assert rows(page) == ["mine: the red notebook"]
    page.get_by_role("button", name="Clear search").click()
    go(page, "Users")
    expect(page.get_by_role("cell", name="alice", exact=True)).to_be_visible()
    go(page, "Buckets")
    expect(page.get_by_role("cell", name="General", exact=True)).to_be_visible()
    for page_name in ["Users", "Buckets", "Memories"]:
        go(page, page_name)
        content = page.content()  # the whole DOM: text, attributes, the owners offered in the filters' lists
        assert "blue notebook" not in content and "mallory" not in content and "Secret plans" not in content


def test_users_and_buckets_pages_manage_owners_and_buckets(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "alice one", "alice two")
    add(sdk, "bob one", user_id="bob")
    page = watched.page
    sign_in(page, server, key)
    go(page, "Users")
    alice = page.get_by_role("row").filter(has=page.get_by_role("cell", name="alice", exact=True))
    expect(alice.locator("td.number")).to_have_text("2")
    page.get_by_role("button", name="Delete memories of user alice").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete 2 memories of user alice?")
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("cell", name="alice", exact=True)).to_have_count(0)
    assert [m["memory"] for m in sdk.get_all(filters={"user_id": "*"})["results"]] == ["bob one"]

    go(page, "Buckets")
    page.get_by_label("Bucket name").fill("Recipes")
    page.get_by_role("button", name="Create bucket").click()
    page.get_by_role("button", name="Rename bucket Recipes").click()
    page.get_by_role("dialog").get_by_label("New name").fill("Cooking")
    page.get_by_role("dialog").get_by_role("button", name="Rename").click()
    expect(page.get_by_role("cell", name="Cooking", exact=True)).to_be_visible()
    page.get_by_role("button", name="Delete bucket Cooking").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("cell", name="Cooking", exact=True)).to_have_count(0)
    expect(page.get_by_role("cell", name="General", exact=True)).to_be_visible()


def test_the_keyboard_alone_signs_in_opens_a_memory_and_closes_it(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    add(sdk, "Reached by keyboard")
    page = watched.page
    page.goto(server.url + "/ui")
    page.keyboard.type(key)  # the key field has the focus when the page opens
    page.keyboard.press("Enter")
    button = page.get_by_role("button", name="Reached by keyboard")
    for _ in range(40):
        if button.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the memory's button was never reached with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Memory")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280x800", "390x844"])
def test_a_screenshot_of_every_page(browser: Any, server: Server, key: str, sdk: MemoryClient, tmp_path: Path,
                                    size: dict[str, int]) -> None:
    add(sdk, "Prefers vegetarian food", categories=["food"])
    add(sdk, "Plays the cello on Sundays", user_id="bob")
    context = browser.new_context(viewport=size)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(server.url + "/ui")
        page.screenshot(path=tmp_path / "sign-in.png")
        sign_in(page, server, key)
        for name in ["Memories", "Users", "Buckets", "Activity"]:
            go(page, name)
            expect(page.locator("tbody tr").first).to_be_visible()
            page.screenshot(path=tmp_path / f"{name.lower()}.png", full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]  # only tables scroll
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Memories").click()
        page.get_by_role("button", name="Prefers vegetarian food").click()
        expect(page.get_by_role("dialog", name="Memory")).to_contain_text("History")
        page.screenshot(path=tmp_path / "memory.png")
        assert errors == []
    finally:
        context.close()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "activity.png", "buckets.png", "memories.png", "memory.png", "sign-in.png", "users.png"]


def test_activity_shows_the_change_log_and_the_webhooks(
        watched: Watched, server: Server, key: str, sdk: MemoryClient) -> None:
    [kept, gone] = add(sdk, "Likes green tea", "Secret <b>plan</b>")
    sdk.update(kept, text="Likes jasmine tea")
    sdk.delete(gone)
    sdk.create_webhook(url="http://127.0.0.1:9/hook", name="crm-sync", project_id=sdk.project_id,
                       event_types=["memory_add", "memory_delete"])
    page = watched.page
    sign_in(page, server, key)
    go(page, "Activity")
    changes = page.get_by_role("table", name="Changes")
    expect(changes.get_by_role("row")).to_have_count(5)  # the header, two adds, an update, a delete
    expect(changes).to_contain_text("memory_update")
    expect(changes).to_contain_text("Likes jasmine tea")
    expect(changes).not_to_contain_text("Secret")  # a deleted memory's text is gone from the log too
    page.get_by_label("Change", exact=True).select_option("memory_delete")
    expect(changes.get_by_role("row")).to_have_count(2)
    expect(changes).to_contain_text(gone)
    hooks = page.get_by_role("table", name="Webhooks")
    expect(hooks).to_contain_text("crm-sync")
    expect(hooks).to_contain_text("memory_add, memory_delete")
