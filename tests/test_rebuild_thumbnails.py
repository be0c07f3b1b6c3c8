"""`rebuild_thumbnails`: missing thumbnails made again from the stored images, or all of them
after the thumbnail settings changed; dry run, refusals and failures."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import stored_files
from tests.ops_factories import manifest_with_images, snapshot, soft_deleted

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.s3,
]  # files go only once changes commit


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("rebuild_thumbnails", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def thumbnails(manifest) -> dict[str, str]:
    return dict(
        Asset.all_objects.filter(manifest=manifest).values_list("manifest_tag", "thumbnail")
    )


def test_missing_thumbnails_are_made_again_and_present_ones_left_alone(media_root):
    manifest = manifest_with_images("Cast", images=3, derived=False)
    lost_file, cleared, kept = Asset.objects.filter(manifest=manifest).order_by("manifest_tag")
    default_storage.delete(lost_file.thumbnail.name)
    Asset.all_objects.filter(pk=cleared.pk).update(thumbnail="")
    version = manifest.version

    out, err = run()

    assert "Rebuilt 2 thumbnails." in out and err == ""
    after = thumbnails(manifest)
    assert after[kept.manifest_tag] == kept.thumbnail.name
    for tag in after:
        assert default_storage.exists(after[tag])
        with default_storage.open(after[tag]) as file, Image.open(file) as image:
            assert max(image.size) <= 256
    manifest.refresh_from_db()
    assert manifest.version == version  # derived files: no new content
    assert manifest.thumbnail.name == after[lost_file.manifest_tag]  # the first asset's


def test_all_rebuilds_every_thumbnail_with_the_current_settings(media_root, settings):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    before = thumbnails(manifest)
    settings.VIDPIPE_THUMBNAIL_MAX_SIDE = 4

    out, _ = run("--all", "--manifest", str(manifest.pk))

    assert "Rebuilt 2 thumbnails." in out
    after = thumbnails(manifest)
    for tag, name in after.items():
        with default_storage.open(name) as file, Image.open(file) as image:
            assert max(image.size) == 4, tag
        assert not default_storage.exists(before[tag]) or before[tag] == name


def test_dry_run_lists_and_changes_nothing(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    first = Asset.objects.filter(manifest=manifest).order_by("manifest_tag").first()
    default_storage.delete(first.thumbnail.name)
    before = snapshot(media_root), thumbnails(manifest)

    out, _ = run("--dry-run")

    assert f"Would rebuild {first.manifest_tag} ({first.pk})" in out
    assert "Dry run, nothing changed: would rebuild 1 thumbnail." in out
    assert (snapshot(media_root), thumbnails(manifest)) == before


def test_an_asset_whose_image_is_lost_is_reported_and_the_rest_rebuilt(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    lost, fine = Asset.objects.filter(manifest=manifest).order_by("manifest_tag")
    default_storage.delete(lost.reference_image.name)
    default_storage.delete(lost.thumbnail.name)
    default_storage.delete(fine.thumbnail.name)

    err = io.StringIO()
    with pytest.raises(
        CommandError, match=f"1 thumbnail could not be rebuilt: {lost.manifest_tag}"
    ):
        call_command("rebuild_thumbnails", stdout=io.StringIO(), stderr=err)

    assert f"{lost.manifest_tag} ({lost.pk})" in err.getvalue()
    assert "image missing" in err.getvalue()
    fine.refresh_from_db()
    assert default_storage.exists(fine.thumbnail.name)


def test_deleted_manifests_are_left_for_after_their_restore(media_root):
    manifest = manifest_with_images("Old", images=1, derived=False)
    asset = Asset.objects.get(manifest=manifest)
    default_storage.delete(asset.thumbnail.name)
    soft_deleted(manifest)

    out, _ = run()

    assert "Rebuilt 0 thumbnails." in out
    services.manifest_restore(manifest=Manifest.all_objects.get(pk=manifest.pk))
    assert "Rebuilt 1 thumbnail." in run()[0]


def test_a_duplicate_of_a_manifest_that_lost_a_thumbnail_gets_it_back(media_root):
    source = manifest_with_images("Cast", images=1, derived=False)
    default_storage.delete(Asset.objects.get(manifest=source).thumbnail.name)
    copy = services.manifest_duplicate(manifest=source)
    assert Asset.objects.get(manifest=copy).thumbnail.name == ""

    run("--manifest", str(copy.pk))

    rebuilt = Asset.objects.get(manifest=copy).thumbnail.name
    assert rebuilt.startswith(f"manifests/{copy.pk}/thumbnails/")
    assert rebuilt in stored_files(media_root)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nope", "is not a manifest id"),
        ("00000000-0000-0000-0000-000000000001", "No live manifest has the id"),
    ],
)
def test_a_bad_manifest_option_is_refused(media_root, value, message):
    with pytest.raises(CommandError, match=message):
        run("--manifest", value)


@pytest.mark.disk_only("a file in a folder's place; S3 faults: test_storage_s3.py")
def test_a_storage_failure_is_reported_and_the_run_goes_on(media_root):
    broken = manifest_with_images("Broken", images=1, derived=False)
    fine = manifest_with_images("Fine", images=1, derived=False)
    for manifest in (broken, fine):
        default_storage.delete(Asset.objects.get(manifest=manifest).thumbnail.name)
    # A file where the thumbnails folder should be: a real storage error, no mock.
    folder = media_root / "manifests" / str(broken.pk) / "thumbnails"
    folder.rmdir()
    folder.write_bytes(b"not a folder")

    err = io.StringIO()
    with pytest.raises(CommandError, match="1 thumbnail could not be rebuilt"):
        call_command("rebuild_thumbnails", stdout=io.StringIO(), stderr=err)

    assert "storage error" in err.getvalue()
    rebuilt = Asset.objects.get(manifest=fine).thumbnail.name
    assert default_storage.exists(rebuilt)
