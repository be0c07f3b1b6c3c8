"""`manifests.services.purging` and `.orphans`: purging soft-deleted manifests and sweeping
orphan files.

These tests commit for real (`transaction=True`): each purge batch is its own transaction
and files go only once it has committed, which is exactly what they pin.
"""

import os
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from manifests import services
from manifests.models import Asset, Manifest
from manifests.services.orphans import orphan_files_sweep
from manifests.services.purging import PurgedManifest, manifest_purge_candidates, manifests_purge
from tests.conftest import image_bytes, is_stored, stored_bytes, stored_files
from tests.object_storage import S3_PASS
from tests.ops_factories import (
    files_of,
    manifest_with_images,
    referenced_and_deleted,
    snapshot,
    soft_deleted,
)
from tests.queries import CapturedQueries, assert_same_query_count, count_queries

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.s3]


class InjectedFailure(Exception):
    pass


def test_purge_removes_rows_files_and_folder(media_root):
    manifest = soft_deleted(manifest_with_images("Old", images=3))
    names = files_of(manifest)
    first = Asset.all_objects.filter(manifest=manifest).ordered().first()
    # The manifest's thumbnail is its first asset's file, not a file of its own.
    assert manifest.thumbnail.name == first.thumbnail.name
    assert len(names) == 3 + 3 + 1  # uploads, asset thumbnails, contact sheet
    assert stored_files(media_root) == sorted(names)

    report = manifests_purge(older_than=timedelta(days=30))

    assert not Manifest.all_objects.filter(pk=manifest.pk).exists()
    assert not Asset.all_objects.filter(manifest_id=manifest.pk).exists()
    assert stored_files(media_root) == []
    assert not (media_root / "manifests" / str(manifest.pk)).exists()
    # The shared thumbnail is counted (and removed) once.
    assert (report.manifests, report.assets, report.files) == (1, 3, len(names))
    assert report.bytes == report.bytes_freed > 0
    assert report.skipped == []


def test_purge_reports_sizes_of_the_removed_files(media_root):
    manifest = soft_deleted(manifest_with_images("Old", images=2))
    sizes = sum(len(stored_bytes(media_root, name)) for name in files_of(manifest))

    report = manifests_purge()

    assert report.bytes == report.bytes_freed == sizes


def test_purge_also_removes_stray_files_in_the_manifest_folder(media_root):
    manifest = soft_deleted(manifest_with_images("Old", images=1, derived=False))
    stray = default_storage.save(
        f"manifests/{manifest.pk}/uploads/left-by-a-crash.png", ContentFile(b"x")
    )
    names = files_of(manifest)
    assert len(names) == 2  # the upload and its thumbnail (also the manifest's)

    report = manifests_purge()

    assert report.files == len(names) + 1
    assert stray not in names
    assert stored_files(media_root) == []


def test_purge_keeps_recently_deleted_and_live_manifests(media_root):
    live = manifest_with_images("Live", images=1)
    recent = soft_deleted(manifest_with_images("Recent", images=1), days_ago=2)
    old = soft_deleted(manifest_with_images("Old", images=1), days_ago=40)

    report = manifests_purge(older_than=timedelta(days=30))

    assert report.manifests == 1
    assert set(Manifest.all_objects.values_list("name", flat=True)) == {"Live", "Recent"}
    assert stored_files(media_root) == sorted(files_of(live) + files_of(recent))
    assert not Manifest.all_objects.filter(pk=old.pk).exists()


def test_older_than_zero_purges_everything_deleted(media_root):
    soft_deleted(manifest_with_images("Just now", images=1), days_ago=0)

    assert manifests_purge(older_than=timedelta(0)).manifests == 1
    assert Manifest.all_objects.count() == 0


def test_purge_candidates_are_the_old_deleted_manifests():
    manifest_with_images("Live", images=0)
    soft_deleted(manifest_with_images("Recent", images=0), days_ago=1)
    old = soft_deleted(manifest_with_images("Old", images=0), days_ago=31)

    assert list(manifest_purge_candidates(older_than=timedelta(days=30))) == [old]


def test_referenced_manifest_is_skipped_with_the_reason(media_root):
    kept = manifest_with_images("Pinned", images=1)
    project = referenced_and_deleted(kept, "Pilot episode")
    gone = soft_deleted(manifest_with_images("Unused", images=1))

    report = manifests_purge()

    assert report.manifests == 1
    assert [(s.id, s.name) for s in report.skipped] == [(kept.pk, "Pinned")]
    assert "Pilot episode" in report.skipped[0].reason
    assert str(project.pk) in report.skipped[0].reason
    assert Manifest.all_objects.filter(pk=kept.pk).exists()
    assert stored_files(media_root) == files_of(kept)
    assert not Manifest.all_objects.filter(pk=gone.pk).exists()


