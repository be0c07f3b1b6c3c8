"""Files that frozen versions name: kept through every operation that removes files (a new
image, asset deletion, thumbnail rebuilds, the orphan sweep, purging other manifests), and
removed with their versions when their own manifest is purged; the commands count them.

These tests commit for real (`transaction=True`): files go only once changes commit.
"""

import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from manifests import services
from manifests.models import Asset, Manifest, ManifestVersion, VersionFile
from manifests.services.orphans import orphan_files_sweep
from manifests.services.purging import manifests_purge
from tests.conftest import image_upload, is_stored, stored_files
from tests.ops_factories import files_of, manifest_with_images, soft_deleted

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.s3]

COLORS = ["red", "green", "blue", "yellow", "purple"]


def run(*args: str, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def frozen_names(manifest: Manifest) -> set[str]:
    return set(
        VersionFile.objects.filter(version__manifest=manifest).values_list("name", flat=True)
    )


def first_asset(manifest: Manifest) -> Asset:
    return Asset.all_objects.filter(manifest=manifest).ordered().first()


def replace_image(asset: Asset, color: str) -> Asset:
    return services.asset_attach_image(asset=asset, file=image_upload(f"{color}.png", color=color))


def purge() -> tuple:
    """Purge what is old enough; the report and the names of the files it removed."""
    removed: list[str] = []
    report = manifests_purge(
        on_batch=lambda batch: removed.extend(f.name for p in batch.purged for f in p.files)
    )
    return report, removed


def test_replacing_an_image_five_times_and_freezing_each_time_keeps_five_images(media_root):
    manifest = services.manifest_create(name="Cast")
    hero = services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")
    images = []
    for color in COLORS:
        hero = replace_image(hero, color)
        images.append(hero.reference_image.name)
        services.manifest_freeze(manifest=manifest)

    stored = set(stored_files(media_root))
    assert len(set(images)) == 5 and set(images) <= stored
    # Each image with its thumbnail, each named by the version frozen while it was shown.
    assert len(stored) == 10 and frozen_names(manifest) == stored
    assert [v.assets[0]["reference_image"] for v in ManifestVersion.objects.order_by("number")] == (
        images
    )
    for version in ManifestVersion.objects.all():
        named = {a[field] for a in version.assets for field in ("reference_image", "thumbnail")}
        assert set(version.files.values_list("name", flat=True)) == named
    assert orphan_files_sweep(min_age=timedelta(0)).files == []
    assert set(stored_files(media_root)) == stored


def test_re_freezing_the_same_content_adds_no_file_and_no_row(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    first = services.manifest_freeze(manifest=manifest)
    rows, files = VersionFile.objects.count(), stored_files(media_root)

    again = services.manifest_freeze(manifest=manifest)
    # A project link pins the same number: the same record.
    services.project_create(name="Trailer", manifest=manifest)

    assert again.pk == first.pk == ManifestVersion.objects.get().pk
    assert VersionFile.objects.count() == rows == 4
    assert stored_files(media_root) == files


def test_a_new_image_keeps_the_frozen_image_and_thumbnail(media_root):
    manifest = manifest_with_images("Cast", images=1, derived=False)
    hero = first_asset(manifest)
    services.manifest_freeze(manifest=manifest)
    frozen = {hero.reference_image.name, hero.thumbnail.name}

    replaced = replace_image(hero, "blue")

    stored = set(stored_files(media_root))
    assert frozen | {replaced.reference_image.name, replaced.thumbnail.name} == stored
    assert frozen == frozen_names(manifest)


def test_deleting_an_asset_keeps_its_frozen_files(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    doomed = first_asset(manifest)
    services.manifest_freeze(manifest=manifest)
    frozen = {doomed.reference_image.name, doomed.thumbnail.name}

    services.asset_delete(asset=doomed)

    assert frozen <= set(stored_files(media_root))
    assert not Asset.all_objects.filter(pk=doomed.pk).exists()


def test_deleting_an_asset_of_an_unfrozen_manifest_still_removes_its_files(media_root):
    manifest = manifest_with_images("Cast", images=1, derived=False)

    services.asset_delete(asset=first_asset(manifest))

    assert stored_files(media_root) == []


def test_rebuilding_all_thumbnails_keeps_the_frozen_ones(media_root, settings):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    services.manifest_freeze(manifest=manifest)
    frozen = frozen_names(manifest)
    settings.VIDPIPE_THUMBNAIL_MAX_SIDE = 4

    out = run("rebuild_thumbnails", "--all")

    assert "Rebuilt 2 thumbnails." in out
    current = set(files_of(Manifest.objects.get(pk=manifest.pk)))
    assert not current <= frozen  # new thumbnails were made...
    assert set(stored_files(media_root)) == frozen | current  # ...and the frozen ones stay


def test_rebuilding_all_thumbnails_of_an_unfrozen_manifest_removes_the_old_ones(
    media_root, settings
):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    settings.VIDPIPE_THUMBNAIL_MAX_SIDE = 4

    run("rebuild_thumbnails", "--all")

    assert stored_files(media_root) == files_of(Manifest.objects.get(pk=manifest.pk))


def test_rebuilding_missing_thumbnails_restores_the_frozen_names_and_keeps_the_rest(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    lost, present = Asset.objects.filter(manifest=manifest).order_by("manifest_tag")
    services.manifest_freeze(manifest=manifest)
    frozen = frozen_names(manifest)
    default_storage.delete(lost.thumbnail.name)

    out = run("rebuild_thumbnails")

    assert "Rebuilt 1 thumbnail." in out
    assert Asset.objects.get(pk=present.pk).thumbnail.name == present.thumbnail.name
    # Every name the frozen version holds resolves to a stored file again.
    assert frozen <= set(stored_files(media_root))


def test_orphan_sweep_keeps_files_only_frozen_versions_name_and_counts_them(media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    hero = first_asset(manifest)
    services.manifest_freeze(manifest=manifest)
    old = {hero.reference_image.name, hero.thumbnail.name}
    replace_image(hero, "blue")
    stray = default_storage.save(f"manifests/{manifest.pk}/uploads/crash.png", ContentFile(b"x"))

    dry = orphan_files_sweep(dry_run=True, min_age=timedelta(0))
    report = orphan_files_sweep(min_age=timedelta(0))

    for sweep in (dry, report):
        assert [f.name for f in sweep.files] == [stray]
        assert set(sweep.kept_for_versions) == old
    assert set(stored_files(media_root)) == old | set(files_of(manifest))


def test_orphan_sweep_command_says_how_many_files_frozen_versions_keep(media_root):
    manifest = manifest_with_images("Cast", images=1, derived=False)
    hero = first_asset(manifest)
    services.manifest_freeze(manifest=manifest)
    old_image = hero.reference_image.name
    replace_image(hero, "blue")

    dry = run("purge_orphan_files", "--dry-run", "--min-age", "0")
    out = run("purge_orphan_files", "--min-age", "0", verbosity=2)

    assert "would remove 0 orphan files (0 bytes). Would keep 2 files that frozen" in dry
    assert "Removed 0 orphan files (0 bytes, freed 0 bytes). Kept 2 files that frozen" in out
    assert f"Keeping {old_image}: a frozen version names it" in out
    assert is_stored(media_root, old_image)


def test_purging_a_manifest_removes_its_versions_and_the_files_only_they_name(media_root):
    manifest = manifest_with_images("Old", images=2, derived=False)
    hero = first_asset(manifest)
    services.manifest_freeze(manifest=manifest)
    replace_image(hero, "blue")
    services.manifest_freeze(manifest=manifest)
    everything = stored_files(media_root)
    assert len(everything) == 2 * 2 + 2  # two images with thumbnails, one replaced image
    soft_deleted(manifest)

    report = manifests_purge()

    assert (report.manifests, report.versions, report.files) == (1, 2, len(everything))
    assert report.files_kept == 0
    assert stored_files(media_root) == []
    assert not ManifestVersion.objects.exists() and not VersionFile.objects.exists()


def test_purging_removes_a_file_only_its_versions_name_outside_its_folder(media_root):
    """A name outside the manifest's folder (a manual edit) that only its own frozen
    version still names goes with it."""
    manifest = manifest_with_images("Old", images=1, derived=False)
    outside = default_storage.save("manifests/imported/hero.png", ContentFile(b"12345"))
    Asset.all_objects.filter(manifest=manifest).update(reference_image=outside)
    services.manifest_freeze(manifest=manifest)
    replace_image(first_asset(manifest), "blue")
    soft_deleted(manifest)

    report, removed = purge()

    # The replaced upload (in the folder) and its thumbnail, the outside file, the new pair.
    assert outside in removed and report.files == len(removed) == 5
    assert not is_stored(media_root, outside)


def test_purging_another_manifest_keeps_a_file_a_frozen_version_names(media_root):
    """A file in the purged manifest's folder that a live manifest's frozen version names
    (a manual edit pointed it there) stays, and is counted as kept."""
    doomed = manifest_with_images("Doomed", images=1, derived=False)
    shared = first_asset(doomed).reference_image.name
    keeper = manifest_with_images("Keeper", images=1, derived=False)
    Asset.all_objects.filter(manifest=keeper).update(reference_image=shared)
    services.manifest_freeze(manifest=keeper)
    replace_image(first_asset(keeper), "blue")  # now only the frozen version names it
    soft_deleted(doomed)

    report, removed = purge()

    assert report.manifests == 1 and report.files_kept == 1
    assert shared not in removed
    assert is_stored(media_root, shared)
    sweep = orphan_files_sweep(min_age=timedelta(0))
    assert shared in sweep.kept_for_versions
    assert is_stored(media_root, shared)


def test_purge_command_says_how_many_versions_go_and_files_stay(media_root):
    doomed = manifest_with_images("Doomed", images=1, derived=False)
    services.manifest_freeze(manifest=doomed)
    shared = first_asset(doomed).reference_image.name
    keeper = manifest_with_images("Keeper", images=1, derived=False)
    Asset.all_objects.filter(manifest=keeper).update(reference_image=shared)
    services.manifest_freeze(manifest=keeper)
    soft_deleted(doomed)

    dry = run("purge_manifests", "--dry-run")
    out = run("purge_manifests")

    assert f'Would purge {doomed.pk} "Doomed"' in dry
    assert "1 frozen version" in dry
    assert f"    {shared} (kept: a frozen version of another manifest names it)" in dry
    assert "would keep 1 file that frozen versions of other manifests name" in dry
    assert "and 1 frozen version; kept 1 file that frozen versions of other manifests name" in out
    assert is_stored(media_root, shared)
    assert ManifestVersion.objects.filter(manifest=keeper).exists()
