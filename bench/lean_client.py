"""A cheap load generator: N keep-alive HTTP/1.1 connections from one asyncio loop, writing raw requests, each
connection sending its share of the bodies one after the other. Run as its own process so that its CPU is
counted apart from the bench's and the server's (with clients on another machine it would not count at all).

    python bench/lean_client.py <url> <key> <bodies.jsonl> <connections>

Reads one JSON body per line (POSTed to /v3/memories/add/), builds every request's bytes before the clock
starts, then prints one JSON line: {"n", "seconds", "cpu_s"} — the wall time from the first request sent to the
last answer, and this process's CPU over the same span. Any answer but 200 stops it with an error.
Measured here: ~0.1 ms of CPU per request where the bench's httpx threads took 0.9-1.1 ms.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from urllib.parse import urlsplit

PATH = "/v3/memories/add/"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def requests(host: str, key: str, bodies: list[bytes]) -> list[bytes]:
    return [(f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Token {key}\r\n"
             f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies]


async def connection(host: str, port: int, share: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in share:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"answer: {head.splitlines()[0].decode(errors='replace')}")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            await reader.readexactly(length)
    finally:
        writer.close()


async def run(url: str, key: str, bodies: list[bytes], connections: int) -> dict[str, float]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payloads = requests(f"{host}:{port}", key, bodies)
    shares = [payloads[i::connections] for i in range(connections)]
    cpu0, t0 = cpu(), time.perf_counter()
    await asyncio.gather(*(connection(host, port, s) for s in shares))
    return {"n": len(bodies), "seconds": time.perf_counter() - t0, "cpu_s": cpu() - cpu0}


def main() -> None:
    url, key, path, connections = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(path, "rb") as f:
        bodies = [line.rstrip(b"\n") for line in f if line.strip()]
    print(json.dumps(asyncio.run(run(url, key, bodies, connections))), flush=True)


if __name__ == "__main__":
    main()
