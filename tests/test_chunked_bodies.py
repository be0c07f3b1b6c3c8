"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length): accepted
within the same size limits as any body, refused with 413 past them without being read
whole, never mistaken for an empty body."""

import http.client
import io
import json
import os
import socket
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart
from PIL import Image
from rest_framework.authtoken.models import Token

from manifests.models import Asset, Manifest
from tests import image_factories as make
from tests.conftest import image_bytes, stored_files
from tests.processes import gunicorn, manage, production_env


class StreamedBody:
    """What a WSGI server puts in `wsgi.input` for a chunked body: the decoded bytes, read
    piece by piece, ending in b"". `size` bytes of `content` repeated, made as they are read,
    so that a huge body is never in memory; counts what the app reads."""

    def __init__(self, content: bytes, size: int | None = None):
        self.content = content
        self.size = len(content) if size is None else size
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        left = self.size - self.bytes_read
        size = left if size is None or size < 0 else min(size, left)
        start = self.bytes_read % len(self.content)
        piece = (self.content[start:] + self.content * (size // len(self.content) + 1))[:size]
        self.bytes_read += len(piece)
        return piece

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def chunked(client, method: str, path: str, body: StreamedBody, content_type: str):
    """Send `body` as a WSGI server passes a chunked request: no CONTENT_LENGTH."""
    return client.request(
        REQUEST_METHOD=method,
        PATH_INFO=path,
        CONTENT_TYPE=content_type,
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": body},
    )


@pytest.fixture
def asset(make_manifest, make_asset):
    return make_asset(make_manifest())


def test_chunked_json_create_is_accepted(api, db):
    body = StreamedBody(json.dumps({"name": "Chunked cast", "category": "MIXED"}).encode())
    response = chunked(api, "POST", "/api/manifests", body, "application/json")
    assert response.status_code == 201, response.content
    assert Manifest.objects.get().name == "Chunked cast"


def test_chunked_multipart_upload_is_accepted(api, asset, media_root):
    content = image_bytes("PNG", size=(40, 30))
    form = encode_multipart(BOUNDARY, {"file": make.upload(content, "hero.png")})
    response = chunked(
        api, "POST", f"/api/assets/{asset.pk}/upload", StreamedBody(form), MULTIPART_CONTENT
    )
    assert response.status_code == 200, response.content
    stored = Asset.objects.get(pk=asset.pk)
    assert (stored.image_width, stored.image_height) == (40, 30)
    assert stored.reference_image.read() == content


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels, about side * side * 3 bytes."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def test_chunked_bulk_upload_may_carry_more_than_one_image(
    api, make_manifest, settings, media_root
):
    # A bulk upload's chunked body is held to the bulk limit (manifests.body_limits), not to
    # the one-image limit that would refuse it.
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 25_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    manifest = make_manifest()
    images = [noise_png(80) for _ in range(3)]  # about 19 KB each
    form = encode_multipart(
        BOUNDARY,
        {
            "asset_type": "OBJECT",
            "files": [make.upload(content, f"prop_{n}.png") for n, content in enumerate(images)],
        },
    )
    assert len(form) > 25_000 + 1024  # over what a one-image route takes
    response = chunked(
        api,
        "POST",
        f"/api/manifests/{manifest.pk}/assets/bulk",
        StreamedBody(form),
        MULTIPART_CONTENT,
    )
    assert response.status_code == 201, response.content
    assert [a["name"] for a in response.json()["created"]] == ["prop 0", "prop 1", "prop 2"]
    stored = Asset.objects.filter(manifest=manifest).order_by("sort_order")
    assert [a.reference_image.read() for a in stored] == images


def test_chunked_json_over_the_memory_limit_is_413_unread(api, settings, db):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = StreamedBody(b'{"name": "x", "description": "' + b"y" * 5000 + b'"}')
    response = chunked(api, "POST", "/api/manifests", body, "application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The chunked request body is over the limit of 1024 bytes."
    }
    assert body.bytes_read <= 1025
    assert Manifest.objects.count() == 0


def test_chunked_gigabyte_upload_is_refused_after_the_limit(api, asset, settings, media_root):
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 1024 * 1024
    limit = 1024 * 1024 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    head = encode_multipart(BOUNDARY, {"file": make.upload(b"\x89PNG" + b"x" * 1000)})[:-100]
    body = StreamedBody(head + b"x" * 4096, size=1024**3)
    response = chunked(api, "POST", f"/api/assets/{asset.pk}/upload", body, MULTIPART_CONTENT)
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"The chunked request body is over the limit of {limit} bytes."
    }
    assert body.bytes_read <= limit + 1  # not the gigabyte
    assert not Asset.objects.get(pk=asset.pk).reference_image
    assert stored_files(media_root) == []


def test_chunked_upload_of_a_file_over_the_limit_is_413_from_the_upload_handler(
    api, asset, settings, media_root
):
    # Within the body limit (fields' allowance), over the file limit: the usual 413.
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 2000
    form = encode_multipart(BOUNDARY, {"file": make.upload(b"x" * 3000, "big.png")})
    response = chunked(
        api, "POST", f"/api/assets/{asset.pk}/upload", StreamedBody(form), MULTIPART_CONTENT
    )
    assert response.status_code == 413
    assert "2000 bytes" in response.json()["detail"]
    assert stored_files(media_root) == []


def test_a_body_with_a_content_length_is_left_alone(api, db):
    response = api.post("/api/manifests", {"name": "Plain"}, format="json")
    assert response.status_code == 201


def test_chunked_json_through_django_asgi_handler_is_accepted(staff_user, settings):
    # An ASGI server hands Django the decoded body with no length: as uvicorn would.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    token = Token.objects.create(user=staff_user).key
    client = AsyncClient()

    def send(body: bytes):
        return async_to_sync(client.request)(
            method="POST",
            path="/api/manifests",
            query_string="",
            headers=[
                (b"host", b"testserver"),
                (b"content-type", b"application/json"),
                (b"transfer-encoding", b"chunked"),
                (b"authorization", f"Token {token}".encode()),
            ],
            _body_file=FakePayload(body),
        )

    created = send(json.dumps({"name": "Via ASGI"}).encode())
    assert created.status_code == 201, created.content
    too_large = send(json.dumps({"name": "x", "description": "y" * 5000}).encode())
    assert too_large.status_code == 413
    assert Manifest.objects.get().name == "Via ASGI"


# --- through gunicorn: chunked on the wire --------------------------------------------------


@pytest.fixture
def production_server(tmp_path):
    """gunicorn on production settings (plain HTTP allowed) and a staff token for it."""
    env = production_env(
        tmp_path,
        DJANGO_SECURE_SSL_REDIRECT="0",
        VIDPIPE_MAX_UPLOAD_BYTES=str(256 * 1024),
        DJANGO_SUPERUSER_USERNAME="curator",
        DJANGO_SUPERUSER_PASSWORD="a-long-test-password",
        DJANGO_SUPERUSER_EMAIL="",
    )
    manage(env, "migrate", "--noinput")
    manage(env, "createsuperuser", "--noinput")
    token = manage(env, "drf_create_token", "curator").stdout.split()[2]
    with gunicorn(env) as base:
        yield urlsplit(base).netloc, {"Authorization": f"Token {token}"}


def send_chunked(netloc: str, path: str, headers: dict, pieces) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(netloc, timeout=20)
    try:
        connection.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_gunicorn_accepts_chunked_json_and_uploads(production_server):
    netloc, auth = production_server
    created = send_chunked(
        netloc,
        "/api/manifests",
        {**auth, "Content-Type": "application/json"},
        iter([b'{"name": "Over', b' the wire"}']),
    )
    assert created[0] == 201, created
    assert created[1]["name"] == "Over the wire"
    manifest = created[1]["id"]
    asset = send_chunked(
        netloc,
        f"/api/manifests/{manifest}/assets",
        {**auth, "Content-Type": "application/json"},
        iter([b'{"name": "Hero", "asset_type": "CHARACTER"}']),
    )
    assert asset[0] == 201, asset
    form = encode_multipart(BOUNDARY, {"file": make.upload(image_bytes("PNG"), "hero.png")})
    uploaded = send_chunked(
        netloc,
        f"/api/assets/{asset[1]['id']}/upload",
        {**auth, "Content-Type": MULTIPART_CONTENT},
        (form[i : i + 100] for i in range(0, len(form), 100)),
    )
    assert uploaded[0] == 200, uploaded
    assert uploaded[1]["image_width"] == 8


def test_gunicorn_refuses_a_chunked_body_past_the_limit_before_it_ends(production_server):
    netloc, auth = production_server
    limit = 256 * 1024 + 2_621_440  # the file limit plus Django's default fields allowance
    # Just past the limit, and no last chunk: the body has not ended, and could go on for
    # a gigabyte. Sending no more than the server reads (gunicorn decodes 1 KiB at a time)
    # lets it close cleanly: a close with unread bytes resets the connection, and the
    # reset may overtake the answer.
    total = limit + 1024
    pieces = [64 * 1024] * (total // (64 * 1024)) + [total % (64 * 1024)]
    with socket.create_connection(netloc.split(":"), timeout=20) as raw:
        raw.sendall(
            (
                f"POST /api/manifests HTTP/1.1\r\nHost: {netloc}\r\nAuthorization: "
                f"{auth['Authorization']}\r\nContent-Type: {MULTIPART_CONTENT}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        for size in pieces:
            raw.sendall(b"%x\r\n%s\r\n" % (size, b"x" * size))
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert f"over the limit of {limit} bytes".encode() in answer
    assert b"\r\nContent-Length: " in answer


def test_gunicorn_answers_400_to_a_malformed_chunked_body(production_server):
    netloc, auth = production_server
    with socket.create_connection(netloc.split(":"), timeout=20) as raw:
        raw.sendall(
            f"POST /api/manifests HTTP/1.1\r\nHost: {netloc}\r\nAuthorization: "
            f"{auth['Authorization']}\r\nContent-Type: application/json\r\n"
            'Transfer-Encoding: chunked\r\n\r\n5\r\n{"na\r\nzz\r\nme\r\n0\r\n\r\n'.encode()
        )
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"The chunked request body is malformed or incomplete." in answer
