"""What the benchmark scripts share: their command line and a scratch Django set-up."""

import argparse
import io
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--assets", type=int, default=1000, help="assets in the manifest")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--database-url",
        help="a scratch database to use instead of a temporary SQLite file (it gets data!)",
    )
    return parser.parse_args()


def configure(workdir: Path, database_url: str | None) -> None:
    """Point Django at a scratch database and media folder, then migrate."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "vidpipe.settings"
    # Never the DATABASE_URL of the environment: that may be a database someone cares about.
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def png(index: int) -> bytes:
    """A tiny PNG, different for each index."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (index % 256, index // 256 % 256, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    """Run `manage.py` with `env` in the repository; its output (raises when it fails)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout


def production_env(workdir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    """Production settings (debug off) on `database_url` (else a SQLite file in `workdir`)
    and a media folder in `workdir`, with the rate limits off: a benchmark's load is
    not an abuse."""
    return {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-only-" + "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "VIDPIPE_THROTTLE_ANON": "",
        "VIDPIPE_THROTTLE_USER": "",
        **extra,
    }


def staff_token(env: dict[str, str]) -> str:
    """The API token of a staff user `bench` (made on first use) in `env`'s database."""
    return manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "from rest_framework.authtoken.models import Token; "
        "user, _ = get_user_model().objects.get_or_create(username='bench', is_staff=True); "
        "print(Token.objects.get_or_create(user=user)[0].key)",
    ).strip()


@contextmanager
def gunicorn(env: dict[str, str], *options: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """gunicorn serving vidpipe.wsgi with `env` and `options` on a free loopback port, quiet;
    yields (port, the master process) once it answers, and stops it after."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "vidpipe.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            *options,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema", timeout=5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def report_targets(targets: dict[str, bool], *, check: bool, width: int = 16) -> int:
    """Print the verdict line of a bench's targets (label: met?); its exit status: 1 when
    `--check` was asked and a target was missed."""
    missed = [label for label, ok in targets.items() if not ok]
    verdict = f"MISSED: {', '.join(missed)}" if missed else "all targets met"
    print(f"{'result':<{width}}{verdict}")
    return 1 if check and missed else 0
