"""Uploading reference images through the API: which formats are accepted, where and under
which name they are stored, and that hostile, oversized or malformed uploads are refused
without changing anything."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart
from PIL import Image
from rest_framework.test import APIClient

from manifests.models import Asset, Manifest
from manifests.views import MULTIPART_OVERHEAD_BYTES
from tests import image_factories as make
from tests.conftest import (
    fetch,
    file_name_of,
    image_bytes,
    image_upload,
    stored_bytes,
    stored_files,
)

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py


@pytest.fixture
def asset(make_manifest, make_asset):
    return make_asset(make_manifest())


def upload(api, asset, file):
    """POST `file` to the asset's upload action, as a multipart form."""
    return api.post(f"/api/assets/{asset.pk}/upload", {"file": file}, format="multipart")


def originals(media_root) -> list[str]:
    """Stored reference images (each also has a thumbnail: see test_thumbnails.py)."""
    return [name for name in stored_files(media_root) if "/uploads/" in name]


def snapshot(asset: Asset, media_root) -> tuple[dict, list[str]]:
    """The asset's row and every stored file: what a refused upload must not change."""
    row = model_to_dict(Asset.all_objects.get(pk=asset.pk))
    row.update(updated_at=Asset.all_objects.get(pk=asset.pk).updated_at)
    return row, stored_files(media_root)


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


# --- accepted formats and stored names -------------------------------------------------------


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

    response = upload(api, asset, make.upload(content, "Hero Portrait.bin"))

    assert response.status_code == 200, response.data
    body = response.json()
    assert body["image_format"] == fmt
    assert (body["image_width"], body["image_height"]) == (120, 80)
    assert body["image_sha256"] == hashlib.sha256(content).hexdigest()
    assert file_name_of(body["reference_image_url"]).endswith(
        f"/{asset.pk}_Hero_Portrait.{extension}"
    )
    # the original, byte for byte
    assert fetch(api, body["reference_image_url"]) == (content_type, content)
    assert api.get(f"/api/assets/{asset.pk}").json()["image_sha256"] == body["image_sha256"]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_each_accepted_format_is_stored_with_its_metadata(api, asset, media_root, fmt):
    data = image_bytes(fmt, size=(12, 7))

    response = upload(api, asset, SimpleUploadedFile("photo.bin", data))

    assert response.status_code == 200, response.data
    body = response.json()
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}[fmt]
    name = f"manifests/{asset.manifest_id}/uploads/{asset.pk}_photo.{extension}"
    assert file_name_of(body["reference_image_url"]) == name
    assert (body["image_format"], body["image_width"], body["image_height"]) == (fmt, 12, 7)
    assert len(body["image_sha256"]) == 64
    assert stored_bytes(media_root, name) == data


def test_upload_also_works_under_the_manifest(api, asset):
    url = f"/api/manifests/{asset.manifest_id}/assets/{asset.pk}/upload/"
    response = api.post(url, {"file": image_upload()}, format="multipart")
    assert response.status_code == 200


def test_upload_stores_a_sanitised_name_with_the_decoded_extension(api, asset, media_root):
    content = make.encode(Image.new("RGB", (10, 10)), "PNG")

    response = upload(api, asset, make.upload(content, "../../x/\x07evil<script>.html"))

    assert response.status_code == 200, response.data
    assert originals(media_root) == [
        f"manifests/{asset.manifest_id}/uploads/{asset.pk}_evilscript.png"
    ]
    assert fetch(api, response.json()["reference_image_url"])[0] == "image/png"


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..\\..\\win.png", "win.png"),
        ("we ird\x00\x1fname.png", "we_irdname.png"),
        ("....png", "png.png"),
        ("script.html", "script.png"),
        ("x" * 300 + ".png", "x" * 96 + ".png"),
        ("漢" * 120 + ".png", "漢" * 32 + ".png"),  # 255 bytes is a file system's limit
    ],
)
def test_stored_names_are_sanitised(api, asset, media_root, name, stored):
    response = upload(api, asset, SimpleUploadedFile(name, image_bytes("PNG")))

    assert response.status_code == 200, response.data
    assert originals(media_root) == [f"manifests/{asset.manifest_id}/uploads/{asset.pk}_{stored}"]


# --- replacing and deleting ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # files go only once the change commits
def test_replacing_an_image_removes_the_old_file(api, asset, media_root):
    upload(api, asset, image_upload("first.png"))

    upload(api, asset, image_upload("second.png", color="blue"))

    assert originals(media_root) == [f"manifests/{asset.manifest_id}/uploads/{asset.pk}_second.png"]
    assert len(stored_files(media_root)) == 2  # and its one thumbnail


