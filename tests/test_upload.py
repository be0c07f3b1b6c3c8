"""Uploading reference images through the API: accepted formats and hostile input."""

import hashlib

import pytest
from django.forms.models import model_to_dict
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart
from PIL import Image
from rest_framework.test import APIClient

from manifests.models import Asset
from manifests.views import MULTIPART_OVERHEAD_BYTES
from tests import image_factories as make
from tests.conftest import stored_files


@pytest.fixture
def asset(make_manifest, make_asset):
    return make_asset(make_manifest())


def post_upload(api, asset, content: bytes, name: str = "upload.png", **extra):
    return api.post(
        f"/api/assets/{asset.pk}/upload",
        {"file": make.upload(content, name)},
        format="multipart",
        **extra,
    )


def snapshot(asset: Asset, media_root) -> tuple[dict, list[str]]:
    """The asset's row and every stored file: what a refused upload must not change."""
    row = model_to_dict(Asset.all_objects.get(pk=asset.pk))
    row.update(updated_at=Asset.all_objects.get(pk=asset.pk).updated_at)
    return row, stored_files(media_root)


@pytest.mark.parametrize(
    ("fmt", "mode", "extension", "content_type"),
    [
        ("JPEG", "RGB", "jpg", "image/jpeg"),
        ("PNG", "RGBA", "png", "image/png"),
        ("WEBP", "RGBA", "webp", "image/webp"),
        ("GIF", "P", "gif", "image/gif"),
    ],
)
def test_upload_accepts_each_format_and_records_its_metadata(
    api, asset, media_root, fmt, mode, extension, content_type
):
    content = make.encode(Image.new(mode, (120, 80)), fmt)

    response = post_upload(api, asset, content, name="Hero Portrait.bin")

    assert response.status_code == 200, response.data
    body = response.json()
    assert body["image_format"] == fmt
    assert (body["image_width"], body["image_height"]) == (120, 80)
    assert body["image_sha256"] == hashlib.sha256(content).hexdigest()
    assert body["reference_image_url"].endswith(f"/{asset.pk}_Hero_Portrait.{extension}")
    served = api.get(body["reference_image_url"])
    assert served["Content-Type"] == content_type
    assert b"".join(served.streaming_content) == content  # the original, byte for byte
    assert api.get(f"/api/assets/{asset.pk}").json()["image_sha256"] == body["image_sha256"]


def test_upload_stores_a_sanitised_name_with_the_decoded_extension(api, asset, media_root):
    content = make.encode(Image.new("RGB", (10, 10)), "PNG")

    response = post_upload(api, asset, content, name="../../x/\x07evil<script>.html")

    assert response.status_code == 200, response.data
    uploads = [f for f in stored_files(media_root) if "/uploads/" in f]
    assert uploads == [f"manifests/{asset.manifest_id}/uploads/{asset.pk}_evilscript.png"]
    assert api.get(response.json()["reference_image_url"])["Content-Type"] == "image/png"


