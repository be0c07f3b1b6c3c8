"""Purging soft-deleted manifests for good, and sweeping stored files no row refers to.

Both walk their work in bounded batches, so memory stays flat however many manifests or
files there are. A purge batch is one transaction; its files are removed only after that
transaction has committed (`transaction.on_commit`), so an error or a crash in the middle
leaves the batch's rows and files as they were, and no file is removed while a row still
names it. Files a crash leaves behind without a row are what the orphan sweep is for.

A manifest owns everything under its folder `manifests/<id>/`. Duplicates get their own
files (hard links on local disk), so purging an original never touches its copies' files.
"""

import logging
import os
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from manifests.exceptions import ManifestInUse
from manifests.models import Asset, Manifest, ManifestQuerySet, Project

logger = logging.getLogger(__name__)

MANIFESTS_AREA = "manifests"
DEFAULT_PURGE_AGE = timedelta(days=30)
DEFAULT_BATCH_SIZE = 100
# Files younger than this are never orphans: an upload or a duplicate may be writing them
# before the row that names them commits.
DEFAULT_ORPHAN_MIN_AGE = timedelta(hours=1)
# Names per `IN (...)` lookup: well under every backend's parameter limit.
NAME_CHUNK_SIZE = 500


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    # Bytes its removal gives back: 0 while a hard link shares the data with another file.
    freed: int


class FileTotals:
    """Sizes of a set of stored files, for classes with a `files` attribute."""

    files: Iterable[StoredFile]

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def bytes_freed(self) -> int:
        return sum(f.freed for f in self.files)


@dataclass(frozen=True)
class PurgedManifest(FileTotals):
    id: uuid.UUID
    name: str
    deleted_at: datetime
    assets: int
    files: tuple[StoredFile, ...]


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
            self.bytes += purged.bytes
            self.bytes_freed += purged.bytes_freed


@dataclass
class OrphanSweepReport(FileTotals):
    dry_run: bool
    files: list[StoredFile] = field(default_factory=list)
    files_not_removed: int = 0


# --- storage helpers -------------------------------------------------------------------------


def manifest_folder(manifest_id: uuid.UUID | str) -> str:
    """The storage folder that holds every file of one manifest."""
    return f"{MANIFESTS_AREA}/{manifest_id}"


