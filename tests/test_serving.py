"""The production server as `make serve` starts it, with slow clients connected (issue 15).

Loopback only, bounded: 100 connections, at most SLOW_CLIENTS_FOR seconds of trickling, and
the whole test gives up after DEADLINE seconds.
"""

import http.client
import json
import re
import select
import shutil
import socket
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import ROOT, manage, production_env, serve

# make serve puts the system's nginx in front of gunicorn; .ci/run installs it when missing
# (Debian: apt-get install nginx-light). Without it these tests cannot start the server.
NGINX = shutil.which("nginx") or (shutil.which("/usr/sbin/nginx"))
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (.ci/run installs it)"
)

HTTPS = {"X-Forwarded-Proto": "https"}  # as a TLS proxy in front would say
CLIENT_TIMEOUT = 3  # seconds: CLIENT_TIMEOUT of the server under test
TRICKLE_EVERY = 1.5  # seconds between two bytes of a slow client (under CLIENT_TIMEOUT)
SLOW_CLIENTS_FOR = 8  # seconds the slow bodies trickle before they stall
DEADLINE = 30  # seconds: the slow clients give up waiting for the server after this


def test_make_serve_runs_the_serving_module():
    # The tests start `python -m vidpipe.serve` (tests.processes.serve): so does make.
    recipe = re.search(r"^serve:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe.group(1).splitlines()[-1] == (
        "\tDJANGO_DEBUG=0 HOST=$(HOST) PORT=$(PORT) $(PY) -m vidpipe.serve"
    )


def _production_server_env(tmp_path: Path) -> tuple[dict[str, str], str]:
    """Production env on a migrated database with static files; and a staff token."""
    env = production_env(
        tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER="1", CLIENT_TIMEOUT=str(CLIENT_TIMEOUT)
    )
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    script = (
        "from django.contrib.auth import get_user_model; "
        "from rest_framework.authtoken.models import Token; "
        "user = get_user_model().objects.create_user('curator', is_staff=True); "
        "print(Token.objects.create(user=user).key)"
    )
    token = manage(env, "shell", "--no-imports", "-c", script).stdout.strip()
    return env, token


class SlowClients:
    """`bodies` connections sending a JSON body 1 byte at a time and `headers` connections
    sending their headers 1 byte at a time, every TRICKLE_EVERY seconds, for SLOW_CLIENTS_FOR
    seconds; then they stall. Records when the server closed (or answered) each one."""

    def __init__(self, netloc: str, token: str, bodies: int, headers: int):
        self.started = time.monotonic()
        self.closed_after: dict[socket.socket, float] = {}
        self.answers: list[bytes] = []
        body_head = (
            "POST /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
            "Content-Length: 10000\r\n\r\n"
        )
        header_head = "GET /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        self.sockets: dict[socket.socket, str] = {}
        host, port = netloc.split(":")
        for kind, head in [("body", body_head)] * bodies + [("headers", header_head)] * headers:
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(head.encode())
            sock.setblocking(False)
            self.sockets[sock] = kind
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _closed(self, sock: socket.socket, answer: bytes = b"") -> None:
        self.closed_after[sock] = time.monotonic() - self.started
        if answer:
            self.answers.append(answer)

    def _run(self) -> None:
        next_byte = self.started
        while len(self.closed_after) < len(self.sockets):
            now = time.monotonic()
            if now - self.started > DEADLINE:
                return
            open_ = [s for s in self.sockets if s not in self.closed_after]
            if now >= next_byte and now - self.started < SLOW_CLIENTS_FOR:
                for sock in open_:
                    try:
                        sock.send(b" ")
                    except OSError:
                        self._closed(sock)
                next_byte = now + TRICKLE_EVERY
            open_ = [s for s in self.sockets if s not in self.closed_after]
            readable, _, _ = select.select(open_, [], [], 0.2) if open_ else ([], [], [])
            for sock in readable:
                try:
                    answer = sock.recv(4096)
                except OSError:
                    answer = b""
                self._closed(sock, answer)

    def closed(self, kind: str) -> list[float]:
        """When the server closed the connections of this kind, in seconds."""
        return [after for sock, after in self.closed_after.items() if self.sockets[sock] == kind]

    def close(self) -> None:
        self.thread.join(DEADLINE + 5)
        for sock in self.sockets:
            sock.close()


