"""PostgreSQL connections: production keeps them in psycopg's pool instead of opening one per
request; the knobs come from the environment; SQLite is left as it was."""

import json
import urllib.request
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.processes import gunicorn, manage, production_env

POSTGRES_URL = "postgres://vidpipe@db.example.com:5432/vidpipe"
SHOW_DATABASE = (
    "import json; from django.conf import settings; db = settings.DATABASES['default']; "
    "print(json.dumps({'CONN_MAX_AGE': db['CONN_MAX_AGE'], "
    "'CONN_HEALTH_CHECKS': db['CONN_HEALTH_CHECKS'], 'OPTIONS': db['OPTIONS']}))"
)


def database_settings(tmp_path, **env: str) -> dict:
    """The database settings that `manage.py` builds from a production environment."""
    result = manage(production_env(tmp_path, **env), "shell", "--command", SHOW_DATABASE)
    return json.loads(result.stdout.splitlines()[-1])


def test_production_postgresql_uses_a_checked_pool(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL)

    assert database["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 10}
    # Django checks each connection as it leaves the pool.
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["CONN_MAX_AGE"] == 0  # Django refuses a pool with persistent connections


def test_the_pool_is_sized_from_the_environment(tmp_path):
    database = database_settings(
        tmp_path,
        DATABASE_URL=POSTGRES_URL,
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE="8",
        DATABASE_POOL_TIMEOUT="3",
    )

    assert database["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 8, "timeout": 3}


def test_without_the_pool_connections_persist_with_health_checks(tmp_path):
    database = database_settings(
        tmp_path, DATABASE_URL=POSTGRES_URL, DATABASE_POOL="0", DATABASE_CONN_MAX_AGE="60"
    )

    assert "pool" not in database["OPTIONS"]
    assert database["CONN_MAX_AGE"] == 60 and database["CONN_HEALTH_CHECKS"] is True


def test_debug_opens_a_connection_per_request_as_before(tmp_path):
    database = database_settings(tmp_path, DATABASE_URL=POSTGRES_URL, DJANGO_DEBUG="1")

    assert "pool" not in database["OPTIONS"] and database["CONN_MAX_AGE"] == 0


def test_a_pool_with_persistent_connections_is_refused_naming_both(tmp_path):
    env = production_env(tmp_path, DATABASE_URL=POSTGRES_URL, DATABASE_CONN_MAX_AGE="60")

    result = manage(env, "check", check=False)

    assert result.returncode != 0
    assert "DATABASE_CONN_MAX_AGE must be 0 (or unset) while DATABASE_POOL is on" in result.stderr


def test_sqlite_keeps_its_settings_and_gets_no_pool(tmp_path):
    database = database_settings(tmp_path)  # production_env: a SQLite file

    assert "pool" not in database["OPTIONS"] and database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


@pytest.fixture
def scratch_postgres_url():
    """A fresh PostgreSQL database beside the test database, dropped afterwards."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_pool"
    server = (
        f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{db['HOST']}:{db['PORT']}"
    )
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres_only
def test_one_gunicorn_worker_serves_many_requests_on_one_connection(tmp_path, scratch_postgres_url):
    env = production_env(
        tmp_path, DATABASE_URL=scratch_postgres_url, DJANGO_SECURE_SSL_REDIRECT="0"
    )
    manage(env, "migrate", "--noinput")
    token = manage(
        env,
        "shell",
        "--command",
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models "
        "import Token; print(Token.objects.create(user=User.objects.create(username='r')).key)",
    ).stdout.split()[-1]
    name = scratch_postgres_url.rsplit("/", 1)[1]
    monitor_url = scratch_postgres_url.rsplit("/", 1)[0] + "/postgres"

    def server_connections(monitor) -> set[int]:
        rows = monitor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = %s AND backend_type = 'client backend'",
            [name],
        )
        return {pid for (pid,) in rows}

    with (
        gunicorn(env, "--workers", "1") as base,
        psycopg.connect(monitor_url, autocommit=True) as monitor,
    ):
        request = urllib.request.Request(
            f"{base}/api/manifests", headers={"Authorization": f"Token {token}"}
        )

        def get() -> None:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200

        get()  # the worker's pool opens
        opened = server_connections(monitor)
        seen = []
        for _ in range(10):
            get()
            seen.append(server_connections(monitor))
        # The database drops the pooled connection (a restart, an idle timeout): the next
        # request is checked onto a new one instead of failing.
        for pid in opened:
            monitor.execute("SELECT pg_terminate_backend(%s)", [pid])
        get()
        after_drop = server_connections(monitor)

    assert opened, "the worker holds no connection between requests"
    assert seen == [opened] * 10  # the same connection(s): none opened, none closed
    assert after_drop and not after_drop & opened
