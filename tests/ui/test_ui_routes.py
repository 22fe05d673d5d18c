"""The dashboard's routes over real HTTP, on both stores, without a browser: the page and its files are public and
carry a strict CSP; /ui/api/ needs a key and stays in the key's project; the files hold no inline code, no HTML
sink and no third-party address."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from memvault.testing.clients import fresh_project
from memvault.testing.server import Server

STATIC = Path(__file__).parents[2] / "memvault" / "ui" / "static"


def add(server: Server, key: str, text: str, user_id: str) -> None:
    answer = httpx.post(server.url + "/v3/memories/add/", json={"messages": text, "user_id": user_id, "infer": False},
                        headers={"Authorization": f"Token {key}"})
    assert answer.status_code == 200, answer.text


def test_every_ui_answer_has_a_strict_csp_and_no_framing(server: Server) -> None:
    for path in ["/ui", "/ui/", "/ui/static/app.js", "/ui/static/app.css", "/ui/static/icon.svg"]:
        answer = httpx.get(server.url + path)
        assert answer.status_code in (200, 307), path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(server.url + "/ui/static/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.head(server.url + "/ui").status_code == 200


def test_the_page_needs_no_key_but_its_api_does_and_stays_in_the_keys_project(server: Server) -> None:
    key, other = server.key(fresh_project()), server.key(fresh_project())
    add(server, key, "mine", "alice")
    add(server, other, "theirs", "alice")
    url = server.url + "/ui/api/memories/delete"

    refused = httpx.post(url, json={"filters": {"user_id": "alice"}})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert httpx.post(url, json={"filters": {"user_id": "alice"}},
                      headers={"Authorization": "Bearer mv_wrong"}).status_code == 401

    dry = httpx.post(url, json={"filters": {"user_id": "alice"}, "dry_run": True},
                     headers={"Authorization": f"Bearer {key}"})
    assert dry.status_code == 200 and dry.json()["would_delete"] == 1 and len(dry.json()["memory_ids"]) == 1
    assert httpx.post(url, json={"filters": {"user_id": "alice"}, "dry_run": "yes"},
                      headers={"Authorization": f"Bearer {key}"}).status_code == 400
    answer = httpx.post(url, json={"filters": {"user_id": "alice"}}, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200 and answer.json()["deleted"] == 1  # the dry run deleted nothing
    assert answer.json()["receipt_id"] == answer.headers["x-memvault-receipt"]
    assert answer.headers["x-frame-options"] == "DENY"
    theirs = httpx.post(server.url + "/v2/memories/", json={}, headers={"Authorization": f"Token {other}"})
    assert [m["memory"] for m in theirs.json()] == ["theirs"]  # the other project's alice keeps hers


def test_delete_by_filter_refuses_an_empty_or_malformed_filter(server: Server) -> None:
    key = server.key(fresh_project())
    add(server, key, "stays", "alice")
    headers = {"Authorization": f"Bearer {key}"}
    url = server.url + "/ui/api/memories/delete"
    for body in [{"filters": {}}, {"filters": {"nope": 1}}, {"filters": []}, {}, {"filters": {"AND": []}}]:
        answer = httpx.post(url, json=body, headers=headers)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]
    listed = httpx.post(server.url + "/v2/memories/", json={}, headers={"Authorization": f"Token {key}"})
    assert [m["memory"] for m in listed.json()] == ["stays"]


def test_the_static_files_hold_no_inline_code_no_html_sinks_and_no_third_party_url() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # every script is a file
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)
    scripts = list(STATIC.glob("*.js"))
    assert scripts
    for script in scripts:
        code = script.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", code), script.name
    for file in STATIC.iterdir():
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", file.read_text(encoding="utf-8")), file.name
