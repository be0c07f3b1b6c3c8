"""Settings read from the environment: refused when malformed, with the variable's name;
the shared cache; the settings' system checks."""

import socket
import urllib.error
import urllib.request
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.processes import gunicorn, manage, production_env
from vidpipe.settings import env_bool, env_int


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False), ("off", False)],
)
def test_yes_no_variables_take_the_usual_words(monkeypatch, value, expected):
    monkeypatch.setenv("VIDPIPE_SOMETHING", value)
    assert env_bool("VIDPIPE_SOMETHING", not expected) is expected


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_or_empty_yes_no_variables_take_their_default(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("VIDPIPE_SOMETHING", raising=False)
    else:
        monkeypatch.setenv("VIDPIPE_SOMETHING", value)
    assert env_bool("VIDPIPE_SOMETHING", True) is True


def test_a_yes_no_typo_is_refused_not_read_as_no(monkeypatch):
    monkeypatch.setenv("VIDPIPE_SOMETHING", "ture")
    with pytest.raises(ImproperlyConfigured) as refused:
        env_bool("VIDPIPE_SOMETHING", False)
    assert str(refused.value) == (
        "VIDPIPE_SOMETHING='ture' is not a yes/no value: use 1, true, yes or on, "
        "or 0, false, no or off."
    )


def test_a_number_that_is_not_one_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("VIDPIPE_SOMETHING", "20MB")
    with pytest.raises(ImproperlyConfigured) as refused:
        env_int("VIDPIPE_SOMETHING", 1)
    assert str(refused.value) == "VIDPIPE_SOMETHING='20MB' is not a whole number."


def test_the_app_does_not_start_with_a_malformed_variable(tmp_path):
    # As an operator meets it: the command fails, naming the variable.
    env = production_env(tmp_path, DJANGO_SECURE_SSL_REDIRECT="ture")
    result = manage(env, "check", check=False)
    assert result.returncode != 0
    assert "DJANGO_SECURE_SSL_REDIRECT='ture' is not a yes/no value" in result.stderr


def test_a_cache_url_that_is_not_redis_is_refused(tmp_path):
    result = manage(production_env(tmp_path, CACHE_URL="memcached://x"), "check", check=False)
    assert result.returncode != 0
    assert "CACHE_URL='memcached://x' is not a Redis URL" in result.stderr


def test_an_unknown_thumbnail_format_fails_the_system_checks(settings):
    settings.VIDPIPE_THUMBNAIL_FORMAT = "GIF"
    with pytest.raises(SystemCheckError) as refused:
        call_command("check")
    assert "manifests.E001" in str(refused.value)
    assert "VIDPIPE_THUMBNAIL_FORMAT must be one of WEBP, JPEG, not 'GIF'." in str(refused.value)


def schema_status(base: str) -> int:
    """The status of an anonymous GET /api/schema (the anonymous rate limit counts it)."""
    try:
        with urllib.request.urlopen(f"{base}/api/schema", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def _redis_is_running() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_is_running(), reason="no Redis on 127.0.0.1:6379")
def test_two_servers_with_cache_url_share_one_rate_limit_budget(tmp_path):
    # Two gunicorn servers, as two app machines behind a load balancer would run, on one
    # database and one Redis: the anonymous budget of 4 requests a minute is spent once.
    env = production_env(
        tmp_path,
        CACHE_URL="redis://127.0.0.1:6379/0",
        CACHE_KEY_PREFIX=f"test-{uuid.uuid4().hex}",  # this test's own counters
        VIDPIPE_THROTTLE_ANON="4/minute",
        DJANGO_SECURE_SSL_REDIRECT="0",
    )
    manage(env, "migrate", "--noinput")

    with gunicorn(env) as first, gunicorn(env) as second:
        statuses = [schema_status(base) for base in [first, second] * 3]

    assert statuses == [200, 200, 200, 200, 429, 429]


def test_without_cache_url_each_process_counts_alone(tmp_path):
    # The embedded default: no Redis needed, and (the README says so) one budget per process.
    env = production_env(tmp_path, VIDPIPE_THROTTLE_ANON="2/minute", DJANGO_SECURE_SSL_REDIRECT="0")
    env.pop("CACHE_URL", None)
    env.pop("REDIS_URL", None)
    manage(env, "migrate", "--noinput")

    with gunicorn(env) as first, gunicorn(env) as second:
        statuses = [schema_status(base) for base in [first, second] * 2]

    assert statuses == [200, 200, 200, 200]
