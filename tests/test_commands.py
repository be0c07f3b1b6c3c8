"""The operations commands through `call_command`: output, refusals, and what they change.

Purges commit batch by batch, so these tests commit for real (`transaction=True`).
"""

import io
import re
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import stored_files
from tests.ops_factories import (
    files_of,
    manifest_with_images,
    referenced_and_deleted,
    row_counts,
    snapshot,
    soft_deleted,
)

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


# --- duplicate_manifest ----------------------------------------------------------------------


def test_duplicate_prints_only_the_new_id_at_verbosity_zero(media_root):
    source = manifest_with_images("Heroes", images=2)

    out = run("duplicate_manifest", str(source.pk), verbosity=0)

    copy = Manifest.objects.get(pk=uuid.UUID(out.strip()))
    assert out == f"{copy.pk}\n"
    assert copy.name == "Heroes (copy)"
    assert copy.parent_manifest_id == source.pk
    assert copy.asset_count == 2
    assert len(files_of(copy)) == len(files_of(source))


def test_duplicate_prints_a_summary_with_the_id_name_assets_and_files(media_root):
    source = manifest_with_images("Heroes", images=3)

    out = run("duplicate_manifest", str(source.pk), "--name", "Season 2")

    copy = Manifest.objects.get(name="Season 2")
    first, summary = out.splitlines()
    assert first == str(copy.pk)
    assert '"Heroes"' in summary
    assert '"Season 2"' in summary
    assert "3 assets" in summary
    # 3 uploads, 3 thumbnails, contact sheet: the manifest's thumbnail is the first asset's
    # file, not one more copy.
    assert len(files_of(copy)) == 7
    assert "7 files copied" in summary


def test_duplicate_reports_progress_at_verbosity_two(media_root):
    source = services.manifest_create(name="Crowd")
    for index in range(205):
        services.asset_create(manifest=source, name=f"Extra {index}", asset_type="CHARACTER")

    out = run("duplicate_manifest", str(source.pk), verbosity=2)

    progress = [line for line in out.splitlines() if line.startswith("Copied ")]
    assert progress == ["Copied 100 of 205 assets…", "Copied 200 of 205 assets…"]
    assert "205 assets, 0 files copied" in out


@pytest.mark.parametrize(
    "manifest_id, message",
    [
        ("not-a-uuid", '"not-a-uuid" is not a manifest id'),
        ("12345", '"12345" is not a manifest id'),
        (str(uuid.UUID(int=7)), f"No manifest has the id {uuid.UUID(int=7)}"),
    ],
)
def test_duplicate_refuses_malformed_or_unknown_ids(manifest_id, message, media_root):
    manifest_with_images("Heroes", images=1)
    before = snapshot(media_root)

    with pytest.raises(CommandError, match=message):
        run("duplicate_manifest", manifest_id)

    assert snapshot(media_root) == before


def test_duplicate_refuses_a_deleted_manifest(media_root):
    deleted = soft_deleted(manifest_with_images("Old", images=1))
    before = snapshot(media_root)

    with pytest.raises(CommandError, match="is deleted; restore it"):
        run("duplicate_manifest", str(deleted.pk))

    assert snapshot(media_root) == before


def test_duplicate_refuses_an_invalid_name_and_creates_nothing(media_root):
    source = manifest_with_images("Heroes", images=1)
    before = snapshot(media_root)

    with pytest.raises(CommandError, match="Cannot duplicate"):
        run("duplicate_manifest", str(source.pk), "--name", "x" * 201)

    assert snapshot(media_root) == before


def test_duplicate_refuses_a_manifest_whose_image_file_is_missing(media_root):
    source = manifest_with_images("Heroes", images=2)
    lost = Asset.objects.filter(manifest=source).last()
    default_storage.delete(lost.reference_image.name)
    before = snapshot(media_root)

    with pytest.raises(CommandError, match=f"Cannot duplicate: .*{lost.manifest_tag}.* missing"):
        run("duplicate_manifest", str(source.pk))

    assert snapshot(media_root) == before


# --- purge_manifests -------------------------------------------------------------------------


def test_purge_dry_run_lists_what_would_go_and_changes_nothing(media_root):
    doomed = soft_deleted(manifest_with_images("Doomed", images=2))
    pinned = manifest_with_images("Pinned", images=1)
    referenced_and_deleted(pinned, "Pilot")
    before = snapshot(media_root)

    out = run("purge_manifests", "--dry-run")

    assert snapshot(media_root) == before
    assert f'Would purge {doomed.pk} "Doomed"' in out
    for name in files_of(doomed):
        assert f"    {name} (" in out
    assert f'Skipped {pinned.pk} "Pinned"' in out
    assert "Pilot" in out
    # 2 uploads, 2 thumbnails (the first also the manifest's), 1 contact sheet
    assert len(files_of(doomed)) == 5
    assert "Dry run, nothing changed: would purge 1 manifest, 2 assets, 5 files" in out
    assert "skipped 1 referenced manifest" in out


