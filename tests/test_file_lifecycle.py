"""Stored files follow their rows: replaced and deleted images go once the change commits, a
rolled-back change loses nothing, and a duplicate gets files of its own.

These tests commit for real (`transaction=True`) so that `transaction.on_commit` runs as in
production.
"""

import os
from datetime import timedelta

import pytest
from django.db import transaction

from manifests import services
from manifests.exceptions import InvalidImage
from manifests.models import Asset, Manifest
from manifests.services.orphans import orphan_files_sweep
from tests.conftest import image_upload, is_stored, stored_bytes, stored_files
from tests.object_storage import S3_PASS
from tests.ops_factories import files_of, manifest_with_images
from tests.queries import CapturedQueries, assert_same_query_count, count_queries

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.s3]


class Rollback(Exception):
    pass


def only_asset(manifest) -> Asset:
    return Asset.all_objects.get(manifest=manifest)


def make_undeletable(media_root, name: str) -> None:
    """Turn a stored file into a non-empty folder of the same name: a real storage failure
    (FileSystemStorage.delete cannot remove it), without mocking the storage."""
    path = media_root / name
    path.unlink()
    path.mkdir()
    (path / "keep").write_bytes(b"x")


def test_replacing_an_image_through_the_api_removes_the_old_file(api, media_root):
    manifest = manifest_with_images("Heroes", images=1, derived=False)
    asset = only_asset(manifest)
    old = [asset.reference_image.name, asset.thumbnail.name]

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload("new.png")}, format="multipart"
    )

    assert response.status_code == 200, response.data
    asset.refresh_from_db()
    assert asset.reference_image.name not in old
    assert asset.thumbnail.name not in old
    assert stored_files(media_root) == sorted([asset.reference_image.name, asset.thumbnail.name])
    manifest.refresh_from_db()
    assert manifest.thumbnail.name == asset.thumbnail.name


def test_replacing_an_image_also_removes_the_old_thumbnail(media_root):
    manifest = manifest_with_images("Heroes", images=1)
    asset = only_asset(manifest)
    old = [asset.reference_image.name, asset.thumbnail.name]

    services.asset_attach_image(asset=asset, file=image_upload("new.png"))

    assert not any(is_stored(media_root, name) for name in old)


def test_a_rolled_back_replacement_keeps_the_old_file(media_root):
    manifest = manifest_with_images("Heroes", images=1, derived=False)
    asset = only_asset(manifest)
    old = sorted([asset.reference_image.name, asset.thumbnail.name])

    with pytest.raises(Rollback), transaction.atomic():
        services.asset_attach_image(asset=asset, file=image_upload("new.png"))
        raise Rollback

    asset.refresh_from_db()
    assert sorted([asset.reference_image.name, asset.thumbnail.name]) == old
    assert all(is_stored(media_root, name) for name in old)
    # The new image and thumbnail have no row: exactly what the orphan sweep removes.
    swept = orphan_files_sweep(min_age=timedelta(0))
    assert len(swept.files) == 2
    assert not {f.name for f in swept.files} & set(old)
    assert stored_files(media_root) == old


def test_a_refused_upload_leaves_no_file_and_keeps_the_old_one(media_root):
    manifest = manifest_with_images("Heroes", images=1, derived=False)
    asset = only_asset(manifest)
    before = stored_files(media_root)

    with pytest.raises(InvalidImage):
        services.asset_attach_image(asset=asset, file=image_upload("bad.png", fmt="BMP"))

    assert stored_files(media_root) == before


@pytest.mark.disk_only(
    "a folder in the file's place (tests/test_storage_s3.py fails a delete on S3)"
)
def test_a_failed_removal_of_the_old_image_keeps_the_new_committed_files(
    api, make_manifest, make_asset, media_root
):
    asset = make_asset(make_manifest())
    old = services.asset_attach_image(asset=asset, file=image_upload("one.png"))
    make_undeletable(media_root, old.reference_image.name)

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload("two.png")}, format="multipart"
    )

    assert response.status_code == 200
    new = Asset.objects.get(pk=asset.pk)
    assert new.reference_image.name.endswith("_two.png")
    assert new.reference_image.storage.exists(new.reference_image.name)
    assert new.thumbnail.storage.exists(new.thumbnail.name)
    assert Manifest.objects.get(pk=asset.manifest_id).thumbnail.name == new.thumbnail.name


def test_deleting_an_asset_through_the_api_removes_its_files(api, media_root):
    manifest = manifest_with_images("Heroes", images=2)
    doomed, kept = Asset.all_objects.filter(manifest=manifest).ordered()
    doomed_files = [doomed.reference_image.name, doomed.thumbnail.name]

    assert api.delete(f"/api/assets/{doomed.pk}").status_code == 204

    assert not any(is_stored(media_root, name) for name in doomed_files)
    manifest.refresh_from_db()
    # The manifest's thumbnail moved on to the asset that is left, with the rows.
    assert manifest.thumbnail.name == kept.thumbnail.name
    assert stored_files(media_root) == files_of(manifest)
    assert kept.reference_image.name in stored_files(media_root)


