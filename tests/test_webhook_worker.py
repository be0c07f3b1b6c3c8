"""The webhook worker as an operator runs it (`manage.py webhook_worker`, a real process on
its own SQLite file), killed in the middle of a delivery and started again."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.processes import ROOT, manage
from tests.webhook_receiver import receiver, verify

# Its processes use SQLite files of their own: the PostgreSQL pass would repeat it as is.
pytestmark = pytest.mark.own_sqlite


@pytest.fixture
def worker_env(tmp_path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "VIDPIPE_TASKS_BACKEND": "database",
        "VIDPIPE_WEBHOOK_ALLOW_LOOPBACK": "1",
        "VIDPIPE_WEBHOOK_READ_TIMEOUT": "30",
        # An attempt whose worker died is taken up again a second after it started.
        "VIDPIPE_WEBHOOK_LEASE_SECONDS": "1",
    }
    manage(env, "migrate", "--noinput")
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "webhook_worker", "--resume-every", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "--no-imports", "-c", code).stdout.strip()


def test_a_worker_killed_mid_delivery_delivers_after_a_restart_with_the_same_id(worker_env):
    release = threading.Event()

    def hang_first(number, received):
        if number == 0:
            release.wait(30)
        return 200

    with receiver(hang_first) as target:
        secret = shell(
            worker_env,
            "from manifests import services; "
            f"s, secret = services.webhook_create(url={target.url!r}); "
            "services.manifest_create(name='Survivor'); print(secret)",
        )
        worker = start_worker(worker_env)
        try:
            target.wait_for(1)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        finally:
            release.set()
        restarted = start_worker(worker_env)
        try:
            received = target.wait_for(2, timeout=60)
        finally:
            restarted.terminate()
            restarted.wait(timeout=20)

    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
    assert received[1].json["type"] == "manifest.created"
    assert verify(secret, received[1].headers, received[1].body)
    state = shell(
        worker_env,
        "from manifests.models import WebhookDelivery as D; d = D.objects.get(); "
        "print(d.status, d.attempts, list(d.attempt_log.values_list('status_code', flat=True)))",
    )
    # The first attempt died with its worker (no answer logged); the second succeeded.
    assert state == "SUCCEEDED 2 [200]"


def answers(url: str) -> bool:
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def test_make_run_starts_the_worker_beside_the_server_and_stops_both(tmp_path):
    from tests.processes import checkout, development_env, free_port

    directory = checkout(tmp_path / "checkout")
    port = free_port()
    env = development_env(
        tmp_path, VIDPIPE_WEBHOOK_ALLOW_LOOPBACK="1", VIDPIPE_TASKS_BACKEND="database"
    )
    manage(env, "migrate", "--noinput")
    with receiver() as target:
        shell(
            env,
            "from manifests import services; "
            f"services.webhook_create(url={target.url!r}); services.manifest_create(name='Run')",
        )
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=directory,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            # Delivered: the worker runs beside the server, which answers.
            assert target.wait_for(1, timeout=60)[0].json["type"] == "manifest.created"
            assert answers(f"http://127.0.0.1:{port}/admin/login/")
        finally:
            os.killpg(make.pid, signal.SIGINT)  # Ctrl+C at the terminal
            make.wait(timeout=30)
    for _ in range(100):
        try:
            os.killpg(make.pid, 0)
        except ProcessLookupError:
            break  # no process of make run is left
        time.sleep(0.1)
    else:
        os.killpg(make.pid, signal.SIGKILL)
        pytest.fail("a process of make run outlived it")


def test_the_runs_linger_is_checked_at_start(worker_env):
    for value, said in [
        ("-1", "VIDPIPE_WEBHOOK_RUN_LINGER must not be negative (seconds)."),
        ("soon", "VIDPIPE_WEBHOOK_RUN_LINGER='soon' is not a number."),
    ]:
        result = manage({**worker_env, "VIDPIPE_WEBHOOK_RUN_LINGER": value}, "check", check=False)
        assert result.returncode != 0 and said in result.stderr, value
