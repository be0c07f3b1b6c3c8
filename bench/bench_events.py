"""Events and webhooks: the cost of writing the event in the request (asset creation through
the API with no subscription, and with one, in one run; with one, also when every request
has to queue the delivery run, as when an idle worker takes each at once; then with a real
worker running and delivering, as in production), and the delivery throughput of one worker
to a local receiver (events/s), on the database backend and on the Redis backend."""

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
    parser.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="skip the part with a worker running",
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


# A receiver that answers 200 at once, in a process of its own (not the measuring one's GIL);
# it prints its port.
SINK_PROCESS = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def overhead_with_worker(args: argparse.Namespace) -> bool:
    """Median time of the same request with no subscription and with one, interleaved, while
    one `manage.py webhook_worker` (database backend, a real process on the same database)
    delivers to a receiver that answers 200: nothing is arranged by hand, the run-queued flag
    is the worker's. Also: how many requests queued a run (django-tasks' `task_enqueued`
    signal, sent in this process only), and how long deliveries waited for their attempt."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.utils import timezone
    from django_tasks.signals import task_enqueued
    from django_tasks_db.models import DBTaskResult
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from manifests import services
    from manifests.models import DeliveryAttempt, WebhookDelivery, WebhookSubscription

    # The runs the first part queued (no worker there) would keep this one's worker busy.
    DBTaskResult.objects.all().delete()
    sink = subprocess.Popen([sys.executable, "-c", SINK_PROCESS], stdout=subprocess.PIPE, text=True)
    port = int(sink.stdout.readline())
    env = {
        **os.environ,
        "VIDPIPE_TASKS_BACKEND": "database",
        "VIDPIPE_WEBHOOK_ALLOW_LOOPBACK": "1",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "webhook_worker", "-v", "0"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    user, _ = get_user_model().objects.get_or_create(username="bench", is_staff=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    manifest = services.manifest_create(name="Bench events, worker running")
    url = f"/api/manifests/{manifest.pk}/assets"
    WebhookSubscription.objects.all().delete()
    subscription, _ = services.webhook_create(
        url=f"http://127.0.0.1:{port}/hooks", event_types=["asset.created"]
    )
    subscriptions = WebhookSubscription.objects.filter(pk=subscription.pk)
    enqueued = []
    counting = {"on": False}

    def count(sender, task_result, **kwargs):
        if counting["on"] and task_result.task.name == "deliver_due_webhooks":
            enqueued.append(task_result.id)

    task_enqueued.connect(count)
    try:
        # The worker is up once it has delivered a first one.
        started = timezone.now()
        client.post(url, {"name": "warm-up", "asset_type": "CHARACTER"})
        deadline = time.monotonic() + 120
        while not WebhookDelivery.objects.filter(status="SUCCEEDED").exists():
            assert time.monotonic() < deadline, "the worker delivered nothing in 2 minutes"
            time.sleep(0.1)
        # "No subscription" switches the subscription to a type no request here makes, rather
        # than off: what the requests make is then delivered, not cancelled, and the worker
        # does all of its real work. For the request, no subscription and none wanting the
        # event cost the same statements (the counter row says who wants what).
        phases = {
            "no subscription": lambda: subscriptions.update(event_types=["manifest.purged"]),
            "one subscription": lambda: subscriptions.update(event_types=["asset.created"]),
        }
        names = list(phases)
        per_phase: dict[str, list[float]] = {name: [] for name in names}
        for created in range(args.requests):
            turn = created % len(names)
            for name in names[turn:] + names[:turn]:
                phases[name]()
                counting["on"] = name == names[1]
                began = time.perf_counter()
                response = client.post(
                    url, {"name": f"w {name} {created}", "asset_type": "CHARACTER"}
                )
                per_phase[name].append(time.perf_counter() - began)
                counting["on"] = False
                assert response.status_code == 201, response.content
        deadline = time.monotonic() + 120
        made = WebhookDelivery.objects.filter(created_at__gte=started)
        while made.filter(status="PENDING").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        task_enqueued.disconnect(count)
        worker.terminate()
        worker.wait(timeout=30)
        sink.terminate()
        sink.wait(timeout=10)
    medians = {name: statistics.median(times) for name, times in per_phase.items()}
    base = medians[names[0]]
    overhead = medians[names[1]] / base - 1
    waits = sorted(
        (attempt.attempted_at - attempt.delivery.created_at).total_seconds()
        for attempt in DeliveryAttempt.objects.filter(
            number=1, delivery__created_at__gte=started, delivery__status="SUCCEEDED"
        ).select_related("delivery")
    )
    statuses = dict(made.order_by().values_list("status").annotate(Count("pk")))
    print(f"asset creation with a worker running, {args.requests} requests per phase (median):")
    print(f"  {names[0]:29}: {base * 1000:.2f} ms")
    print(
        f"  {names[1]:29}: {medians[names[1]] * 1000:.2f} ms ({overhead:+.1%}; target "
        f"{OVERHEAD_TARGET:.0%})"
    )
    print(
        f"  {len(enqueued)} of {args.requests} requests with a subscription queued a run; "
        f"deliveries {statuses}"
    )
    if waits:
        print(
            f"  wait from the change to its first attempt: median {statistics.median(waits):.2f}"
            f" s, max {waits[-1]:.2f} s ({len(waits)} delivered)"
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
    # The rate limits off: a benchmark's requests are not an abuse.
    os.environ["VIDPIPE_THROTTLE_USER"] = ""
    os.environ["VIDPIPE_THROTTLE_ANON"] = ""
    with tempfile.TemporaryDirectory() as workdir:
        configure(Path(workdir), args.database_url)
        overhead_ok = request_overhead(args)
        if args.worker:
            overhead_ok = overhead_with_worker(args) and overhead_ok
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
