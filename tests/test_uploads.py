"""Image uploads: where they go, what is accepted, and that a refusal changes nothing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from manifests.models import Asset, Manifest
from tests.conftest import image_bytes, image_upload, stored_files


@pytest.fixture
def asset(make_manifest, make_asset):
    return make_asset(make_manifest())


def upload(api, asset, file):
    return api.post(f"/api/assets/{asset.pk}/upload", {"file": file}, format="multipart")


def originals(media_root) -> list[str]:
    """Stored reference images (each also has a thumbnail: see test_thumbnails.py)."""
    return [name for name in stored_files(media_root) if "/uploads/" in name]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_each_accepted_format_is_stored_with_its_metadata(api, asset, media_root, fmt):
    data = image_bytes(fmt, size=(12, 7))

    response = upload(api, asset, SimpleUploadedFile("photo.bin", data))

    assert response.status_code == 200, response.data
    body = response.json()
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}[fmt]
    name = f"manifests/{asset.manifest_id}/uploads/{asset.pk}_photo.{extension}"
    assert body["reference_image_url"] == f"http://testserver/media/{name}"
    assert (body["image_format"], body["image_width"], body["image_height"]) == (fmt, 12, 7)
    assert len(body["image_sha256"]) == 64
    assert (media_root / name).read_bytes() == data


def test_upload_also_works_under_the_manifest(api, asset):
    url = f"/api/manifests/{asset.manifest_id}/assets/{asset.pk}/upload/"
    response = api.post(url, {"file": image_upload()}, format="multipart")
    assert response.status_code == 200


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


def test_images_over_the_pixel_limit_are_refused(api, asset, settings, media_root):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 100
    response = upload(api, asset, image_upload(size=(20, 20)))
    assert response.status_code == 400
    assert "limit is 100 pixels" in response.json()["file"][0]
    assert stored_files(media_root) == []


def test_oversized_upload_is_413_and_stores_nothing(api, asset, settings, media_root):
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 1000
    big = image_bytes("PNG", size=(4, 4)) + b"\0" * 200_000  # trailing junk, still a PNG

    response = upload(api, asset, SimpleUploadedFile("big.png", big))

    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert stored_files(media_root) == []


def test_file_just_over_the_limit_is_413_from_its_size(api, asset, settings, media_root):
    data = image_bytes("PNG")
    settings.VIDPIPE_MAX_UPLOAD_BYTES = len(data) - 1

    response = upload(api, asset, SimpleUploadedFile("big.png", data))

    assert response.status_code == 413
    assert Asset.objects.get(pk=asset.pk).reference_image.name == ""


def test_missing_file_field_is_400(api, asset):
    response = api.post(f"/api/assets/{asset.pk}/upload", {"image": "x"}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_json_body_on_upload_is_415(api, asset):
    response = api.post(f"/api/assets/{asset.pk}/upload", {"file": "x"}, format="json")
    assert response.status_code == 415
