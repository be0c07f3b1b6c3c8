"""PostgreSQL connections: the same load on gunicorn with a connection per request
(DATABASE_POOL=0) and with psycopg's pool (the production default). Prints requests/s,
p50/p95/p99 and the connections the database saw opened."""

import argparse
import statistics
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
from scratch import gunicorn, manage, production_env, staff_token  # bench/scratch.py

REPO = Path(__file__).resolve().parent.parent


def sessions(database_url: str, name: str) -> int:
    """Connections ever opened to the database (pg_stat_database, PostgreSQL 14+)."""
    server = database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as monitor:
        monitor.execute("SELECT pg_stat_clear_snapshot()")
        row = monitor.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()
        return row[0]


def run(env: dict[str, str], token: str, requests: int, in_flight: int, workers: int) -> dict:
    with gunicorn(env, "--workers", str(workers)) as (port, _):
        url = f"http://127.0.0.1:{port}/api/manifests?page_size=10"
        request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})

        def get(_: int) -> float:
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            return time.perf_counter() - started

        with ThreadPoolExecutor(in_flight) as pool:
            list(pool.map(get, range(in_flight * 4)))  # warm up every worker
            time.sleep(1.5)  # statistics reach pg_stat_database within a second
            before = sessions(env["DATABASE_URL"], env["DATABASE_URL"].rsplit("/", 1)[1])
            started = time.perf_counter()
            times = sorted(pool.map(get, range(requests)))
            elapsed = time.perf_counter() - started
        time.sleep(1.5)
        after = sessions(env["DATABASE_URL"], env["DATABASE_URL"].rsplit("/", 1)[1])
    quantile = statistics.quantiles(times, n=100)
    return {
        "req/s": requests / elapsed,
        "p50": quantile[49],
        "p95": quantile[94],
        "p99": quantile[98],
        "connections opened": after - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True, help="a scratch PostgreSQL database")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=24)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-connections-"))
    env = production_env(workdir, args.database_url, DJANGO_SECURE_SSL_REDIRECT="0")
    manage(env, "migrate", "--noinput")
    manage(
        env,
        "shell",
        "--command",
        "from manifests import services; "
        "[services.manifest_create(name=f'Bench {i}') for i in range(20)]",
    )
    token = staff_token(env)
    print(
        f"GET /api/manifests, {args.requests} requests, {args.in_flight} in flight, "
        f"gunicorn {args.workers} sync workers"
    )
    for label, pool in [("connection per request", "0"), ("pool (default)", "1")]:
        figures = run(
            {**env, "DATABASE_POOL": pool}, token, args.requests, args.in_flight, args.workers
        )
        print(
            f"{label:24} {figures['req/s']:7.1f} req/s  p50 {figures['p50'] * 1000:6.1f} ms  "
            f"p95 {figures['p95'] * 1000:6.1f} ms  p99 {figures['p99'] * 1000:6.1f} ms  "
            f"connections opened {figures['connections opened']}"
        )


if __name__ == "__main__":
    main()
