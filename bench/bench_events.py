"""Events and webhooks: the cost of writing the event in the request (asset creation through
the API with no subscription, and with one, in one run; with one, also when every request
has to queue the delivery run, as when an idle worker takes each at once), and the delivery
throughput of one worker to a local receiver (events/s), on the database backend and on the
Redis backend."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from scratch import REPO, configure, manage  # bench/scratch.py

OVERHEAD_TARGET = 0.10
REDIS_URL = "redis://127.0.0.1:6379/13"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="asset creations per phase")
    parser.add_argument(
        "--events", type=int, default=500, help="events delivered per backend (0: skip that part)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--database-url",
        help="a scratch database to use instead of a temporary SQLite file (it gets data!)",
    )
    return parser.parse_args()


def request_overhead(args: argparse.Namespace) -> bool:
    """Median time of POST /api/manifests/{id}/assets with no subscription, with one, and with
    one when each request has to queue the delivery run: the phases interleaved request by
    request (their order turning), so that the machine's load weighs on each alike (one
    process, one database)."""
    from django.contrib.auth import get_user_model
    from django_tasks_db.models import DBTaskResult
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from manifests import services
    from manifests.models import EventCounter, WebhookDelivery, WebhookSubscription

    user, _ = get_user_model().objects.get_or_create(username="bench", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    manifest = services.manifest_create(name="Bench events")
    url = f"/api/manifests/{manifest.pk}/assets"
    WebhookSubscription.objects.all().delete()  # those of an earlier run (--database-url)
    # No worker runs here: deliveries are made in the request and a run queued unless one
    # waits already; "a run each" clears the flag first, as if an idle worker had taken the
    # last run at once.
    subscription, _ = services.webhook_create(
        url="http://127.0.0.1:9/hooks", event_types=["asset.created"]
    )
    subscriptions = WebhookSubscription.objects.filter(pk=subscription.pk)
    phases = {
        "no subscription": lambda: subscriptions.update(active=False),
        "one subscription": lambda: (
            subscriptions.update(active=True),
            EventCounter.objects.update(delivery_run_queued=True),
        ),
        "one subscription, a run each": lambda: (
            subscriptions.update(active=True),
            EventCounter.objects.update(delivery_run_queued=False),
        ),
    }
    names = list(phases)
    runs_before = DBTaskResult.objects.count()
    per_phase: dict[str, list[float]] = {name: [] for name in names}
    for created in range(args.requests):
        turn = created % len(names)
        for name in names[turn:] + names[:turn]:
            phases[name]()
            started = time.perf_counter()
            response = client.post(url, {"name": f"{name} {created}", "asset_type": "CHARACTER"})
            per_phase[name].append(time.perf_counter() - started)
            assert response.status_code == 201, response.content
    medians = {name: statistics.median(times) for name, times in per_phase.items()}
    base = medians[names[0]]
    overhead = medians[names[1]] / base - 1
    print(f"asset creation, {args.requests} requests per phase, interleaved (median):")
    print(f"  {names[0]:29}: {base * 1000:.2f} ms")
    print(
        f"  {names[1]:29}: {medians[names[1]] * 1000:.2f} ms ({overhead:+.1%}; target "
        f"{OVERHEAD_TARGET:.0%}: a run waits)"
    )
    print(
        f"  {names[2]:29}: {medians[names[2]] * 1000:.2f} ms "
        f"({medians[names[2]] / base - 1:+.1%}: each request queues the run)"
    )
    print(
        f"  {WebhookDelivery.objects.count()} deliveries made, "
        f"{DBTaskResult.objects.count() - runs_before} delivery runs queued"
    )
    return overhead <= OVERHEAD_TARGET


class Sink(BaseHTTPRequestHandler):
    times: list[float] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        Sink.times.append(time.perf_counter())

    def log_message(self, *args):
        pass


def throughput(backend: str, events: int, database_url: str | None) -> float | None:
    """Events/s one `webhook_worker` delivers to a local receiver, first to last receipt."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": database_url or f"sqlite:///{Path(scratch) / 'throughput.sqlite3'}",
            "MEDIA_ROOT": str(Path(scratch) / "media"),
            "VIDPIPE_TASKS_BACKEND": backend,
            "VIDPIPE_TASKS_REDIS_URL": REDIS_URL,
            "VIDPIPE_WEBHOOK_ALLOW_LOOPBACK": "1",
        }
        if backend == "rq":
            import redis

            try:
                redis.Redis.from_url(REDIS_URL).flushdb()
            except redis.exceptions.ConnectionError:
                print(f"  {backend}: skipped (no Redis at {REDIS_URL})")
                return None
        manage(env, "migrate", "--noinput")
        server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        Sink.times = []
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        manage(
            env,
            "shell",
            "--no-imports",
            "-c",
            "from manifests import services; from manifests.models import WebhookSubscription; "
            "WebhookSubscription.objects.all().delete(); "
            f"services.webhook_create(url={url!r}); m = services.manifest_create(name='T'); "
            f"[services.manifest_update(manifest=m, description=str(i)) "
            f"for i in range({events - 1})]",
        )
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "webhook_worker"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 600
            while len(Sink.times) < events and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            server.shutdown()
        if len(Sink.times) < events:
            print(f"  {backend}: only {len(Sink.times)} of {events} delivered in time")
            return None
        rate = (events - 1) / (Sink.times[-1] - Sink.times[0])
        print(f"  {backend:8}: {rate:.0f} events/s ({events} events, one worker)")
        return rate


def main() -> int:
    args = parse_args()
    # The subscription of the first part points at 127.0.0.1 (no worker runs there).
    os.environ["VIDPIPE_WEBHOOK_ALLOW_LOOPBACK"] = "1"
    with tempfile.TemporaryDirectory() as workdir:
        configure(Path(workdir), args.database_url)
        overhead_ok = request_overhead(args)
    if args.events:
        print("delivery throughput of one worker to a local receiver:")
        throughput("database", args.events, args.database_url)
        throughput("rq", args.events, args.database_url)
    if args.check and not overhead_ok:
        print(f"MISSED: overhead above {OVERHEAD_TARGET:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
