"""The chat-history MCP tools (`search_chat_history`, `recall_chat_history`) through the real `mcp` client over a real
server's /mcp, on both stores: what a conversation imported through MemoryPlugin's API says, found and recalled in
the key's project only."""

from __future__ import annotations

import anyio
import httpx

from memvault.testing.mcp_client import call, fails, http_session
from memvault.testing.server import Server


def ingest(server: Server, key: str, cid: str, title: str, day: int, texts: list[str]) -> str:
    conv = {"id": cid, "title": title, "createdAt": f"2025-05-{day:02d}T08:00:00Z",
            "messages": [{"id": f"{cid}-{n}", "role": "human" if n % 2 == 0 else "assistant", "content": t,
                          "createdAt": f"2025-05-{day:02d}T08:{n:02d}:00Z"} for n, t in enumerate(texts)]}
    answer = httpx.post(server.url + "/api/chat-history/ingest/custom-online", json={"conversation": conv},
                        headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["conversationId"])


def test_the_chat_history_tools_search_and_recall_the_keys_project(server: Server) -> None:
    key, other = server.key("chats-a"), server.key("chats-b")
    late = ingest(server, key, "c-late", "Kyoto hotel", 20, ["Which hotel did I book in Kyoto?",
                                                            "You booked the Hotel Kanra in Kyoto"])
    early = ingest(server, key, "c-early", "Kyoto flights", 3, ["My flight to Kyoto lands at Kansai at 7am"])
    ingest(server, other, "c-x", "Not yours", 1, ["Kyoto secrets of another project"])

    async def main() -> None:
        async with http_session(server.url, key) as session:
            found = await call(session, "search_chat_history", query="Kyoto hotel booking", limit=5)
            results = found["results"]
            assert results and results[0]["conversation_id"] == late and "Hotel Kanra" in results[0]["text"]
            assert {r["conversation_id"] for r in results} <= {late, early}
            assert all(0 < r["score"] <= 1 and r["sender"] in ("human", "assistant") for r in results)
            recalled = await call(session, "recall_chat_history", query="Kyoto trip hotel flight", max_tokens=300)
            content = recalled["content"]
            assert content.index("Kansai") < content.index("Hotel Kanra")  # date order
            assert "another project" not in content and 0 < recalled["token_count"] <= 300
            assert [s["conversation_id"] for s in recalled["sources"]] == [early, late]
            assert "invalid argument" in await fails(session, "search_chat_history", query="x", limit=0)
            assert "platform" in await fails(session, "search_chat_history", query="x", platform="not a platform")
            assert "query" in await fails(session, "recall_chat_history", query="   ")
        async with http_session(server.url, other) as session:
            found = await call(session, "search_chat_history", query="Kyoto hotel booking")
            assert [r["title"] for r in found["results"]] == ["Not yours"]

    anyio.run(main)
