"""The production server as `make serve` starts it, with slow clients connected (issue 15).

Loopback only, bounded: 100 connections, at most SLOW_CLIENTS_FOR seconds of trickling, and
the whole test gives up after DEADLINE seconds.
"""

import hashlib
import http.client
import io
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from tests import image_factories as make
from tests.processes import ROOT, manage, production_env, serve
from vidpipe.serve import missing_modules

# Its processes use SQLite files of their own: the PostgreSQL pass would repeat it as is.
pytestmark = pytest.mark.own_sqlite

# make serve puts the system's nginx, with its Lua module, in front of gunicorn; .ci/run
# installs them when missing (Debian: apt-get install nginx-light libnginx-mod-http-lua).
# Without them these tests cannot start the server.
NGINX = shutil.which("nginx") or (shutil.which("/usr/sbin/nginx"))
needs_nginx = pytest.mark.skipif(
    NGINX is None or bool(missing_modules(Path("/usr/lib/nginx/modules"))),
    reason="nginx or its Lua module is not installed (.ci/run installs them)",
)

HTTPS = {"X-Forwarded-Proto": "https"}  # as a TLS proxy in front would say
JSON = "application/json"
CLIENT_TIMEOUT = 3  # seconds: CLIENT_TIMEOUT of the server under test
BODY_DEADLINE = 7  # seconds: its CLIENT_BODY_DEADLINE
MIN_BODY_RATE = 10_000  # bytes a second: its CLIENT_MIN_BODY_RATE
SLOW_BODY = 10_000  # bytes: the Content-Length of a slow body
ALLOWED = BODY_DEADLINE + SLOW_BODY // MIN_BODY_RATE  # seconds: a slow body's whole deadline
TRICKLE_EVERY = 1.5  # seconds between two bytes of a slow client (under CLIENT_TIMEOUT)
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
        tmp_path,
        DJANGO_SECURE_PROXY_SSL_HEADER="1",
        CLIENT_TIMEOUT=str(CLIENT_TIMEOUT),
        CLIENT_BODY_DEADLINE=str(BODY_DEADLINE),
        CLIENT_MIN_BODY_RATE=str(MIN_BODY_RATE),
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
    """Connections that send a JSON body (`body`) or their headers (`headers`) 1 byte every
    TRICKLE_EVERY seconds for as long as the server keeps them open, and connections that
    send their headers and then nothing of their body (`stalled`). Records when the server
    closed (or answered) each one, and what it answered."""

    def __init__(self, netloc: str, token: str, **counts: int):
        self.started = time.monotonic()
        self.closed_after: dict[socket.socket, float] = {}
        self.answers: dict[socket.socket, bytes] = {}
        body_head = (
            "POST /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
            f"Authorization: Token {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {SLOW_BODY}\r\n\r\n"
        )
        header_head = "GET /api/manifests HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        heads = {"body": body_head, "headers": header_head, "stalled": body_head}
        self.sockets: dict[socket.socket, str] = {}
        host, port = netloc.split(":")
        for kind, count in counts.items():
            for _ in range(count):
                sock = socket.create_connection((host, int(port)), timeout=5)
                sock.sendall(heads[kind].encode())
                sock.setblocking(False)
                self.sockets[sock] = kind
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _closed(self, sock: socket.socket, answer: bytes = b"") -> None:
        self.closed_after[sock] = time.monotonic() - self.started
        self.answers[sock] = answer

    def _run(self) -> None:
        next_byte = self.started
        while len(self.closed_after) < len(self.sockets):
            now = time.monotonic()
            if now - self.started > DEADLINE:
                return
            open_ = [s for s in self.sockets if s not in self.closed_after]
            if now >= next_byte:
                for sock in open_:
                    if self.sockets[sock] == "stalled":
                        continue
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

    def answered(self, kind: str) -> list[bytes]:
        return [answer for sock, answer in self.answers.items() if self.sockets[sock] == kind]

    def close(self) -> None:
        self.thread.join(DEADLINE + 5)
        for sock in self.sockets:
            sock.close()