@needs_nginx
def test_a_request_is_answered_while_100_slow_clients_are_connected(tmp_path):
    env, token = _production_server_env(tmp_path)
    with serve(env, headers=HTTPS) as base:
        slow = SlowClients(urlsplit(base).netloc, token, bodies=50, headers=50)
        try:
            time.sleep(1)  # every slow client has been accepted and has sent something
            request = urllib.request.Request(
                f"{base}/api/manifests", headers={**HTTPS, "Authorization": f"Token {token}"}
            )
            sent = time.monotonic()
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
                assert response.read().startswith(b'{"count":0')
            answered_in = time.monotonic() - sent
            still_open = len(slow.sockets) - len(slow.closed_after)
        finally:
            slow.close()

    assert answered_in < 5
    assert still_open >= 50  # the bodies were still trickling: they were open meanwhile
    # Every slow client was closed by the server (408 or dropped) in bounded time: slow
    # headers within CLIENT_TIMEOUT of connecting whatever their pace; bodies kept open while
    # they trickled faster than that, then closed CLIENT_TIMEOUT after their last byte.
    assert len(slow.closed("headers")) == len(slow.closed("body")) == 50
    assert max(slow.closed("headers")) < CLIENT_TIMEOUT + 3 < SLOW_CLIENTS_FOR
    assert min(slow.closed("body")) > SLOW_CLIENTS_FOR
    assert max(slow.closed("body")) < SLOW_CLIENTS_FOR + CLIENT_TIMEOUT + 3
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in slow.answers)


@needs_nginx
def test_forwarded_headers_are_trusted_only_from_forwarded_allow_ips(tmp_path):
    env, _ = _production_server_env(tmp_path)
    env.update(FORWARDED_ALLOW_IPS="10.1.2.3", VIDPIPE_MAX_UPLOAD_BYTES="1000")
    # Up once it answers, here 400 (an unknown host): not a redirect to https to follow.
    with serve(env, headers={"Host": "unknown.test"}) as base:
        netloc = urlsplit(base).netloc
        client = http.client.HTTPConnection(netloc, timeout=5)
        client.request("GET", "/api/manifests", headers={**HTTPS, "Host": "example.com"})
        answer = client.getresponse()
        answer.read()
        # 127.0.0.1 is not a trusted proxy here: its X-Forwarded-Proto is replaced by http.
        assert answer.status == 301
        assert answer.headers["Location"] == "https://example.com/api/manifests"

        # A body over the upload limit (and the room for multipart framing) is refused
        # before it is read.
        client = http.client.HTTPConnection(netloc, timeout=5)
        client.putrequest("POST", "/api/manifests", skip_host=True)
        for name, value in {"Host": "example.com", "Content-Length": str(3 * 1024 * 1024)}.items():
            client.putheader(name, value)
        client.endheaders()
        refused = client.getresponse()
        assert refused.status == 413, refused.read()
        assert refused.headers["Content-Type"] == "application/json"
        assert "larger than" in json.loads(refused.read())["detail"]


@needs_nginx
def test_the_app_sees_the_client_address_that_trusted_proxies_report(tmp_path):
    # Told by the anonymous rate limit, which counts per X-Forwarded-For (one worker: one
    # count). The test client is the trusted proxy (FORWARDED_ALLOW_IPS: 127.0.0.1).
    env, _ = _production_server_env(tmp_path)
    env.update(VIDPIPE_THROTTLE_ANON="2/minute", WEB_CONCURRENCY="1")
    with serve(env, headers=HTTPS) as base:
        netloc = urlsplit(base).netloc

        def schema(forwarded_for: str) -> int:
            client = http.client.HTTPConnection(netloc, timeout=5)
            client.request(
                "GET", "/api/schema", headers={**HTTPS, "X-Forwarded-For": forwarded_for}
            )
            answer = client.getresponse()
            answer.read()
            return answer.status

        assert [schema("10.0.0.1") for _ in range(3)] == [200, 200, 429]
        assert schema("10.0.0.2") == 200  # another client
        # What a client wrote left of the address the trusted proxy appended is not believed:
        # this is 10.0.0.2's second request, whatever it claims.
        assert schema("10.0.0.9, 10.0.0.2") == 200
        assert schema("10.0.0.8, 10.0.0.2") == 429
