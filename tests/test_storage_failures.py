"""Storage that refuses to write (a full disk, a remote store timing out, a folder that
cannot be written): the API answers 503 naming storage with a Retry-After, the admin says
so on the page, and nothing is half-written: no row changed, no file left."""

import errno
import os

import pytest
import yaml
from django.core.files.storage import FileSystemStorage, Storage
from django.core.management import call_command

from manifests import services
from manifests.models import Asset, Manifest
from tests.admin_forms import image_file, manifest_url, messages_on, save
from tests.conftest import image_upload, stored_files

REFUSAL = "File storage is unavailable: it could not write"


class UnwritableStorage(Storage):
    """Files already stored read as usual (from MEDIA_ROOT); every write fails as a full
    disk (or, given `error`, e.g. a remote store's timeout) makes it fail."""

    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __init__(self):
        self.stored = FileSystemStorage()

    def _open(self, name, mode="rb"):
        return self.stored._open(name, mode)

    def _save(self, name, content):
        raise self.error

    def exists(self, name):
        return self.stored.exists(name)

    def delete(self, name):
        self.stored.delete(name)

    def listdir(self, path):
        return self.stored.listdir(path)

    def size(self, name):
        return self.stored.size(name)

    def url(self, name):
        return self.stored.url(name)


class TimingOutStorage(UnwritableStorage):
    error = TimeoutError("The write operation timed out")


def refuse_writes(settings, backend: type[Storage] = UnwritableStorage) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{backend.__module__}.{backend.__qualname__}"},
    }


@pytest.fixture
def manifest_with_image(make_manifest, make_asset):
    """A manifest whose one asset has an image, stored while storage still worked."""
    manifest = make_manifest()
    asset = make_asset(manifest)
    services.asset_attach_image(asset=asset, file=image_upload("old.png"))
    return Manifest.objects.get(pk=manifest.pk)


def rows() -> list[dict]:
    return [
        *Manifest.all_objects.order_by("pk").values(),
        *Asset.all_objects.order_by("pk").values(),
    ]


def assert_refused_with_503(response, settings) -> None:
    assert response.status_code == 503, response.content
    assert response.json()["detail"].startswith(REFUSAL)
    assert "Nothing was saved; try again later." in response.json()["detail"]
    assert response["Retry-After"] == str(settings.VIDPIPE_STORAGE_RETRY_AFTER)


@pytest.mark.parametrize(
    ("backend", "reason"),
    [(UnwritableStorage, "No space left on device"), (TimingOutStorage, "timed out")],
)
def test_upload_to_unwritable_storage_is_503_and_changes_nothing(
    api, manifest_with_image, settings, media_root, backend, reason
):
    settings.VIDPIPE_STORAGE_RETRY_AFTER = 7
    asset = Asset.objects.get()
    before, files = rows(), stored_files(media_root)
    refuse_writes(settings, backend)

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload("new.png")}, format="multipart"
    )

    assert_refused_with_503(response, settings)
    assert response["Retry-After"] == "7"
    assert reason in response.json()["detail"]
    assert rows() == before
    assert stored_files(media_root) == files


def test_duplicate_to_unwritable_storage_is_503_and_changes_nothing(
    api, manifest_with_image, settings, media_root
):
    before, files = rows(), stored_files(media_root)
    refuse_writes(settings)

    response = api.post(f"/api/manifests/{manifest_with_image.pk}/duplicate", {}, format="json")

    assert_refused_with_503(response, settings)
    assert rows() == before
    assert stored_files(media_root) == files


def test_contact_sheet_to_unwritable_storage_is_503_and_changes_nothing(
    api, manifest_with_image, settings, media_root
):
    before, files = rows(), stored_files(media_root)
    refuse_writes(settings)

    response = api.post(f"/api/manifests/{manifest_with_image.pk}/contact-sheet")

    assert_refused_with_503(response, settings)
    assert rows() == before
    assert stored_files(media_root) == files


def test_admin_upload_to_unwritable_storage_says_so_and_changes_nothing(
    curator, manifest_with_image, settings, media_root
):
    before, files = rows(), stored_files(media_root)
    refuse_writes(settings)

    page = curator.get(manifest_url(manifest_with_image))
    response = save(page, **{"assets-0-image": image_file("new.png")}).follow()

    refusal = " ".join(messages_on(response))
    assert REFUSAL in refusal
    assert "Nothing was saved: choose the files again (“new.png”)." in refusal
    assert rows() == before
    assert stored_files(media_root) == files


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_media_folder_is_503_and_changes_nothing(
    api, manifest_with_image, settings, media_root
):
    before, files = rows(), stored_files(media_root)
    folders = [media_root, *(p for p in media_root.rglob("*") if p.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        asset = Asset.objects.get()
        upload = api.post(
            f"/api/assets/{asset.pk}/upload", {"file": image_upload("new.png")}, format="multipart"
        )
        duplicate = api.post(
            f"/api/manifests/{manifest_with_image.pk}/duplicate", {}, format="json"
        )
    finally:
        for folder in folders:
            folder.chmod(0o755)

    for response in (upload, duplicate):
        assert_refused_with_503(response, settings)
        assert "Permission denied" in response.json()["detail"]
    assert rows() == before
    assert stored_files(media_root) == files


def test_schema_lists_the_503_of_every_action_that_stores_files(tmp_path, db):
    path = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(path))
    paths = yaml.safe_load(path.read_text())["paths"]
    for route in [
        "/api/assets/{id}/upload/",
        "/api/manifests/{id}/duplicate/",
        "/api/manifests/{id}/contact-sheet/",
        "/api/manifests/{manifest_pk}/versions/{number}/duplicate/",
    ]:
        assert "503" in paths[route]["post"]["responses"], route