HOSTILE = {
    "svg-renamed-png": (make.SVG, "not an image"),
    "html-renamed-png": (make.HTML, "not an image"),
    "text-renamed-png": (make.TEXT, "not an image"),
    "zero-bytes": (b"", "empty"),
    "truncated-jpeg": (make.truncated(make.noisy_jpeg((200, 200))), "truncated"),
    "truncated-png": (make.truncated(make.encode(Image.new("RGB", (200, 200)), "PNG")), "trunc"),
    "png-bomb-50000x50000": (make.png_bomb(), "pixels"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_upload_is_refused_and_changes_nothing(api, asset, media_root, case):
    content, message = HOSTILE[case]
    assert post_upload(api, asset, make.encode(Image.new("RGB", (9, 9)), "PNG")).status_code == 200
    before = snapshot(asset, media_root)

    response = post_upload(api, asset, content, name="innocent.png")

    assert response.status_code == 400
    assert message in response.json()["file"][0]
    assert snapshot(asset, media_root) == before


def test_upload_over_the_pixel_limit_is_refused(api, asset, media_root, settings):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 100 * 100
    before = snapshot(asset, media_root)

    response = post_upload(api, asset, make.encode(Image.new("L", (101, 100)), "PNG"))

    assert response.status_code == 400
    assert "101x100 pixels; the limit is 10000" in response.json()["file"][0]
    assert snapshot(asset, media_root) == before


def test_animation_over_the_frame_limit_is_refused(api, asset, media_root, settings):
    settings.VIDPIPE_MAX_IMAGE_FRAMES = 4
    before = snapshot(asset, media_root)

    response = post_upload(api, asset, make.animated_gif(5), name="loop.gif")

    assert response.status_code == 400
    assert "5 frames; the limit is 4" in response.json()["file"][0]
    assert snapshot(asset, media_root) == before
    assert post_upload(api, asset, make.animated_gif(4), name="loop.gif").status_code == 200


class CountingPayload(FakePayload):
    """The request body as the server would stream it, counting what the app reads."""

    def __init__(self, content: bytes):
        super().__init__(content)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def raw_multipart_post(client, asset, content: bytes, **extra):
    body = encode_multipart(BOUNDARY, {"file": make.upload(content, "big.jpg")})
    payload = CountingPayload(body)
    response = client.generic(
        "POST",
        f"/api/assets/{asset.pk}/upload",
        body,
        content_type=MULTIPART_CONTENT,
        **{"wsgi.input": payload, **extra},
    )
    return response, payload, len(body)


def test_declared_oversized_body_is_refused_before_reading_it(api, asset, media_root, settings):
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 100_000
    before = snapshot(asset, media_root)

    response, payload, _ = raw_multipart_post(api, asset, b"\xff" * 400_000)

    assert response.status_code == 413
    assert "at most 100000 bytes" in response.json()["detail"]
    assert payload.bytes_read == 0
    assert snapshot(asset, media_root) == before


def test_oversized_file_within_the_declared_slack_stops_the_parse(api, asset, media_root, settings):
    """Content-Length passes the view's check (envelope slack), the file itself does not."""
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 100_000
    before = snapshot(asset, media_root)

    response, _, length = raw_multipart_post(api, asset, b"\xff" * 130_000)

    assert 100_000 < length < 100_000 + MULTIPART_OVERHEAD_BYTES
    assert response.status_code == 413
    assert "larger than the limit of 100000 bytes" in response.json()["detail"]
    assert snapshot(asset, media_root) == before


def test_oversized_file_is_refused_while_streaming_when_the_body_is_read_early(
    staff_user, asset, media_root, settings, tmp_path
):
    """With session authentication the CSRF check reads the form before the view's own
    Content-Length check: the upload handler must stop reading at the size limit."""
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 100_000
    settings.FILE_UPLOAD_TEMP_DIR = spool = tmp_path / "spool"
    spool.mkdir()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    csrf = "a" * 32
    client.cookies["csrftoken"] = csrf
    before = snapshot(asset, media_root)

    response, payload, length = raw_multipart_post(
        client, asset, b"\xff" * 3_000_000, HTTP_X_CSRFTOKEN=csrf
    )

    assert response.status_code == 413
    assert "larger than the limit of 100000 bytes" in response.json()["detail"]
    assert payload.bytes_read < 300_000 < length
    assert snapshot(asset, media_root) == before
    assert list(spool.iterdir()) == []  # the partial temporary file is gone


def test_session_upload_under_the_limit_still_works(staff_user, asset, settings):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    client.cookies["csrftoken"] = "b" * 32

    response = client.post(
        f"/api/assets/{asset.pk}/upload",
        {"file": make.upload(make.encode(Image.new("RGB", (20, 20)), "JPEG"), "ok.jpg")},
        format="multipart",
        HTTP_X_CSRFTOKEN="b" * 32,
    )

    assert response.status_code == 200, response.content
    assert response.json()["image_format"] == "JPEG"


def test_reader_cannot_upload(reader_api, asset, media_root):
    response = post_upload(reader_api, asset, make.encode(Image.new("RGB", (9, 9)), "PNG"))

    assert response.status_code == 403
    assert stored_files(media_root) == []
