"""The production server under a mixed load, and under slow clients (issue 15).

Starts the server as `make serve` does (`python -m vidpipe.serve`, after migrate and
collectstatic) on a free loopback port, on a scratch database and media folder, then:
- **mixed load**: `--requests` requests with `--in-flight` at a time: list and detail reads,
  manifest creates and updates, uploads of small PNGs; requests/s, p50/p95/p99, statuses;
- **slow clients**: `--slow` connections (half sending a JSON body, half their headers, one
  byte every `--trickle` seconds), then the time to first byte of a normal
  `GET /api/manifests` (given up after `--ttfb-limit` seconds).
Loopback only; every phase is bounded.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scratch import free_port, manage, production_env, staff_token  # bench/scratch.py

from bench.scratch import REPO, png

HTTPS = "X-Forwarded-Proto: https\r\n"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a scratch database (it gets data!)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--slow", type=int, default=100, help="slow connections (0: none)")
    parser.add_argument("--trickle", type=float, default=5.0, help="seconds between bytes")
    parser.add_argument("--ttfb-limit", type=float, default=60.0)
    parser.add_argument("--workers", default=os.environ.get("WEB_CONCURRENCY", "3"))
    return parser.parse_args()


async def call(port: int, method: str, path: str, token: str, body: bytes = b"", kind=""):
    """One request on its own connection; (status, seconds to the whole answer)."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{HTTPS}Connection: close\r\n"
        f"Authorization: Token {token}\r\n"
    )
    if method != "GET":
        head += f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, time.monotonic() - started, answer


def multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "benchboundary7MA4YWxkTrZu0gW"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="ref.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def seed(port: int, token: str) -> tuple[list[str], list[str]]:
    manifests, assets = [], []
    for index in range(20):
        body = f'{{"name": "Seed {index}", "category": "CHARACTERS"}}'.encode()
        _, _, answer = await call(port, "POST", "/api/manifests", token, body, "application/json")
        manifests.append(json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"])
        for name in ("A", "B"):
            body = f'{{"name": "{name}", "asset_type": "CHARACTER"}}'.encode()
            path = f"/api/manifests/{manifests[-1]}/assets"
            _, _, answer = await call(port, "POST", path, token, body, "application/json")
            assets.append(json.loads(answer.split(b"\r\n\r\n", 1)[1])["id"])
    return manifests, assets


async def mixed_load(port: int, token: str, count: int, in_flight: int) -> None:
    manifests, assets = await seed(port, token)
    gate = asyncio.Semaphore(in_flight)
    images = [multipart(png(index)) for index in range(50)]

    def request(index: int):
        kind = index % 10
        target = manifests[index % len(manifests)]
        if kind < 5:
            return "GET", "/api/manifests", b"", ""
        if kind < 7:
            return "GET", f"/api/manifests/{target}", b"", ""
        if kind == 7:
            body = f'{{"name": "Load {index}", "category": "STYLES"}}'.encode()
            return "POST", "/api/manifests", body, "application/json"
        if kind == 8:
            body = f'{{"description": "edit {index}"}}'.encode()
            return "PATCH", f"/api/manifests/{target}", body, "application/json"
        body, content_type = images[index % len(images)]
        return "POST", f"/api/assets/{assets[index % len(assets)]}/upload", body, content_type

    async def one(index: int):
        async with gate:
            method, path, body, kind = request(index)
            try:
                status, seconds, _ = await call(port, method, path, token, body, kind)
            except OSError:
                status, seconds = 0, 0.0
            return status, seconds

    started = time.monotonic()
    results = await asyncio.gather(*(one(index) for index in range(count)))
    elapsed = time.monotonic() - started
    times = sorted(seconds for status, seconds in results if status)
    cuts = statistics.quantiles(times, n=100)
    statuses = dict(sorted(Counter(status for status, _ in results).items()))
    print(
        f"mixed load: {count} requests, {in_flight} in flight: {count / elapsed:.0f} req/s; "
        f"p50 {cuts[49] * 1000:.0f} ms, p95 {cuts[94] * 1000:.0f} ms, "
        f"p99 {cuts[98] * 1000:.0f} ms; statuses {statuses}"
    )


async def slow_clients(port: int, token: str, count: int, trickle: float, limit: float) -> None:
    opened = []
    for index in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if index % 2:
            head = "GET /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        else:
            head = (
                f"POST /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\n{HTTPS}"
                f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 10000\r\n\r\n"
            )
        writer.write(head.encode())
        opened.append(writer)

    async def keep_trickling():
        while True:
            await asyncio.sleep(trickle)
            for writer in opened:
                if not writer.is_closing():
                    writer.write(b" ")

    trickling = asyncio.create_task(keep_trickling())
    await asyncio.sleep(1)
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\n{HTTPS}Connection: close\r\n"
            f"Authorization: Token {token}\r\n\r\n".encode()
        )
        first = await asyncio.wait_for(reader.read(1), limit)
        ttfb = f"{(time.monotonic() - started) * 1000:.0f} ms" if first else "closed unanswered"
        writer.close()
    except TimeoutError:
        ttfb = f"no answer in {limit:.0f} s"
    trickling.cancel()
    for writer in opened:
        writer.close()
    print(f"slow clients: {count} open (1 byte every {trickle:g} s): time to first byte {ttfb}")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        env = production_env(
            workdir,
            args.database_url,
            DJANGO_SECURE_PROXY_SSL_HEADER="1",
            WEB_CONCURRENCY=args.workers,
        )
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        token = staff_token(env)
        port = free_port()
        env.update(HOST="127.0.0.1", PORT=str(port))
        server = subprocess.Popen(
            [sys.executable, "-m", "vidpipe.serve"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=2)
                except urllib.error.HTTPError:
                    break
                except OSError:
                    time.sleep(0.1)
            print(
                f"server: python -m vidpipe.serve, WEB_CONCURRENCY={args.workers}, "
                f"{'PostgreSQL' if 'postgres' in env['DATABASE_URL'] else 'SQLite'}"
            )
            asyncio.run(mixed_load(port, token, args.requests, args.in_flight))
            if args.slow:
                asyncio.run(slow_clients(port, token, args.slow, args.trickle, args.ttfb_limit))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