def _is_local(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


def _listdir(storage: Storage, folder: str) -> tuple[list[str], list[str]]:
    try:
        return storage.listdir(folder)
    except FileNotFoundError:
        return [], []


def _walk_files(storage: Storage, folder: str) -> Iterator[str]:
    """Every stored file name under `folder` (none when the folder does not exist)."""
    directories, files = _listdir(storage, folder)
    for name in sorted(files):
        yield f"{folder}/{name}"
    for directory in sorted(directories):
        yield from _walk_files(storage, f"{folder}/{directory}")


def _measure(storage: Storage, names: Iterable[str]) -> dict[str, StoredFile]:
    """Size each existing file; on local disk, count freed bytes once per inode and only
    when every link to it is among `names`."""
    measured: dict[str, StoredFile] = {}
    inodes: dict[tuple[int, int], list[str]] = defaultdict(list)
    stats: dict[tuple[int, int], os.stat_result] = {}
    for name in dict.fromkeys(names):
        if _is_local(storage):
            try:
                stat = os.stat(storage.path(name))
            except FileNotFoundError:
                continue
            key = (stat.st_dev, stat.st_ino)
            inodes[key].append(name)
            stats[key] = stat
        elif storage.exists(name):
            size = storage.size(name)
            measured[name] = StoredFile(name, size, size)
    for key, linked in inodes.items():
        stat = stats[key]
        freed = stat.st_size if stat.st_nlink <= len(linked) else 0
        for position, name in enumerate(linked):
            measured[name] = StoredFile(name, stat.st_size, freed if position == 0 else 0)
    return measured


def _file_age(storage: Storage, name: str, now: datetime) -> timedelta | None:
    """How long ago the file was last written or linked; None when the storage cannot say."""
    if _is_local(storage):
        stat = os.stat(storage.path(name))
        # ctime too: a fresh hard link keeps its source's mtime but gets a new ctime.
        return now - datetime.fromtimestamp(max(stat.st_mtime, stat.st_ctime), tz=now.tzinfo)
    try:
        modified = storage.get_modified_time(name)
    except NotImplementedError:
        return None
    if timezone.is_naive(modified):
        modified = timezone.make_aware(modified, now.tzinfo)
    return now - modified


def _remove_files(storage: Storage, names: Iterable[str]) -> int:
    """Delete the files; log and count the ones that could not be removed."""
    failed = 0
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            failed += 1
            logger.warning("Could not remove stored file %s", name, exc_info=True)
    return failed


def _prune_empty_folders(
    storage: Storage, folder: str, *, untouched_since: datetime | None = None
) -> None:
    """Remove empty directories under (and including) `folder` on local disk; object
    storages have no directories to leave behind. With `untouched_since`, keep directories
    changed after that moment (a writer may be about to use them)."""
    if not _is_local(storage):
        return
    for path, _dirs, _files in os.walk(storage.path(folder), topdown=False):
        try:
            if untouched_since is not None and os.stat(path).st_mtime > untouched_since.timestamp():
                continue
            os.rmdir(path)
        except OSError:
            pass  # not empty (or already gone): leave it


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def referenced_names(
    names: Iterable[str], *, excluding_manifests: Iterable[uuid.UUID] = ()
) -> set[str]:
    """Those of `names` that some manifest or asset row (deleted ones included) refers to,
    leaving out the rows of `excluding_manifests` and their assets."""
    wanted = list(dict.fromkeys(n for n in names if n))
    excluded = list(excluding_manifests)
    found: set[str] = set()
    for chunk in _chunks(wanted, NAME_CHUNK_SIZE):
        assets = Asset.all_objects.filter(Q(reference_image__in=chunk) | Q(thumbnail__in=chunk))
        manifests = Manifest.all_objects.filter(Q(thumbnail__in=chunk) | Q(contact_sheet__in=chunk))
        if excluded:
            assets = assets.exclude(manifest_id__in=excluded)
            manifests = manifests.exclude(pk__in=excluded)
        for pair in assets.values_list("reference_image", "thumbnail"):
            found.update(pair)
        for pair in manifests.values_list("thumbnail", "contact_sheet"):
            found.update(pair)
    return found.intersection(wanted)


# --- purge -----------------------------------------------------------------------------------


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
    for pk in purge_ids:
        folder = f"{manifest_folder(pk)}/"
        owned = [n for n in names[pk] if n]
        # A name outside the manifest's own folder (a manual edit) may be shared: keep it
        # when any other row still refers to it.
        outside = [n for n in owned if not n.startswith(folder)]
        shared = referenced_names(outside, excluding_manifests=purge_ids) if outside else set()
        names[pk] = [n for n in owned if n not in shared] + list(_walk_files(storage, folder[:-1]))

    measured = _measure(storage, (n for pk in purge_ids for n in names[pk]))
    purged = [
        PurgedManifest(
            id=pk,
            name=name,
            deleted_at=deleted_at,
            assets=asset_counts[pk],
            files=tuple(measured[n] for n in dict.fromkeys(names[pk]) if n in measured),
        )
        for pk, name, deleted_at, *_ in manifests
    ]
    return purged, skipped


def _remove_purged(storage: Storage, batch: list[PurgedManifest], report: PurgeReport) -> None:
    report.files_not_removed += _remove_files(
        storage, (f.name for purged in batch for f in purged.files)
    )
    for purged in batch:
        _prune_empty_folders(storage, manifest_folder(purged.id))


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
    """Hard-delete manifests soft-deleted longer than `older_than` ago, with their assets
    and files, `batch_size` manifests per transaction; skip the ones projects reference.

    `on_batch` hears about each batch once it has committed (or been planned, in a dry
    run). `after_manifest` is called for each manifest of a batch inside its transaction,
    once the batch's rows are deleted: an exception there rolls the whole batch back and
    stops the purge.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    cutoff = purge_cutoff(older_than=older_than, now=now)
    report = PurgeReport(dry_run=dry_run, cutoff=cutoff)
    last_id = None
    while True:
        # Keyset pagination: skipped rows stay behind, purged ones vanish; either way the
        # next batch starts after the last id seen, and memory holds one batch at most.
        candidates = manifest_purge_candidates(older_than=older_than, now=now).order_by("pk")
        if last_id is not None:
            candidates = candidates.filter(pk__gt=last_id)
        ids = list(candidates.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        last_id = ids[-1]
        if dry_run:
            purged, skipped = _plan_batch(ids, cutoff=cutoff, lock=False, storage=storage)
        else:
            with transaction.atomic():
                purged, skipped = _plan_batch(ids, cutoff=cutoff, lock=True, storage=storage)
                # Cascades to the assets; copies keep their rows (parent set to NULL).
                Manifest.all_objects.filter(pk__in=[m.id for m in purged]).hard_delete()
                if after_manifest is not None:
                    for manifest in purged:
                        after_manifest(manifest)
                transaction.on_commit(lambda batch=purged: _remove_purged(storage, batch, report))
        batch = PurgeBatch(number=report.batches + 1, purged=tuple(purged), skipped=tuple(skipped))
        report.add(batch)
        if on_batch is not None:
            on_batch(batch)
    return report


# --- orphan files ----------------------------------------------------------------------------


def _manifest_file_names(manifest_id: uuid.UUID) -> tuple[bool, set[str]]:
    """Whether the manifest row exists, and the file names it and its assets refer to."""
    names: set[str] = set()
    rows = list(
        Manifest.all_objects.filter(pk=manifest_id).values_list("thumbnail", "contact_sheet")
    )
    for pair in rows:
        names.update(pair)
    for pair in Asset.all_objects.filter(manifest_id=manifest_id).values_list(
        "reference_image", "thumbnail"
    ):
        names.update(pair)
    names.discard("")
    return bool(rows), names


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def orphan_files_sweep(
    *,
    dry_run: bool = False,
    min_age: timedelta = DEFAULT_ORPHAN_MIN_AGE,
    now: datetime | None = None,
    storage: Storage = default_storage,
    on_orphan: Callable[[StoredFile], None] | None = None,
) -> OrphanSweepReport:
    """Remove files under `manifests/` that no manifest or asset row refers to and that
    are older than `min_age`, one manifest folder at a time."""
    now = now or timezone.now()
    report = OrphanSweepReport(dry_run=dry_run)
    directories, loose = _listdir(storage, MANIFESTS_AREA)
    groups: list[tuple[str | None, list[str]]] = [
        (None, [f"{MANIFESTS_AREA}/{name}" for name in sorted(loose)])
    ]
    groups += [(directory, []) for directory in sorted(directories)]
    for directory, files in groups:
        manifest_id = _parse_uuid(directory) if directory else None
        exists, known = _manifest_file_names(manifest_id) if manifest_id else (False, set())
        if directory is not None:
            files = list(_walk_files(storage, f"{MANIFESTS_AREA}/{directory}"))
        # The manifest's own rows answer for almost every file (an indexed query); anything
        # else is checked against every row before it is called an orphan.
        unknown = [name for name in files if name not in known]
        unreferenced = set(unknown) - referenced_names(unknown)
        orphans = []
        for name in unknown:
            if name not in unreferenced:
                continue
            age = _file_age(storage, name, now)
            if (age is None and min_age > timedelta(0)) or (age is not None and age < min_age):
                continue
            orphans.append(name)
        measured = _measure(storage, orphans)
        found = [measured[name] for name in orphans if name in measured]
        report.files.extend(found)
        if on_orphan is not None:
            for orphan in found:
                on_orphan(orphan)
        if not dry_run:
            report.files_not_removed += _remove_files(storage, (f.name for f in found))
            if directory is not None and not exists:
                # Only folders of manifests that no longer exist: a live one may be written
                # to. A folder that held only old orphans has no writer either; otherwise
                # keep the directories changed recently (a duplicate may be filling them).
                stale = bool(files) and len(found) == len(files)
                _prune_empty_folders(
                    storage,
                    f"{MANIFESTS_AREA}/{directory}",
                    untouched_since=None if stale or not min_age else now - min_age,
                )
    return report