def test_dry_run_changes_nothing_and_lists_what_would_go(media_root):
    doomed = soft_deleted(manifest_with_images("Doomed", images=2))
    pinned = manifest_with_images("Pinned", images=1)
    referenced_and_deleted(pinned)
    before = snapshot(media_root)
    batches = []

    report = manifests_purge(dry_run=True, on_batch=batches.append)

    assert snapshot(media_root) == before
    assert report.dry_run
    (batch,) = batches
    (planned,) = batch.purged
    assert (planned.id, planned.assets) == (doomed.pk, 2)
    assert sorted(f.name for f in planned.files) == files_of(doomed)
    assert [s.id for s in batch.skipped] == [pinned.pk]


@pytest.mark.disk_only("hard links")
def test_copy_keeps_working_after_its_original_is_purged(media_root, api):
    original = manifest_with_images("Original", images=2)
    copy = services.manifest_duplicate(manifest=original)
    copy_files = files_of(copy)
    contents = {name: (media_root / name).read_bytes() for name in copy_files}
    # Hard links: the copy shares the original's data until the original goes.
    first = copy_files[0]
    assert os.stat(media_root / first).st_nlink == 2
    soft_deleted(original)

    report = manifests_purge()

    assert report.manifests == 1
    assert report.bytes_freed == 0  # every byte is still the copy's
    assert stored_files(media_root) == copy_files
    assert {name: (media_root / name).read_bytes() for name in copy_files} == contents
    assert os.stat(media_root / first).st_nlink == 1
    copy.refresh_from_db()
    assert copy.parent_manifest_id is None
    body = api.get(f"/api/manifests/{copy.pk}").json()
    for asset in body["assets"]:
        assert api.get(asset["reference_image_url"]).status_code == 200
        assert api.get(asset["thumbnail_url"]).status_code == 200
    # The copy's own thumbnail and contact sheet were never the original's files.
    assert body["thumbnail_url"] == body["assets"][0]["thumbnail_url"]
    assert api.get(body["thumbnail_url"]).status_code == 200
    assert api.get(body["contact_sheet_url"]).status_code == 200


@pytest.mark.disk_only("hard links")
def test_purging_original_and_copy_together_counts_shared_bytes_once(media_root):
    original = manifest_with_images("Original", images=2)
    copy = services.manifest_duplicate(manifest=original)
    on_disk = sum(os.path.getsize(media_root / name) for name in files_of(original))
    soft_deleted(original)
    soft_deleted(copy)

    report = manifests_purge()

    assert report.manifests == 2
    assert report.bytes == 2 * on_disk
    assert report.bytes_freed == on_disk
    assert stored_files(media_root) == []


def test_purge_works_in_batches_and_reports_each_after_it_commits(media_root):
    manifests = [soft_deleted(manifest_with_images(f"M{i}", images=1)) for i in range(5)]
    seen = []

    def on_batch(batch):
        # Reported after the commit: the rows are gone and so are the files.
        for purged in batch.purged:
            assert not Manifest.all_objects.filter(pk=purged.id).exists()
            assert not any((media_root / f.name).exists() for f in purged.files)
        seen.append(len(batch.purged))

    report = manifests_purge(batch_size=2, on_batch=on_batch)

    assert seen == [2, 2, 1]
    assert report.batches == 3
    assert report.manifests == len(manifests)
    assert stored_files(media_root) == []


def test_purge_queries_grow_with_batches_not_with_manifests(media_root):
    def queries_to_purge(count: int, batch_size: int) -> CapturedQueries:
        for index in range(count):
            soft_deleted(manifest_with_images(f"M{index}", images=2, derived=False))
        return count_queries(lambda: manifests_purge(batch_size=batch_size))

    one_batch = queries_to_purge(2, batch_size=10)

    assert_same_query_count(one_batch, queries_to_purge(8, batch_size=10))
    # with the UPDATE of the copies losing their parent, and the batch's events (ids, one
    # INSERT, subscriptions)
    assert one_batch.count <= 19, one_batch
    # Each further batch costs what the first did, less the final (empty) listing.
    three_batches = queries_to_purge(6, batch_size=2)
    assert three_batches.count == 3 * (one_batch.count - 1) + 1, three_batches


def test_files_stay_until_the_batch_commits(media_root):
    manifest = soft_deleted(manifest_with_images("Old", images=2))
    names = files_of(manifest)
    still_there = []

    def after_manifest(purged: PurgedManifest):
        assert not Manifest.all_objects.filter(pk=purged.id).exists()  # inside the batch
        still_there.append(all(is_stored(media_root, name) for name in names))

    manifests_purge(after_manifest=after_manifest)

    assert still_there == [True]
    assert stored_files(media_root) == []