@pytest.mark.django_db(transaction=True)  # files go only once the change commits
def test_deleting_an_asset_removes_its_file(api, asset, media_root):
    upload(api, asset, image_upload())
    assert api.delete(f"/api/assets/{asset.pk}").status_code == 204
    assert stored_files(media_root) == []
    assert Manifest.objects.get(pk=asset.manifest_id).asset_count == 0


# --- refused content -------------------------------------------------------------------------


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
    first = make.upload(make.encode(Image.new("RGB", (9, 9)), "PNG"))
    assert upload(api, asset, first).status_code == 200
    before = snapshot(asset, media_root)

    response = upload(api, asset, make.upload(content, "innocent.png"))

    assert response.status_code == 400
    assert message in response.json()["file"][0]
    assert snapshot(asset, media_root) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "not an image"),
        (b"<html><script>alert(1)</script></html>", "not an image"),
        (image_bytes("PNG", size=(64, 64))[:60], "damaged or truncated"),
        (image_bytes("BMP"), "not accepted"),
        (image_bytes("TIFF"), "not accepted"),
    ],
)
def test_non_images_are_refused_and_nothing_changes(api, asset, media_root, content, message):
    before = Asset.objects.values().get(pk=asset.pk)

    response = upload(api, asset, SimpleUploadedFile("evil.png", content, "image/png"))

    assert response.status_code == 400
    assert message in str(response.json()["file"])
    assert Asset.objects.values().get(pk=asset.pk) == before
    assert stored_files(media_root) == []


def test_refused_replacement_keeps_the_previous_image(api, asset, media_root):
    upload(api, asset, image_upload("good.png"))
    before_files = stored_files(media_root)
    before = Asset.objects.values().get(pk=asset.pk)

    response = upload(api, asset, SimpleUploadedFile("bad.png", b"nope"))

    assert response.status_code == 400
    assert Asset.objects.values().get(pk=asset.pk) == before
    assert stored_files(media_root) == before_files


def test_upload_over_the_pixel_limit_is_refused(api, asset, media_root, settings):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 100 * 100
    before = snapshot(asset, media_root)

    response = upload(api, asset, make.upload(make.encode(Image.new("L", (101, 100)), "PNG")))

    assert response.status_code == 400
    assert "101x100 pixels; the limit is 10000" in response.json()["file"][0]
    assert snapshot(asset, media_root) == before


def test_animation_over_the_frame_limit_is_refused(api, asset, media_root, settings):
    settings.VIDPIPE_MAX_IMAGE_FRAMES = 4
    before = snapshot(asset, media_root)

    response = upload(api, asset, make.upload(make.animated_gif(5), "loop.gif"))

    assert response.status_code == 400
    assert "5 frames; the limit is 4" in response.json()["file"][0]
    assert snapshot(asset, media_root) == before
    assert upload(api, asset, make.upload(make.animated_gif(4), "loop.gif")).status_code == 200


# --- request size ----------------------------------------------------------------------------


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


def test_file_just_over_the_limit_is_413_from_its_size(api, asset, settings, media_root):
    data = image_bytes("PNG")
    settings.VIDPIPE_MAX_UPLOAD_BYTES = len(data) - 1

    response = upload(api, asset, SimpleUploadedFile("big.png", data))

    assert response.status_code == 413
    assert Asset.objects.get(pk=asset.pk).reference_image.name == ""


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


# --- malformed requests and rights -----------------------------------------------------------


@pytest.mark.parametrize("filename", ["..", ".", "", "/", "a/.."])
def test_degenerate_client_file_names_are_refused_cleanly(api, asset, media_root, filename):
    boundary = "xyzzy"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + image_bytes("PNG")
        + f"\r\n--{boundary}--\r\n".encode()
    )

    response = api.generic(
        "POST",
        f"/api/assets/{asset.pk}/upload",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )

    assert response.status_code == 400  # Django's multipart parser drops such names
    assert "file" in response.json()
    assert stored_files(media_root) == []


def test_missing_file_field_is_400(api, asset):
    response = api.post(f"/api/assets/{asset.pk}/upload", {"image": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_json_body_on_upload_is_415(api, asset):
    response = api.post(f"/api/assets/{asset.pk}/upload", {"file": "x"}, format="json")
    assert response.status_code == 415


def test_reader_cannot_upload(reader_api, asset, media_root):
    response = upload(reader_api, asset, make.upload(make.encode(Image.new("RGB", (9, 9)), "PNG")))

    assert response.status_code == 403
    assert stored_files(media_root) == []
