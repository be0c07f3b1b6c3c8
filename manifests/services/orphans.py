"""Sweeping stored files that no manifest or asset row refers to (orphans).

A file that only a frozen version still names (an image replaced or deleted since) is no
orphan: it stays as long as the version does, and the sweep counts it as kept.

Orphans are what a crash, a rolled-back change or a failed removal leaves behind under
`manifests/`. The sweep works one manifest folder at a time, so memory stays flat however
many files there are, and leaves young files alone: their row may not have committed yet.
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from django.core.files.storage import Storage
from django.utils import timezone

from manifests.files import (
    MANIFESTS_AREA,
    FileTotals,
    ListedFile,
    StoredFile,
    file_sizes,
    files_storage,
    iter_files,
    manifest_folder,
    named_by_rows,
    named_by_versions,
    prune_empty_folders,
    remove_files,
)
from manifests.models import Asset, Manifest

# Files younger than this are never orphans: an upload or a duplicate may be writing them
# before the row that names them commits.
DEFAULT_ORPHAN_MIN_AGE = timedelta(hours=1)


@dataclass
class OrphanSweepReport(FileTotals):
    dry_run: bool
    files: list[StoredFile] = field(default_factory=list)
    files_not_removed: int = 0
    # Files no row refers to that stay because a frozen version names them.
    kept_for_versions: list[str] = field(default_factory=list)


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


def _folder_of(listed: ListedFile) -> str | None:
    """The manifest folder (its second path part) a file lies in; None for a loose file."""
    parts = listed.name.split("/")
    return parts[1] if len(parts) > 2 else None


def _folders(storage: Storage) -> Iterator[tuple[str | None, list[ListedFile]]]:
    """The files under `manifests/`, one manifest folder at a time (one listing, in pages)."""
    for directory, files in groupby(iter_files(storage, MANIFESTS_AREA), key=_folder_of):
        yield directory, list(files)


def orphan_files_sweep(
    *,
    dry_run: bool = False,
    min_age: timedelta = DEFAULT_ORPHAN_MIN_AGE,
    now: datetime | None = None,
    storage: Storage | None = None,
    on_orphan: Callable[[StoredFile], None] | None = None,
) -> OrphanSweepReport:
    """Remove files under `manifests/` that no manifest or asset row and no frozen version
    refers to and that are older than `min_age`, one manifest folder at a time. No
    transaction is held: a row committed meanwhile is seen by the checks that follow."""
    storage = storage or files_storage()
    now = now or timezone.now()
    report = OrphanSweepReport(dry_run=dry_run)
    for directory, files in _folders(storage):
        manifest_id = _parse_uuid(directory) if directory else None
        exists, known = _manifest_file_names(manifest_id) if manifest_id else (False, set())
        # The manifest's own rows answer for almost every file (an indexed query); anything
        # else is checked against every row before it is called an orphan.
        unknown = [f for f in files if f.name not in known]
        unknown_names = [f.name for f in unknown]
        unreferenced = set(unknown_names) - named_by_rows(unknown_names)
        held = named_by_versions(unreferenced)
        report.kept_for_versions += [name for name in unknown_names if name in held]
        unreferenced -= held
        orphans = [f for f in unknown if f.name in unreferenced and now - f.modified >= min_age]
        sizes = file_sizes(storage, orphans)
        found = [StoredFile(f.name, *sizes[f.name]) for f in orphans if f.name in sizes]
        report.files.extend(found)
        if on_orphan is not None:
            for orphan in found:
                on_orphan(orphan)
        if not dry_run:
            report.files_not_removed += remove_files(storage, (f.name for f in found))
            if directory is not None and not exists:
                # Only folders of manifests that no longer exist: a live one may be written
                # to. A folder that held only old orphans has no writer either; otherwise
                # keep the directories changed recently (a duplicate may be filling them).
                stale = bool(files) and len(found) == len(files)
                prune_empty_folders(
                    storage,
                    manifest_folder(directory),
                    untouched_since=None if stale or not min_age else now - min_age,
                )
    return report
