"""Concurrent traffic on SQLite, for real: a multi-threaded gunicorn on a database file.

SQLite has one writer at a time. Every write operation reads first (it locks its manifest;
`select_for_update` does nothing on SQLite), so a transaction that only asks for the write
lock at its first write cannot wait for it: SQLite answers "database is locked" at once,
whatever the busy timeout. These tests pin the settings that make writers queue instead.
PostgreSQL's row locks are tested in test_concurrency.py.
"""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.conftest import image_upload
from tests.processes import gunicorn, manage, production_env
from tests.threads import run_in_threads

pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.skipif(
        connection.vendor != "sqlite",
        reason="SQLite's database lock (PostgreSQL: test_concurrency.py)",
    ),
]

CREATES = 24
EXISTING = 6
READS = 4


def staff_token(env: dict[str, str]) -> str:
    """The API token of a new staff user in the served database."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "user = get_user_model().objects.create_user('curator', is_staff=True)\n"
        "print(Token.objects.create(user=user).key)\n"
    )
    return manage(env, "shell", "--no-imports", "-c", code).stdout.strip()


def api_client(base: str, token: str):
    """call(method, path, json=… or image=…) -> (status, decoded body), over real HTTP."""

    def call(method: str, path: str, *, json_body=None, image=None) -> tuple[int, Any]:
        headers = {"Authorization": f"Token {token}"}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif image is not None:
            data = encode_multipart(BOUNDARY, {"file": image})
            headers["Content-Type"] = MULTIPART_CONTENT
        request = urllib.request.Request(base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")[:200]

    return call


def test_concurrent_writes_and_reads_on_a_sqlite_file_all_succeed_and_lose_nothing(tmp_path):
    env = production_env(tmp_path, DJANGO_SECURE_SSL_REDIRECT="0")
    manage(env, "migrate", "--noinput")
    token = staff_token(env)
    with gunicorn(env, "--workers", "2", "--threads", "16") as base:
        call = api_client(base, token)
        manifest = call("POST", "/api/manifests", json_body={"name": "Crowded"})[1]["id"]
        existing = [
            call(
                "POST",
                f"/api/manifests/{manifest}/assets",
                json_body={"name": f"old {i}", "asset_type": "CHARACTER"},
            )[1]["id"]
            for i in range(EXISTING)
        ]
        traffic = [
            *(
                (
                    "POST",
                    f"/api/manifests/{manifest}/assets",
                    {"name": f"new {i}", "asset_type": "OBJECT"},
                )
                for i in range(CREATES)
            ),
            ("PATCH", f"/api/assets/{existing[0]}", {"name": "renamed"}),
            ("PATCH", f"/api/assets/{existing[1]}", {"asset_type": "STYLE"}),
            ("PATCH", f"/api/assets/{existing[2]}", {"description": "moved"}),
            ("PATCH", f"/api/manifests/{manifest}", {"description": "busy"}),
            ("PATCH", f"/api/manifests/{manifest}", {"tags": ["crowded"]}),
            *(("UPLOAD", f"/api/assets/{asset}/upload", None) for asset in existing[3:]),
            *(("GET", f"/api/manifests/{manifest}", None) for _ in range(READS)),
        ]

        def send(i: int) -> int:
            method, path, body = traffic[i]
            if method == "UPLOAD":
                return call("POST", path, image=image_upload())[0]
            return call(method, path, json_body=body)[0]

        statuses = run_in_threads(send, len(traffic))
        detail = call("GET", f"/api/manifests/{manifest}")[1]

    assert statuses == [201] * CREATES + [200] * (len(traffic) - CREATES)
    tags = [asset["manifest_tag"] for asset in detail["assets"]]
    assert len(tags) == len(set(tags)) == detail["asset_count"] == EXISTING + CREATES
    assert sorted(tag for tag in tags if tag.startswith("OBJ_")) == [
        f"OBJ_{n:02d}" for n in range(1, CREATES + 1)
    ]
    # Every change bumped the version once: none was lost or applied twice.
    assert detail["version"] == 1 + EXISTING + len(traffic) - READS


def test_a_sqlite_file_is_used_in_wal_mode_with_normal_sync(tmp_path):
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    for pragma in ('journal_mode', 'synchronous'):\n"
        "        print(cursor.execute(f'PRAGMA {pragma}').fetchone()[0])\n"
    )
    result = manage(production_env(tmp_path), "shell", "--no-imports", "-c", code)

    assert result.stdout.split() == ["wal", "1"]  # synchronous 1 is NORMAL
