"""Stored files on an S3-protocol server (moto_server, tests/object_storage.py): what only
an object store shows. Presigned URLs that serve the exact bytes over HTTP, server-side
copies, listing in pages and deleting in batches outside any transaction, and a store that
refuses: 503 naming storage and no row changed, a failed removal left for the orphan sweep.

Run by the S3 pass (`VIDPIPE_TEST_STORAGE=s3 pytest -m s3`, .ci/run); the files tests
common to both backends run in that pass too, from their own modules.
"""

import hashlib
import logging
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from manifests import services
from manifests.files import backends
from manifests.media_urls import media_urls_expire
from manifests.models import Asset, Manifest
from tests import object_storage
from tests.conftest import image_upload, stored_files
from tests.object_storage import S3_PASS
from tests.ops_factories import files_of, manifest_with_images, row_counts, soft_deleted
from tests.processes import free_port

pytestmark = [
    pytest.mark.s3,
    pytest.mark.skipif(
        not S3_PASS, reason="object storage only: the S3 pass runs it (VIDPIPE_TEST_STORAGE=s3)"
    ),
]


@contextmanager
def s3_requests():
    """The S3 operations the app's storage sends meanwhile, with whether a transaction
    was open for each (a botocore event hook on the storage's own client: no mock)."""
    sent: list[tuple[str, bool]] = []
    events = default_storage.connection.meta.client.meta.events

    def record(model, **kwargs):
        sent.append((model.name, connection.in_atomic_block))

    events.register("before-call.s3", record)
    try:
        yield sent
    finally:
        events.unregister("before-call.s3", record)


def use_storage(settings, *, endpoint: str | None = None, bucket: str | None = None) -> None:
    """Point every file field at another bucket or endpoint (default: the current ones)."""
    current_endpoint, current_bucket = object_storage_target()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": object_storage.storage_settings(
            endpoint or current_endpoint, bucket or current_bucket
        ),
    }


def object_storage_target() -> tuple[str, str]:
    options = default_storage.connection.meta.client.meta
    return options.endpoint_url, default_storage.bucket_name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- URLs ------------------------------------------------------------------------------------


def test_reference_image_url_downloads_the_exact_bytes_over_http(api, make_manifest, make_asset):
    asset = make_asset(make_manifest())
    upload = image_upload("hero.png", size=(40, 30), color="teal")
    sent = upload.read()
    upload.seek(0)
    api.post(f"/api/assets/{asset.pk}/upload", {"file": upload}, format="multipart")

    body = api.get(f"/api/assets/{asset.pk}").json()
    url = body["reference_image_url"]

    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["3600"]  # VIDPIPE_MEDIA_URL_SECONDS
    assert "X-Amz-Signature" in query
    with urllib.request.urlopen(url, timeout=10) as response:
        downloaded = response.read()
        assert response.headers["Content-Type"] == "image/png"
    assert sha256(downloaded) == sha256(sent) == body["image_sha256"]


def test_a_bare_object_url_is_refused_by_the_store(api, make_manifest, make_asset):
    # Who may read the files, on S3: objects are stored private, so the URL without the
    # presigned query the API hands out reads nothing. (Checking the signature itself is the
    # store's work; moto_server does not, so a tampered signature is not tested here.)
    asset = make_asset(make_manifest())
    upload = image_upload("hero.png", size=(40, 30), color="teal")
    api.post(f"/api/assets/{asset.pk}/upload", {"file": upload}, format="multipart")
    url = api.get(f"/api/assets/{asset.pk}").json()["reference_image_url"]

    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(url.split("?", 1)[0], timeout=10)
    assert answer.value.code == 403
    assert b"PNG" not in answer.value.read()
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200


def test_a_public_base_url_gives_plain_unsigned_urls(settings):
    endpoint, bucket = object_storage_target()
    settings.STORAGES = {
        **settings.STORAGES,
        "default": object_storage.storage_settings(
            endpoint, bucket, public_base_url="https://cdn.example.com/media"
        ),
    }

    url = default_storage.url("manifests/x/uploads/hero.png")

    assert url == "https://cdn.example.com/media/manifests/x/uploads/hero.png"
    # Answers then hold lasting URLs: frozen versions may be cached for good again.
    assert media_urls_expire() is False


def test_presigned_urls_expire(api, db):
    assert media_urls_expire() is True


# --- duplicate: a server-side copy -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_duplicate_copies_on_the_server_and_no_byte_passes_through_the_app():
    original = manifest_with_images("Original", images=3)

    with s3_requests() as sent:
        copy = services.manifest_duplicate(manifest=original)

    # One CopyObject per file (3 images, 3 thumbnails, the contact sheet): no GetObject,
    # no PutObject, no HEAD; and none while the manifest's row is locked.
    assert sent == [("CopyObject", False)] * 7
    copied = files_of(copy)
    assert len(copied) == 7
    assert set(files_of(original)) | set(copied) == set(stored_files(None))
    for asset in Asset.objects.filter(manifest=copy):
        assert sha256(asset.reference_image.read()) == asset.image_sha256