@needs_nginx
def test_a_request_is_answered_while_100_slow_clients_are_connected(tmp_path):
    env, token = _production_server_env(tmp_path)
    with serve(env, headers=HTTPS) as base:
        slow = SlowClients(urlsplit(base).netloc, token, body=50, headers=40, stalled=10)
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
    assert still_open >= 90  # the slow clients were connected meanwhile
    # Every slow client was closed by the server in bounded time, however fast it trickled:
    # headers within CLIENT_TIMEOUT of connecting, a body that stopped CLIENT_TIMEOUT after
    # its last byte, and a body still trickling at its deadline (CLIENT_BODY_DEADLINE and its
    # length at CLIENT_MIN_BODY_RATE) with a 408 saying so.
    assert len(slow.closed_after) == 100
    assert max(slow.closed("headers")) < CLIENT_TIMEOUT + 2 < ALLOWED
    assert max(slow.closed("stalled")) < CLIENT_TIMEOUT + 2
    assert min(slow.closed("body")) > ALLOWED - 1
    assert max(slow.closed("body")) < ALLOWED + 2
    deadline_answer = b'{"detail": "The request body did not arrive within %d seconds."}' % ALLOWED
    for answer in slow.answered("body"):
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b"Content-Type: application/json" in answer
        assert answer.endswith(deadline_answer)
    # Nothing reached the app: no manifest was created from the spaces.
    count = "from manifests.models import Manifest; print(Manifest.all_objects.count())"
    assert manage(env, "shell", "--no-imports", "-c", count).stdout.strip() == "0"


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


def _chunked(netloc: str, token: str, chunks) -> tuple[int, str, dict]:
    """POST /api/manifests with a chunked JSON body, as curl -H 'Transfer-Encoding: chunked'
    sends it; the answer's status, content type and JSON."""
    client = http.client.HTTPConnection(netloc, timeout=10)
    client.putrequest("POST", "/api/manifests")
    for name, value in {
        **HTTPS,
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }.items():
        client.putheader(name, value)
    client.endheaders()
    try:
        for chunk in chunks:
            client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        client.send(b"0\r\n\r\n")
    except OSError:
        pass  # refused before the end: the answer says why
    answer = client.getresponse()
    return answer.status, answer.headers["Content-Type"], json.loads(answer.read())


@needs_nginx
def test_chunked_bodies_pass_through_the_body_deadline_within_the_size_limit(tmp_path):
    env, token = _production_server_env(tmp_path)
    env.update(VIDPIPE_MAX_UPLOAD_BYTES="1000")  # nginx's limit: 1000 bytes + 1 MB
    with serve(env, headers=HTTPS) as base:
        netloc = urlsplit(base).netloc
        status, _, created = _chunked(netloc, token, [b'{"name": ', b'"Chunked cast"}'])
        assert status == 201, created
        assert created["name"] == "Chunked cast"

        # 3 MB of chunks: refused by nginx once past its limit, never passed on.
        status, content_type, refused = _chunked(netloc, token, [b" " * 65536] * 48)
        assert (status, content_type) == (413, "application/json")
        assert "larger than" in refused["detail"]
    listed = manage(
        env,
        "shell",
        "--no-imports",
        "-c",
        "from manifests.models import Manifest; "
        "print(list(Manifest.all_objects.values_list('name', flat=True)))",
    )
    assert listed.stdout.strip() == "['Chunked cast']"


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)")
def test_make_serve_without_the_lua_module_says_what_to_install(tmp_path):
    env = production_env(tmp_path, NGINX_MODULES=str(tmp_path / "no-modules"))
    finished = subprocess.run(
        [sys.executable, "-m", "vidpipe.serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip() == (
        f"make serve: nginx's Lua module is not in {tmp_path / 'no-modules'} (missing "
        "ndk_http_module.so, ngx_http_lua_module.so; Debian: apt-get install "
        "libnginx-mod-http-lua, or set NGINX_MODULES)"
    )


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart body as Django's test client encodes it (field, file name, bytes per
    file; a field may repeat), and its Content-Type."""
    data: dict = dict(fields)
    for field, filename, content in files:
        data.setdefault(field, []).append(make.upload(content, filename))
    return encode_multipart(BOUNDARY, data), MULTIPART_CONTENT


@needs_nginx
def test_bulk_uploads_and_bundles_may_be_larger_than_one_image_behind_make_serve(tmp_path):
    # nginx holds each route to its own body limit (manifests.body_limits): 14 images of
    # ~92 KB pass on the bulk route and, as a bundle, on the import route, where a route for
    # one image (100 KB and the 1 MB margin) refuses the same body before reading it.
    env, token = _production_server_env(tmp_path)
    env.update(VIDPIPE_MAX_UPLOAD_BYTES=str(100_000))
    images = []
    for _ in range(14):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (175, 175), os.urandom(175 * 175 * 3)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    headers = {**HTTPS, "Authorization": f"Token {token}"}
    with serve(env, headers=HTTPS) as base:
        netloc = urlsplit(base).netloc

        def post(path: str, body: bytes, content_type: str) -> tuple[int, dict]:
            client = http.client.HTTPConnection(netloc, timeout=30)
            client.request("POST", path, body, {**headers, "Content-Type": content_type})
            answer = client.getresponse()
            return answer.status, json.loads(answer.read())

        status, manifest = post("/api/manifests", b'{"name": "Props"}', "application/json")
        assert status == 201, manifest
        body, content_type = _multipart(
            {"asset_type": "OBJECT"},
            [("files", f"prop_{n}.png", content) for n, content in enumerate(images)],
        )
        one_image = 100_000 + 1024 * 1024
        assert len(body) > one_image
        status, bulk = post(f"/api/manifests/{manifest['id']}/assets/bulk", body, content_type)
        assert status == 201, bulk
        assert len(bulk["created"]) == 14

        # The same body where one image is the limit: nginx's 413, naming that limit.
        asset = bulk["created"][0]["id"]
        status, refused = post(f"/api/assets/{asset}/upload", body, content_type)
        assert status == 413
        assert refused == {"detail": f"The request body is larger than {one_image} bytes."}

        export = f"{base}/api/manifests/{manifest['id']}/export"
        request = urllib.request.Request(export, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as exported:
            bundle = exported.read()
        body, content_type = _multipart(
            {"name": "Props (imported)"}, [("bundle", "props.zip", bundle)]
        )
        assert len(body) > one_image
        status, imported = post("/api/manifests/import", body, content_type)
        assert status == 201, imported
        assert imported["asset_count"] == 14


@pytest.fixture
def readable_media_root() -> Iterator[Path]:
    """A MEDIA_ROOT nginx's workers may read (nobody, when started as root): not under
    pytest's private temporary folder."""
    media = Path(tempfile.mkdtemp(prefix="vidpipe-media-"))
    media.chmod(0o755)
    yield media
    shutil.rmtree(media, ignore_errors=True)