def test_a_rolled_back_asset_delete_keeps_its_files(media_root):
    manifest = manifest_with_images("Heroes", images=1)
    asset = only_asset(manifest)
    before = stored_files(media_root)

    with pytest.raises(Rollback), transaction.atomic():
        services.asset_delete(asset=asset)
        raise Rollback

    assert Asset.all_objects.filter(pk=asset.pk).exists()
    assert stored_files(media_root) == before


@pytest.mark.disk_only(
    "a folder in the file's place (tests/test_storage_s3.py fails a delete on S3)"
)
def test_asset_delete_succeeds_even_when_its_file_cannot_be_removed(
    api, make_manifest, make_asset, media_root
):
    asset = services.asset_attach_image(
        asset=make_asset(make_manifest()), file=image_upload("one.png")
    )
    make_undeletable(media_root, asset.reference_image.name)

    response = api.delete(f"/api/assets/{asset.pk}")

    assert response.status_code == 204
    assert not Asset.all_objects.filter(pk=asset.pk).exists()


@pytest.mark.disk_only("hard links")
def test_duplicate_gives_the_copy_its_own_hard_linked_files(media_root):
    original = manifest_with_images("Heroes", images=2)

    copy = services.manifest_duplicate(manifest=original)

    copied, sources = files_of(copy), files_of(original)
    assert len(copied) == len(sources) == 5  # 2 images, 2 thumbnails, 1 contact sheet
    # The copy's thumbnail is its own first asset's, never the original's file.
    first_copy = Asset.all_objects.filter(manifest=copy).ordered().first()
    assert copy.thumbnail.name == first_copy.thumbnail.name
    assert copy.thumbnail.name != original.thumbnail.name
    assert all(name.startswith(f"manifests/{copy.pk}/") for name in copied)
    # Same data, zero bytes written: each copy is a second link to its source's inode.
    source_inodes = {os.stat(media_root / name).st_ino for name in sources}
    assert {os.stat(media_root / name).st_ino for name in copied} == source_inodes
    assert all(os.stat(media_root / name).st_nlink == 2 for name in copied)


def test_deleting_the_originals_asset_keeps_the_copys_file(media_root):
    original = manifest_with_images("Heroes", images=1)
    copy = services.manifest_duplicate(manifest=original)
    copy_image = only_asset(copy).reference_image.name
    content = stored_bytes(media_root, copy_image)

    services.asset_delete(asset=only_asset(original))

    assert stored_bytes(media_root, copy_image) == content
    if not S3_PASS:
        assert os.stat(media_root / copy_image).st_nlink == 1


def test_replacing_the_copys_image_leaves_the_original_untouched(media_root):
    original = manifest_with_images("Heroes", images=1, derived=False)
    copy = services.manifest_duplicate(manifest=original)
    source_image = only_asset(original).reference_image.name
    content = stored_bytes(media_root, source_image)

    services.asset_attach_image(asset=only_asset(copy), file=image_upload("other.png"))

    assert stored_bytes(media_root, source_image) == content


def test_duplicate_on_a_non_local_storage_copies_through_the_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    original = manifest_with_images("Remote", images=2)

    copy = services.manifest_duplicate(manifest=original)

    def stored_pairs(manifest):
        """(tag or field, file name) of every file, so that a source lines up with its copy."""
        pairs = [("thumbnail", manifest.thumbnail), ("sheet", manifest.contact_sheet)]
        for asset in Asset.all_objects.filter(manifest=manifest):
            pairs += [
                (asset.manifest_tag, asset.reference_image),
                (asset.manifest_tag, asset.thumbnail),
            ]
        return sorted((key, field.name, field.read()) for key, field in pairs)

    sources, copies = stored_pairs(original), stored_pairs(copy)
    assert len(copies) == 6
    for (key, _, content), (copy_key, name, copy_content) in zip(sources, copies, strict=True):
        assert (copy_key, copy_content) == (key, content)
        assert name.startswith(f"manifests/{copy.pk}/")


def test_duplicate_costs_constant_queries(media_root):
    def queries_to_duplicate(images: int) -> CapturedQueries:
        manifest = manifest_with_images(f"{images} images", images=images, derived=False)
        return count_queries(lambda: services.manifest_duplicate(manifest=manifest))

    small, large = queries_to_duplicate(2), queries_to_duplicate(120)

    assert_same_query_count(small, large)
    assert small.count <= 15, small
