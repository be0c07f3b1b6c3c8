"""`make superuser`: without questions when name and password are in the environment (the
email optional), at the terminal otherwise; run for real in a scratch checkout."""

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.processes import checkout, development_env, manage

# Its processes use SQLite files of their own: the PostgreSQL pass would repeat it as is.
pytestmark = pytest.mark.own_sqlite


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


def test_a_password_with_dollars_and_make_syntax_is_taken_as_typed(tmp_path):
    password = "pa$$word $(shell touch pwned) $HOME"
    result = make_superuser(
        tmp_path, DJANGO_SUPERUSER_USERNAME="alice", DJANGO_SUPERUSER_PASSWORD=password
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "checkout" / "pwned").exists()
    signed_in = manage(
        {**development_env(tmp_path), "TYPED": password},
        "shell",
        "--command",
        # A sign-in as the login page makes it (axes counts it by the request's address).
        "import os; from django.contrib.auth import authenticate; "
        "from django.test import RequestFactory; "
        "request = RequestFactory().post('/admin/login/'); "
        "print(authenticate(request, username='alice', password=os.environ['TYPED']))",
    )
    assert signed_in.stdout.splitlines()[-1] == "alice", signed_in.stderr


def test_without_a_password_and_no_terminal_it_says_what_to_set(tmp_path):
    result = make_superuser(tmp_path, DJANGO_SUPERUSER_USERNAME="alice")

    assert result.returncode != 0
    assert "set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD" in result.stderr
    assert users(tmp_path) == []