@needs_nginx
def test_media_behind_make_serve_needs_a_signed_url_and_nginx_sends_the_bytes(
    tmp_path, readable_media_root
):
    # The API hands out a signed URL; gunicorn checks it and nginx sends the file from its
    # internal location (X-Accel-Redirect); a bare URL, a tampered one and the internal
    # location itself give nothing.
    env, token = _production_server_env(tmp_path)
    env["MEDIA_ROOT"] = str(readable_media_root)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (60, 40), os.urandom(60 * 40 * 3)).save(buffer, "PNG")
    content = buffer.getvalue()
    auth = {"Authorization": f"Token {token}"}
    with serve(env, headers=HTTPS) as base:
        netloc = urlsplit(base).netloc

        def request(path: str, body: bytes | None = None, content_type: str = "", **more):
            client = http.client.HTTPConnection(netloc, timeout=30)
            headers = {**HTTPS, **more, **({"Content-Type": content_type} if body else {})}
            client.request("POST" if body else "GET", path, body, headers)
            answer = client.getresponse()
            return answer.status, answer.headers, answer.read()

        def created(path: str, fields: dict) -> dict:
            status, _, answer = request(path, json.dumps(fields).encode(), JSON, **auth)
            assert status == 201, answer
            return json.loads(answer)

        manifest = created("/api/manifests", {"name": "Cast"})
        fields = {"name": "Lead", "asset_type": "CHARACTER"}
        asset = created(f"/api/manifests/{manifest['id']}/assets", fields)
        body, content_type = _multipart({}, [("file", "lead.png", content)])
        upload = f"/api/assets/{asset['id']}/upload"
        status, _, uploaded = request(upload, body, content_type, **auth)
        assert status == 200, uploaded
        url = urlsplit(json.loads(uploaded)["reference_image_url"])
        assert url.path.startswith("/media/manifests/") and "signature=" in url.query

        status, served_headers, served = request(f"{url.path}?{url.query}")
        assert (status, hashlib.sha256(served).hexdigest()) == (
            200,
            hashlib.sha256(content).hexdigest(),
        )
        assert served_headers["Content-Type"] == "image/png"
        assert "nosniff" in served_headers["X-Content-Type-Options"]
        assert served_headers["Cache-Control"].startswith("private, max-age=")
        assert "X-Accel-Redirect" not in served_headers  # nginx acted on it

        name = url.path.removeprefix("/media/")
        tampered = url.query.replace("signature=", "signature=x")
        for path, refused_with in [
            (url.path, 403),
            (f"{url.path}?{tampered}", 403),
            (f"/_protected_media/{name}", 404),
            (f"/_protected_media/{name}?{url.query}", 404),
        ]:
            status, _, answer = request(path)
            assert status == refused_with, path
            assert content not in answer and b"PNG" not in answer, path
