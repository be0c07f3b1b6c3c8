"""Purging soft-deleted manifests for good: rows, assets and files.

The purge walks its work in bounded batches, so memory stays flat however many manifests
there are. A batch is one transaction that asks storage nothing (no listing or sizing while
rows are locked); its files are listed, by folder in pages, and removed, in batches, only
after that transaction has committed (a robust `transaction.on_commit`), so an error or a
crash in the middle leaves the batch's rows and files as they were, and no file is removed
while a row still names it.
Files a crash leaves behind without a row are what the orphan sweep (`orphans`) is for.

A manifest owns everything under its folder `manifests/<id>/`. Duplicates get their own
files (hard links on local disk), so purging an original never touches its copies' files.
A manifest's frozen versions go with it (cascade), and so do the files that only they name
(an image replaced since, wherever it lies); a file that a frozen version of a manifest not
being purged names stays, and is counted as kept.
"""

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from manifests.exceptions import ManifestInUse
from manifests.files import (
    STORAGE_ERRORS,
    FileTotals,
    ListedFile,
    StoredFile,
    file_sizes,
    files_storage,
    list_folders,
    listed,
    manifest_folder,
    named_by_rows,
    named_by_versions,
    prune_empty_folders,
    remove_files,
)
from manifests.models import Asset, EventType, Manifest, ManifestQuerySet, ManifestVersion, Project
from manifests.services.changes import copies_lose_parent
from manifests.services.common import keyset_chunks
from manifests.services.events import EventDraft, events_record

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class _Planned:
    """A manifest the batch purges, as its rows describe it (no storage asked yet)."""

    id: uuid.UUID
    name: str
    deleted_at: datetime
    assets: int
    versions: int
    # The files its rows and versions name outside its own folder and nothing else uses.
    outside: tuple[str, ...]

    def purged(self, files: tuple[StoredFile, ...], kept: tuple[str, ...]) -> PurgedManifest:
        return PurgedManifest(
            id=self.id,
            name=self.name,
            deleted_at=self.deleted_at,
            assets=self.assets,
            files=files,
            versions=self.versions,
            kept=kept,
        )


def _plan_batch(
    ids: list[uuid.UUID], *, cutoff: datetime, lock: bool
) -> tuple[list[_Planned], list[SkippedManifest]]:
    """What purging these manifests removes, re-checked under their row locks (one may have
    been restored, or may be referenced by a project, since it was listed). Rows only:
    storage is listed after the locks are gone."""
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
    outside: dict[uuid.UUID, list[str]] = {}
    for pk in purge_ids:
        folder = f"{manifest_folder(pk)}/"
        # A name outside the manifest's own folder (a manual edit) may be shared: keep it
        # when any other row still refers to it.
        outside[pk] = [n for n in dict.fromkeys(names[pk]) if n and not n.startswith(folder)]
        shared = named_by_rows(outside[pk], excluding_manifests=purge_ids) if outside[pk] else ()
        outside[pk] = [n for n in outside[pk] if n not in shared]
    planned = [
        _Planned(pk, name, deleted_at, asset_counts[pk], len(version_ids[pk]), tuple(outside[pk]))
        for pk, name, deleted_at, *_ in manifests
    ]
    return planned, skipped