def test_failure_in_the_middle_of_a_batch_leaves_that_batch_intact(media_root):
    manifests = [soft_deleted(manifest_with_images(f"M{i}", images=2)) for i in range(5)]
    in_order = sorted(manifests, key=lambda m: m.pk)
    first_batch, rest = in_order[:2], in_order[2:]
    expected_files = sorted(name for m in rest for name in files_of(m))
    purged = []

    def fail_in_second_batch(manifest: PurgedManifest) -> None:
        purged.append(manifest.id)
        if len(purged) == 4:  # the second manifest of the second batch of two
            raise InjectedFailure

    with pytest.raises(InjectedFailure):
        manifests_purge(batch_size=2, after_manifest=fail_in_second_batch)

    # The first batch committed: rows and files gone.
    assert not Manifest.all_objects.filter(pk__in=[m.pk for m in first_batch]).exists()
    # The failed batch rolled back as a whole, and the last one was never touched.
    for manifest in rest:
        current = Manifest.all_objects.get(pk=manifest.pk)
        assert current.deleted_at == manifest.deleted_at
        assert current.asset_count == Asset.all_objects.filter(manifest=current).count() == 2
    assert stored_files(media_root) == expected_files

    # Once the cause is gone, a new run finishes the job.
    assert manifests_purge().manifests == 3
    assert stored_files(media_root) == []


def test_purge_removes_files_from_a_non_local_storage(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    manifest = soft_deleted(manifest_with_images("Remote", images=2))
    names = files_of(manifest)
    assert all(default_storage.exists(name) for name in names)

    report = manifests_purge()

    assert report.files == len(names)
    assert not any(default_storage.exists(name) for name in names)
    for folder in ("uploads", "thumbnails", "contact_sheets"):
        assert default_storage.listdir(f"manifests/{manifest.pk}/{folder}")[1] == []


def test_purge_refuses_bad_arguments():
    with pytest.raises(ValueError):
        manifests_purge(older_than=timedelta(days=-1))
    with pytest.raises(ValueError):
        manifests_purge(batch_size=0)


# --- orphan files ----------------------------------------------------------------------------


def _store(name: str, content: bytes = b"orphan") -> str:
    return default_storage.save(name, ContentFile(content))


def test_orphan_sweep_removes_only_unreferenced_files(media_root):
    live = manifest_with_images("Live", images=2)
    deleted = soft_deleted(manifest_with_images("Deleted, not purged", images=1))
    orphans = [
        _store(f"manifests/{live.pk}/uploads/crashed-upload.png", image_bytes()),
        _store(f"manifests/{deleted.pk}/thumbnails/stale.png"),
        _store("manifests/00000000-0000-0000-0000-000000000000/uploads/gone.png"),
        _store("manifests/not-a-manifest/readme.txt"),
        _store("manifests/loose.txt"),
    ]
    outside = _store("elsewhere/keep.txt")
    kept = sorted([*files_of(live), *files_of(deleted), outside])

    report = orphan_files_sweep(min_age=timedelta(0))

    assert sorted(f.name for f in report.files) == sorted(orphans)
    assert report.bytes == sum(f.size for f in report.files) > 0
    assert stored_files(media_root) == kept
    if not S3_PASS:  # Folders of manifests that no longer exist go too; live ones stay.
        assert not (media_root / "manifests/00000000-0000-0000-0000-000000000000").exists()
        assert (media_root / f"manifests/{live.pk}/uploads").is_dir()


def test_orphan_sweep_keeps_a_file_another_manifest_refers_to(media_root):
    owner = manifest_with_images("Owner", images=1)
    borrowed = files_of(owner)[0]
    other = manifest_with_images("Other", images=1, derived=False)
    # A manual edit pointed an asset of another manifest at this file.
    Asset.all_objects.filter(manifest=other).update(reference_image=borrowed)
    Asset.all_objects.filter(manifest=owner).update(reference_image="")

    report = orphan_files_sweep(min_age=timedelta(0))

    assert borrowed not in [f.name for f in report.files]
    assert is_stored(media_root, borrowed)


def test_orphan_sweep_leaves_young_files_alone(media_root):
    manifest = manifest_with_images("Live", images=1)
    young = _store(f"manifests/{manifest.pk}/uploads/being-written.png")

    report = orphan_files_sweep(min_age=timedelta(hours=1))

    assert report.files == []
    assert is_stored(media_root, young)

    later = orphan_files_sweep(min_age=timedelta(hours=1), now=timezone.now() + timedelta(hours=2))
    assert [f.name for f in later.files] == [young]
    assert not is_stored(media_root, young)


def test_orphan_sweep_dry_run_changes_nothing(media_root):
    manifest = manifest_with_images("Live", images=1)
    orphan = _store(f"manifests/{manifest.pk}/uploads/orphan.png")
    before = snapshot(media_root)

    report = orphan_files_sweep(dry_run=True, min_age=timedelta(0))

    assert [f.name for f in report.files] == [orphan]
    assert snapshot(media_root) == before


def test_orphan_sweep_with_nothing_stored(media_root):
    assert orphan_files_sweep().files == []
