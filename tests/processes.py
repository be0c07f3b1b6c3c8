"""The app in real processes: `manage.py` commands, make in a scratch checkout, and gunicorn
or runserver on a free port, configured through the environment."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production settings on a fresh SQLite file and media folder under tmp_path."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "test-only-" + "k" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(
    env: dict[str, str],
    *options: str,
    headers: dict[str, str] | None = None,
    log: Path | None = None,
) -> AbstractContextManager[str]:
    """gunicorn serving vidpipe.wsgi on a free port; yields its base URL once it answers."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "vidpipe.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        *options,
    ]
    return _serving(command, port, env, headers=headers, log=log)


def serve(
    env: dict[str, str],
    headers: dict[str, str] | None = None,
    log: Path | None = None,
) -> AbstractContextManager[str]:
    """The production server exactly as `make serve` starts it once migrate and collectstatic
    have run (`python -m vidpipe.serve`: the Makefile runs the same module, a test checks it),
    on a free port given as PORT; yields its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "vidpipe.serve"]
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    return _serving(command, port, env, headers=headers, log=log)


def runserver(env: dict[str, str], log: Path | None = None) -> AbstractContextManager[str]:
    """Django's development server, as `make run` starts it but without the reloader, on a
    free port; yields its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return _serving(command, port, env, log=log)


@contextmanager
def _serving(
    command: list[str],
    port: int,
    env: dict[str, str],
    headers: dict[str, str] | None = None,
    log: Path | None = None,
) -> Iterator[str]:
    """Runs the server `command` (listening on `port`) until the block ends; its output goes
    to `log` if given, complete once the block has ended."""
    with log.open("w") if log else nullcontext(subprocess.DEVNULL) as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        base = f"http://127.0.0.1:{port}"
        probe = urllib.request.Request(f"{base}/admin/login/", headers=headers or {})
        try:
            for _ in range(100):
                if server.poll() is not None:
                    pytest.fail(f"{command[0]} exited with status {server.returncode}")
                try:
                    urllib.request.urlopen(probe, timeout=2).close()
                    break
                except urllib.error.HTTPError:
                    break  # it answered: up, whatever the status
                except OSError:
                    time.sleep(0.1)
            else:
                pytest.fail(f"{command[0]} did not start")
            yield base
        finally:
            server.terminate()
            server.wait(timeout=10)


CHECKOUT_PATHS = (
    "Makefile",
    "manage.py",
    "requirements.txt",
    "vidpipe",
    "manifests",
    "templates",
    "docs",
)


def checkout(directory: Path) -> Path:
    """A checkout of this repository in `directory`, made of symlinks, for commands that run
    in one (make, README blocks): whatever they write there stays there.

    Its `.venv` links the running interpreter's virtualenv entry by entry, with a fresh
    `.requirements-installed` stamp of its own: this interpreter has the requirements (it runs
    the suite), and `make` must never reinstall them into a virtualenv others share.
    """
    directory.mkdir()
    for name in CHECKOUT_PATHS:
        (directory / name).symlink_to(ROOT / name)
    venv = directory / ".venv"
    venv.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if entry.name != ".requirements-installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".requirements-installed").touch()
    return directory


def development_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Development settings (debug on) on a fresh SQLite file and media folder under tmp_path,
    for commands and make outside of any outer make run."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "MAKE", "MFLAGS")) and name != "VENV"
    }
    env.update(
        {
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
            "MEDIA_ROOT": str(tmp_path / "media"),
        }
    )
    env.update(extra)
    return env