def test_purge_prints_a_line_per_batch_and_a_summary(media_root):
    for index in range(3):
        soft_deleted(manifest_with_images(f"Old {index}", images=1, derived=False))
    pinned = manifest_with_images("Pinned", images=1, derived=False)
    referenced_and_deleted(pinned)

    out = run("purge_manifests", "--batch-size", "2")

    lines = out.splitlines()
    batches = [line for line in lines if line.startswith("Batch ")]
    # Four candidates in batches of two; which batch holds the skipped one depends on ids.
    assert [line.split(":")[0] for line in batches] == ["Batch 1", "Batch 2"]
    purged = [re.search(r"purged (\d+) manifests?, (\d+) assets?", line) for line in batches]
    assert sum(int(m[1]) for m in purged) == sum(int(m[2]) for m in purged) == 3
    assert sum(line.endswith("skipped 1.") for line in batches) == 1
    assert any(line.startswith(f"Skipped {pinned.pk}") for line in lines)
    # Each: the upload and its thumbnail, which is also the manifest's.
    assert lines[-1].startswith("Purged 3 manifests, 3 assets, 6 files")
    assert lines[-1].endswith("skipped 1 referenced manifest.")
    assert row_counts() == {"manifests": 1, "assets": 1, "projects": 1}
    assert stored_files(media_root) == files_of(pinned)


def test_purge_honours_older_than(media_root):
    soft_deleted(manifest_with_images("Week old", images=1), days_ago=7)

    assert "Nothing to purge" in run("purge_manifests")
    assert Manifest.all_objects.count() == 1
    assert "Purged 1 manifest" in run("purge_manifests", "--older-than", "5")
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == []


def test_purge_with_older_than_zero_takes_everything_deleted(media_root):
    soft_deleted(manifest_with_images("Just deleted", images=1), days_ago=0)

    run("purge_manifests", "--older-than", "0")

    assert Manifest.all_objects.count() == 0


def test_purge_verbosity_two_names_each_manifest(media_root):
    old = soft_deleted(manifest_with_images("Old", images=1))

    out = run("purge_manifests", verbosity=2)

    assert f'Purged {old.pk} "Old"' in out


def test_purged_original_leaves_its_copy_intact(media_root):
    original = manifest_with_images("Original", images=2)
    copy_id = run("duplicate_manifest", str(original.pk), verbosity=0).strip()
    copy = Manifest.objects.get(pk=copy_id)
    contents = {name: (media_root / name).read_bytes() for name in files_of(copy)}
    soft_deleted(original)

    run("purge_manifests")

    assert stored_files(media_root) == sorted(contents)
    assert {name: (media_root / name).read_bytes() for name in contents} == contents
    assert Asset.objects.filter(manifest_id=copy_id).count() == 2


def test_purge_commands_are_silent_at_verbosity_zero(media_root):
    soft_deleted(manifest_with_images("Old", images=1))

    assert run("purge_manifests", verbosity=0) == ""
    assert run("purge_orphan_files", "--min-age", "0", verbosity=0) == ""
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--older-than", "-1"], "must be 0 or more"),
        (["--older-than", "soon"], "invalid"),
        (["--batch-size", "0"], "must be 1 or more"),
    ],
)
def test_purge_refuses_bad_options(args, message):
    with pytest.raises(CommandError, match=message):
        run("purge_manifests", *args)


def test_purge_ages_beyond_a_century_are_refused_cleanly(db):
    with pytest.raises(CommandError, match="at most 36500 days"):
        call_command("purge_manifests", "--older-than", "800000", "--dry-run")
    with pytest.raises(CommandError, match="at most"):
        call_command("purge_orphan_files", "--min-age", "99999999999", "--dry-run")


# --- purge_orphan_files ----------------------------------------------------------------------


def test_orphan_sweep_reports_and_removes_only_orphans(media_root):
    live = manifest_with_images("Live", images=1)
    orphan = default_storage.save(f"manifests/{live.pk}/uploads/crash.png", ContentFile(b"12345"))

    dry = run("purge_orphan_files", "--dry-run", "--min-age", "0")
    assert f"Would remove {orphan} (5 bytes)" in dry
    assert "would remove 1 orphan file (5 bytes)" in dry
    assert (media_root / orphan).exists()

    out = run("purge_orphan_files", "--min-age", "0")

    assert "Removed 1 orphan file (5 bytes, freed 5 bytes)." in out
    assert stored_files(media_root) == files_of(live)


def test_orphan_sweep_by_default_spares_fresh_files(media_root):
    live = manifest_with_images("Live", images=1)
    fresh = default_storage.save(f"manifests/{live.pk}/uploads/fresh.png", ContentFile(b"1"))

    out = run("purge_orphan_files")

    assert "Removed 0 orphan files" in out
    assert (media_root / fresh).exists()


def test_duplicate_then_purge_both_through_commands(media_root):
    """The whole operator story: copy, delete the original, purge, sweep: nothing leaks."""
    original = manifest_with_images("Original", images=2)
    copy_id = run("duplicate_manifest", str(original.pk), verbosity=0).strip()
    services.manifest_soft_delete(manifest=original)

    run("purge_manifests", "--older-than", "0")
    sweep = run("purge_orphan_files", "--min-age", "0")

    assert "Removed 0 orphan files" in sweep
    assert stored_files(media_root) == files_of(Manifest.objects.get(pk=copy_id))
