"""`make superuser`: without questions when name and password are in the environment (the
email optional), at the terminal otherwise; run for real in a scratch checkout."""

import sqlite3
import subprocess
from pathlib import Path

from tests.processes import checkout, development_env


def make_superuser(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "superuser"],
        cwd=checkout(tmp_path / "checkout"),
        env=development_env(tmp_path, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def users(tmp_path: Path) -> list[tuple]:
    with sqlite3.connect(tmp_path / "dev.sqlite3") as database:
        return database.execute(
            "SELECT username, email, is_staff, is_superuser, password LIKE 'pbkdf2_%'"
            " FROM auth_user ORDER BY username"
        ).fetchall()


def test_name_and_password_alone_create_a_superuser_without_an_email(tmp_path):
    result = make_superuser(
        tmp_path, DJANGO_SUPERUSER_USERNAME="alice", DJANGO_SUPERUSER_PASSWORD="choose-one"
    )

    assert result.returncode == 0, result.stderr
    assert "Superuser created successfully." in result.stdout
    assert users(tmp_path) == [("alice", "", 1, 1, 1)]


def test_an_email_in_the_environment_is_recorded(tmp_path):
    result = make_superuser(
        tmp_path,
        DJANGO_SUPERUSER_USERNAME="alice",
        DJANGO_SUPERUSER_PASSWORD="choose-one",
        DJANGO_SUPERUSER_EMAIL="alice@example.com",
    )

    assert result.returncode == 0, result.stderr
    assert users(tmp_path) == [("alice", "alice@example.com", 1, 1, 1)]


def test_without_a_password_it_asks_at_the_terminal(tmp_path):
    result = make_superuser(tmp_path, DJANGO_SUPERUSER_USERNAME="alice")

    assert result.returncode == 0, result.stderr
    # createsuperuser's interactive mode, which gives up when stdin is not a terminal.
    assert "Superuser creation skipped due to not running in a TTY." in result.stdout
    assert users(tmp_path) == []