# --- purge and orphan sweep: pages, batches, no transaction ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_purge_lists_in_pages_and_deletes_in_batches_outside_any_transaction(monkeypatch):
    monkeypatch.setattr(backends, "S3_BATCH", 10)  # pages and batches of 10, not 1,000
    manifest = soft_deleted(manifest_with_images("Old", images=1, derived=False))
    strays = [
        default_storage.save(f"manifests/{manifest.pk}/uploads/stray-{n:02}.bin", ContentFile(b"x"))
        for n in range(23)
    ]

    with s3_requests() as sent:
        report = services.manifests_purge()

    assert report.manifests == 1 and report.files == 2 + len(strays)
    assert stored_files(None) == []
    assert [name for name, _ in sent] == ["ListObjectsV2"] * 3 + ["DeleteObjects"] * 3
    assert not any(in_transaction for _, in_transaction in sent)


@pytest.mark.django_db(transaction=True)
def test_orphan_sweep_lists_in_pages_and_asks_nothing_per_file(monkeypatch):
    monkeypatch.setattr(backends, "S3_BATCH", 10)
    live = manifest_with_images("Live", images=1, derived=False)
    orphans = [
        default_storage.save(f"manifests/{live.pk}/uploads/crash-{n:02}.bin", ContentFile(b"12"))
        for n in range(15)
    ]

    with s3_requests() as sent:
        report = services.orphan_files_sweep(min_age=timedelta(0))

    assert sorted(f.name for f in report.files) == orphans
    assert report.bytes == 2 * len(orphans)
    assert stored_files(None) == files_of(live)
    # 17 keys: two pages; 15 orphans: two batches. No HEAD or GET per file.
    assert [name for name, _ in sent] == ["ListObjectsV2"] * 2 + ["DeleteObjects"] * 2


# --- a store that refuses ----------------------------------------------------------------------


def test_upload_to_a_missing_bucket_is_503_naming_storage_and_changes_nothing(
    api, settings, make_manifest, make_asset
):
    asset = make_asset(make_manifest())
    before = row_counts()
    use_storage(settings, bucket="vidpipe-no-such-bucket")

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload()}, format="multipart"
    )

    assert response.status_code == 503
    assert response.json()["detail"].startswith("File storage is unavailable")
    assert "NoSuchBucket" in response.json()["detail"]
    assert row_counts() == before
    assert Asset.objects.get(pk=asset.pk).reference_image.name == ""


def test_upload_to_an_endpoint_that_does_not_answer_is_503_and_changes_nothing(
    api, settings, make_manifest, make_asset
):
    asset = make_asset(make_manifest())
    before = row_counts()
    use_storage(settings, endpoint=f"http://127.0.0.1:{free_port()}")  # nothing listens

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload()}, format="multipart"
    )

    assert response.status_code == 503
    assert "File storage is unavailable" in response.json()["detail"]
    assert response["Retry-After"]
    assert row_counts() == before


def test_duplicate_into_a_store_that_refuses_is_503_and_changes_nothing(api, settings, db):
    original = manifest_with_images("Original", images=2)
    before, files = row_counts(), stored_files(None)
    use_storage(settings, bucket="vidpipe-no-such-bucket")

    response = api.post(f"/api/manifests/{original.pk}/duplicate")

    assert response.status_code == 503
    assert "File storage is unavailable" in response.json()["detail"]
    assert row_counts() == before
    assert stored_files(None) == files


def test_a_failed_removal_keeps_every_row_and_leaves_the_file_to_the_orphan_sweep(
    api, settings, make_manifest, make_asset, django_capture_on_commit_callbacks, caplog
):
    asset = make_asset(make_manifest())
    services.asset_attach_image(asset=asset, file=image_upload("old.png"))
    old = Asset.objects.get(pk=asset.pk)
    good = object_storage_target()

    with django_capture_on_commit_callbacks() as removals:
        response = api.post(
            f"/api/assets/{asset.pk}/upload",
            {"file": image_upload("new.png", color="blue")},
            format="multipart",
        )
    assert response.status_code == 200
    # The store stops answering between the commit and the removal of the old files.
    use_storage(settings, endpoint=f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.WARNING, logger="manifests.files"):
        for remove in removals:
            remove()

    assert "the orphan sweep will" in caplog.text
    new = Asset.objects.get(pk=asset.pk)
    assert new.reference_image.name != old.reference_image.name
    use_storage(settings, endpoint=good[0], bucket=good[1])
    left = {old.reference_image.name, old.thumbnail.name}
    assert left <= set(stored_files(None))

    sweep = services.orphan_files_sweep(min_age=timedelta(0))

    assert {f.name for f in sweep.files} == left
    assert set(stored_files(None)) == {new.reference_image.name, new.thumbnail.name}
    assert Manifest.objects.count() == 1 and Asset.objects.count() == 1


def test_a_contact_sheet_when_the_store_does_not_answer_is_503_and_changes_nothing(
    api, settings, db
):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    before = row_counts()
    use_storage(settings, endpoint=f"http://127.0.0.1:{free_port()}")  # nothing listens

    response = api.post(f"/api/manifests/{manifest.pk}/contact-sheet")

    assert response.status_code == 503
    detail = response.json()["detail"]
    assert detail.startswith("File storage is unavailable: it could not read the images of")
    assert row_counts() == before
    assert Manifest.objects.get(pk=manifest.pk).contact_sheet.name == ""


def test_an_export_when_the_store_does_not_answer_is_503_before_the_stream_starts(
    api, settings, db
):
    manifest = manifest_with_images("Cast", images=1, derived=False)
    use_storage(settings, endpoint=f"http://127.0.0.1:{free_port()}")  # nothing listens

    response = api.get(f"/api/manifests/{manifest.pk}/export")

    assert response.status_code == 503
    assert "File storage is unavailable: it could not read" in response.json()["detail"]
