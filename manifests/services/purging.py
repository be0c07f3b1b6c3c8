"""Purging soft-deleted manifests for good: rows, assets and files.

The purge walks its work in bounded batches, so memory stays flat however many manifests
there are. A batch is one transaction; its files are removed only after that transaction
has committed (`transaction.on_commit`), so an error or a crash in the middle leaves the
batch's rows and files as they were, and no file is removed while a row still names it.
Files a crash leaves behind without a row are what the orphan sweep (`orphans`) is for.

A manifest owns everything under its folder `manifests/<id>/`. Duplicates get their own
files (hard links on local disk), so purging an original never touches its copies' files.
A manifest's frozen versions go with it (cascade), and so do the files that only they name
(an image replaced since, wherever it lies); a file that a frozen version of a manifest not
being purged names stays, and is counted as kept.
"""

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.utils import timezone

from manifests.exceptions import ManifestInUse
from manifests.models import (
    Asset,
    EventType,
    Manifest,
    ManifestQuerySet,
    ManifestVersion,
    Project,
)
from manifests.services.changes import copies_lose_parent
from manifests.services.common import keyset_chunks
from manifests.services.events import EventDraft, events_record
from manifests.services.stored_files import (
    FileTotals,
    StoredFile,
    manifest_folder,
    measure,
    named_by_rows,
    named_by_versions,
    prune_empty_folders,
    remove_files,
    walk_files,
)

DEFAULT_PURGE_AGE = timedelta(days=30)
DEFAULT_BATCH_SIZE = 100


@dataclass(frozen=True)
class PurgedManifest(FileTotals):
    id: uuid.UUID
    name: str
    deleted_at: datetime
    assets: int
    files: tuple[StoredFile, ...]
    versions: int = 0
    # Its files that stay because a frozen version of another manifest names them.
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedManifest:
    id: uuid.UUID
    name: str
    reason: str


@dataclass(frozen=True)
class PurgeBatch:
    number: int
    purged: tuple[PurgedManifest, ...]
    skipped: tuple[SkippedManifest, ...]


@dataclass
class PurgeReport:
    dry_run: bool
    cutoff: datetime
    batches: int = 0
    manifests: int = 0
    assets: int = 0
    files: int = 0
    bytes: int = 0
    bytes_freed: int = 0
    versions: int = 0
    files_kept: int = 0
    skipped: list[SkippedManifest] = field(default_factory=list)
    # Files whose removal failed after their rows were gone: the orphan sweep retries them.
    files_not_removed: int = 0

    def add(self, batch: PurgeBatch) -> None:
        self.batches += 1
        self.skipped.extend(batch.skipped)
        for purged in batch.purged:
            self.manifests += 1
            self.assets += purged.assets
            self.files += len(purged.files)
            self.versions += purged.versions
            self.files_kept += len(purged.kept)
            self.bytes += purged.bytes
            self.bytes_freed += purged.bytes_freed


