"""What the servers and commands print: every log record once, Django's and the app's, with
debug on (runserver) and off (gunicorn); read from the real processes' output."""

import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import development_env, gunicorn, manage, production_env, runserver

# Its processes use SQLite files of their own: the PostgreSQL pass would repeat it as is.
pytestmark = pytest.mark.own_sqlite


def refuse_anonymous_request(base: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/api/", timeout=5)
    assert refused.value.code == 401


def wait_for_line(log: Path, ending: str, timeout: float = 10) -> None:
    """Wait until the server has written a line ending with `ending`: runserver logs a
    request only after it has sent the response."""
    deadline = time.monotonic() + timeout
    while not any(line.endswith(ending) for line in log.read_text().splitlines()):
        assert time.monotonic() < deadline, f"no line ending {ending!r}: {log.read_text()}"
        time.sleep(0.05)


def test_development_server_prints_a_refused_request_once(tmp_path):
    log = tmp_path / "server.log"
    with runserver(development_env(tmp_path), log=log) as base:
        refuse_anonymous_request(base)
        wait_for_line(log, '"GET /api/ HTTP/1.1" 401 58')

    lines = log.read_text().splitlines()
    assert lines.count("Unauthorized: /api/") == 1, lines
    # runserver's own request line, in Django's format.
    assert len([line for line in lines if line.endswith('"GET /api/ HTTP/1.1" 401 58')]) == 1


def test_production_server_prints_a_refused_request_once(tmp_path):
    log = tmp_path / "server.log"
    env = production_env(tmp_path, DJANGO_SECURE_SSL_REDIRECT="0")
    with gunicorn(env, log=log) as base:
        refuse_anonymous_request(base)

    lines = log.read_text().splitlines()
    assert lines.count("Unauthorized: /api/") == 1, lines


@pytest.mark.parametrize("make_env", [development_env, production_env], ids=["debug", "production"])
def test_the_apps_warnings_are_printed_once(tmp_path, make_env):
    warning = "Could not remove stored file 'manifests/x.png'; the orphan sweep will."
    result = manage(
        make_env(tmp_path),
        "shell",
        "--command",
        f"import logging; logging.getLogger('manifests.files').warning({warning!r})",
    )

    assert result.stderr.splitlines().count(warning) == 1, result.stderr


@pytest.mark.parametrize(
    "make_env, shown", [(development_env, 1), (production_env, 0)], ids=["debug", "production"]
)
def test_djangos_info_records_show_in_debug_only(tmp_path, make_env, shown):
    # What runserver's reloader says ("Watching for file changes with StatReloader").
    notice = "Watching for file changes with StatReloader"
    result = manage(
        make_env(tmp_path),
        "shell",
        "--command",
        f"import logging; logging.getLogger('django.utils.autoreload').info({notice!r})",
    )

    assert result.stderr.splitlines().count(notice) == shown, result.stderr