def _batch_files(
    storage: Storage, planned: list[_Planned], *, excluding: list[uuid.UUID]
) -> tuple[list[PurgedManifest], int]:
    """The batch's manifests with their stored files (each folder listed in pages, sizes
    from the listing), less those a frozen version of another manifest names (`excluding`:
    the manifests whose versions go too, in a dry run); and how many manifests' storage
    could not be listed (logged: the orphan sweep meets their files later)."""
    found: dict[uuid.UUID, list[ListedFile]] = {m.id: [] for m in planned}
    try:
        folders = list_folders(storage, [manifest_folder(m.id) for m in planned])
    except STORAGE_ERRORS:
        logger.warning(
            "Could not list the files of %d manifests; the orphan sweep will.", len(planned)
        )
        return [m.purged((), ()) for m in planned], len(planned)
    unlisted = 0
    for manifest in planned:
        try:
            found[manifest.id] = [
                *folders[manifest_folder(manifest.id)],
                *listed(storage, manifest.outside),
            ]
        except STORAGE_ERRORS:
            logger.warning("Could not list the files of %s; the orphan sweep will.", manifest.id)
            unlisted += 1
    # Whatever a frozen version of another manifest names stays, in the folder or not.
    held = named_by_versions(
        (f.name for files in found.values() for f in files), excluding_manifests=excluding
    )
    sizes = file_sizes(
        storage, [f for files in found.values() for f in files if f.name not in held]
    )
    purged = []
    for manifest in planned:
        names = list(dict.fromkeys(f.name for f in found[manifest.id]))
        files = tuple(StoredFile(n, *sizes[n]) for n in names if n in sizes)
        purged.append(manifest.purged(files, tuple(n for n in names if n in held)))
    return purged, unlisted


def _remove_batch_files(
    storage: Storage, planned: list[_Planned], report: PurgeReport
) -> list[PurgedManifest]:
    purged, unlisted = _batch_files(storage, planned, excluding=[])
    report.files_not_removed += unlisted
    report.files_not_removed += remove_files(storage, (f.name for p in purged for f in p.files))
    for manifest in purged:
        prune_empty_folders(storage, manifest_folder(manifest.id))
    return purged


def manifests_purge(
    *,
    older_than: timedelta = DEFAULT_PURGE_AGE,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
    storage: Storage | None = None,
    on_batch: Callable[[PurgeBatch], None] | None = None,
    after_manifest: Callable[[PurgedManifest], None] | None = None,
) -> PurgeReport:
    """Hard-delete manifests soft-deleted longer than `older_than` ago, with their assets,
    frozen versions and files, `batch_size` manifests per transaction; skip the ones
    projects reference, and keep the files other manifests' frozen versions name.

    A batch's rows go in one transaction that asks storage nothing; its files are listed
    (in pages) and removed (in batches) once it has committed, and a removal that fails is
    counted and left for the orphan sweep. Inside a caller's transaction that happens when
    it commits. `on_batch` hears about each batch once its files are gone (or planned, in a
    dry run). `after_manifest` is called for each manifest of a batch inside its
    transaction, once the batch's rows are deleted (its files not yet listed): an exception
    there rolls the whole batch back and stops the purge.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    storage = storage or files_storage()
    cutoff = purge_cutoff(older_than=older_than, now=now)
    report = PurgeReport(dry_run=dry_run, cutoff=cutoff)
    candidates = manifest_purge_candidates(older_than=older_than, now=now)
    # Keyset pagination: skipped rows stay behind, purged ones vanish; either way the next
    # batch starts after the last id seen, and memory holds one batch at most.
    for ids in keyset_chunks(candidates.values_list("pk", flat=True), batch_size):
        if dry_run:
            planned, skipped = _plan_batch(ids, cutoff=cutoff, lock=False)
            purged, _ = _batch_files(storage, planned, excluding=[p.id for p in planned])
            _report_batch(report, purged, skipped, on_batch)
            continue
        with transaction.atomic():
            planned, skipped = _plan_batch(ids, cutoff=cutoff, lock=True)
            gone = [m.id for m in planned]
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
                    for m in planned
                ]
            )
            if after_manifest is not None:
                for manifest in planned:
                    after_manifest(manifest.purged((), ()))
        # At once, unless a caller's transaction is open: then when it commits.
        transaction.on_commit(
            lambda planned=planned, skipped=skipped: _report_batch(
                report, _remove_batch_files(storage, planned, report), skipped, on_batch
            ),
            robust=True,
        )
    return report


def _report_batch(
    report: PurgeReport,
    purged: list[PurgedManifest],
    skipped: list[SkippedManifest],
    on_batch: Callable[[PurgeBatch], None] | None,
) -> None:
    batch = PurgeBatch(number=report.batches + 1, purged=tuple(purged), skipped=tuple(skipped))
    report.add(batch)
    if on_batch is not None:
        on_batch(batch)
