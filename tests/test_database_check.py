"""A wrong DATABASE_URL at `make serve` / `make run`: one line naming the database and what
failed (`manage.py dbcheck`, run first), a non-zero exit, no traceback; never the password."""

import socket
import subprocess
from pathlib import Path

import pytest

from tests.processes import checkout, development_env, free_port, manage, production_env


def without_outer_make(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if not k.startswith(("MAKE", "MFLAGS")) and k != "VENV"}


def make(tmp_path: Path, target: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", target, f"PORT={free_port()}"],
        cwd=checkout(tmp_path / "checkout"),
        env=without_outer_make(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def app_lines(result: subprocess.CompletedProcess) -> list[str]:
    """What the app printed on stderr, make's own `make: *** … Error` line aside."""
    return [line for line in result.stderr.splitlines() if not line.startswith("make")]


def postgres_is_running() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


def test_make_serve_with_a_closed_database_port_says_so_in_one_line(tmp_path):
    port = free_port()  # nothing listens there
    url = f"postgres://postgres:hunter2-secret@127.0.0.1:{port}/vidpipe_pbodies"
    result = make(tmp_path, "serve", production_env(tmp_path, DATABASE_URL=url))

    assert result.returncode != 0
    assert app_lines(result) == [
        f"CommandError: Cannot connect to the PostgreSQL database “vidpipe_pbodies” on "
        f"127.0.0.1:{port} as postgres (DATABASE_URL): connection failed: connection to server "
        f'at "127.0.0.1", port {port} failed: Connection refused Is the server running on '
        "that host and accepting TCP/IP connections?"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "gunicorn" not in result.stdout.split("dbcheck", 1)[1]  # never started


@pytest.mark.skipif(not postgres_is_running(), reason="no PostgreSQL on 127.0.0.1:5432")
def test_make_run_with_an_unknown_database_says_so_in_one_line(tmp_path):
    url = "postgres://postgres@127.0.0.1:5432/vidpipe_no_such_database"
    result = make(tmp_path, "run", development_env(tmp_path, DATABASE_URL=url))

    assert result.returncode != 0
    [line] = app_lines(result)
    assert line.startswith(
        "CommandError: Cannot connect to the PostgreSQL database “vidpipe_no_such_database” "
        "on 127.0.0.1:5432 as postgres (DATABASE_URL):"
    )
    assert line.endswith('database "vidpipe_no_such_database" does not exist')
    assert "Traceback" not in result.stdout + result.stderr


def test_dbcheck_names_the_database_it_reached(tmp_path):
    result = manage(development_env(tmp_path), "dbcheck")
    assert result.stdout == f"Connected to the SQLite database {tmp_path / 'dev.sqlite3'}.\n"


def test_dbcheck_says_why_a_sqlite_file_cannot_be_opened(tmp_path):
    missing = tmp_path / "no-such-folder" / "db.sqlite3"
    result = manage(
        development_env(tmp_path, DATABASE_URL=f"sqlite:///{missing}"), "dbcheck", check=False
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"CommandError: Cannot connect to the SQLite database {missing} (DATABASE_URL): "
        "unable to open database file\n"
    )