def purge_cutoff(
    *, older_than: timedelta = DEFAULT_PURGE_AGE, now: datetime | None = None
) -> datetime:
    """Manifests deleted at or before this moment are old enough to purge."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative.")
    return (now or timezone.now()) - older_than


def manifest_purge_candidates(
    *, older_than: timedelta = DEFAULT_PURGE_AGE, now: datetime | None = None
) -> ManifestQuerySet:
    """Soft-deleted manifests deleted longer than `older_than` ago, referenced ones included."""
    cutoff = purge_cutoff(older_than=older_than, now=now)
    return Manifest.all_objects.filter(deleted_at__isnull=False, deleted_at__lte=cutoff)


def _plan_batch(
    ids: list[uuid.UUID], *, cutoff: datetime, lock: bool, storage: Storage
) -> tuple[list[PurgedManifest], list[SkippedManifest]]:
    """What purging these manifests removes, re-checked under their row locks (one may have
    been restored, or may be referenced by a project, since it was listed)."""
    rows = Manifest.all_objects.filter(pk__in=ids, deleted_at__lte=cutoff).order_by("pk")
    if lock:
        rows = rows.select_for_update()
    manifests = list(rows.values_list("pk", "name", "deleted_at", "thumbnail", "contact_sheet"))

    projects: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    referencing = Project.objects.filter(manifest_id__in=[row[0] for row in manifests])
    for manifest_id, pk, name in referencing.order_by("name").values_list(
        "manifest_id", "pk", "name"
    ):
        projects[manifest_id].append((pk, name))
    skipped = [
        SkippedManifest(pk, name, str(ManifestInUse(projects[pk])))
        for pk, name, *_ in manifests
        if pk in projects
    ]
    manifests = [row for row in manifests if row[0] not in projects]
    purge_ids = [row[0] for row in manifests]

    names: dict[uuid.UUID, list[str]] = {pk: [thumb, sheet] for pk, _, _, thumb, sheet in manifests}
    asset_counts: Counter[uuid.UUID] = Counter()
    assets = Asset.all_objects.filter(manifest_id__in=purge_ids).order_by()
    for manifest_id, image, thumbnail in assets.values_list(
        "manifest_id", "reference_image", "thumbnail"
    ).iterator(chunk_size=2000):
        asset_counts[manifest_id] += 1
        names[manifest_id] += [image, thumbnail]
    # Its versions go by cascade, with the files they name: an image replaced since, say.
    version_ids: dict[uuid.UUID, set[int]] = defaultdict(set)
    versions = ManifestVersion.objects.filter(manifest_id__in=purge_ids).order_by()
    for manifest_id, version_id, name in versions.values_list("manifest_id", "pk", "files__name"):
        version_ids[manifest_id].add(version_id)
        names[manifest_id].append(name or "")
    for pk in purge_ids:
        folder = f"{manifest_folder(pk)}/"
        owned = [n for n in dict.fromkeys(names[pk]) if n]
        # A name outside the manifest's own folder (a manual edit) may be shared: keep it
        # when any other row still refers to it.
        outside = [n for n in owned if not n.startswith(folder)]
        shared = named_by_rows(outside, excluding_manifests=purge_ids) if outside else set()
        names[pk] = [n for n in owned if n not in shared] + list(walk_files(storage, folder[:-1]))
    # Whatever a frozen version of another manifest names stays, in the folder or not.
    held = named_by_versions(
        (n for pk in purge_ids for n in names[pk]), excluding_manifests=purge_ids
    )
    kept = {pk: tuple(n for n in dict.fromkeys(names[pk]) if n in held) for pk in purge_ids}
    names = {pk: [n for n in names[pk] if n not in held] for pk in purge_ids}

    measured = measure(storage, (n for pk in purge_ids for n in names[pk]))
    purged = [
        PurgedManifest(
            id=pk,
            name=name,
            deleted_at=deleted_at,
            assets=asset_counts[pk],
            files=tuple(measured[n] for n in dict.fromkeys(names[pk]) if n in measured),
            versions=len(version_ids[pk]),
            kept=kept[pk],
        )
        for pk, name, deleted_at, *_ in manifests
    ]
    return purged, skipped


def _remove_purged(storage: Storage, batch: list[PurgedManifest], report: PurgeReport) -> None:
    report.files_not_removed += remove_files(
        storage, (f.name for purged in batch for f in purged.files)
    )
    for purged in batch:
        prune_empty_folders(storage, manifest_folder(purged.id))


def manifests_purge(
    *,
    older_than: timedelta = DEFAULT_PURGE_AGE,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
    storage: Storage = default_storage,
    on_batch: Callable[[PurgeBatch], None] | None = None,
    after_manifest: Callable[[PurgedManifest], None] | None = None,
) -> PurgeReport:
    """Hard-delete manifests soft-deleted longer than `older_than` ago, with their assets,
    frozen versions and files, `batch_size` manifests per transaction; skip the ones
    projects reference, and keep the files other manifests' frozen versions name.

    `on_batch` hears about each batch once it has committed (or been planned, in a dry
    run). `after_manifest` is called for each manifest of a batch inside its transaction,
    once the batch's rows are deleted: an exception there rolls the whole batch back and
    stops the purge.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    cutoff = purge_cutoff(older_than=older_than, now=now)
    report = PurgeReport(dry_run=dry_run, cutoff=cutoff)
    candidates = manifest_purge_candidates(older_than=older_than, now=now)
    # Keyset pagination: skipped rows stay behind, purged ones vanish; either way the next
    # batch starts after the last id seen, and memory holds one batch at most.
    for ids in keyset_chunks(candidates.values_list("pk", flat=True), batch_size):
        if dry_run:
            purged, skipped = _plan_batch(ids, cutoff=cutoff, lock=False, storage=storage)
        else:
            with transaction.atomic():
                purged, skipped = _plan_batch(ids, cutoff=cutoff, lock=True, storage=storage)
                gone = [m.id for m in purged]
                # Copies keep their rows: their parent goes, as a change they show.
                copies_lose_parent(gone)
                # Cascades to the assets and the frozen versions.
                Manifest.all_objects.filter(pk__in=gone).hard_delete()
                events_record(
                    [
                        EventDraft(
                            EventType.MANIFEST_PURGED,
                            m.id,
                            payload={"name": m.name, "assets": m.assets},
                        )
                        for m in purged
                    ]
                )
                if after_manifest is not None:
                    for manifest in purged:
                        after_manifest(manifest)
                transaction.on_commit(lambda batch=purged: _remove_purged(storage, batch, report))
        batch = PurgeBatch(number=report.batches + 1, purged=tuple(purged), skipped=tuple(skipped))
        report.add(batch)
        if on_batch is not None:
            on_batch(batch)
    return report
