"""Stored files under `manifests/`, as the purge and the orphan sweep see them: walking a
manifest's folder, sizing files, asking which names rows still refer to, and removing files
and the folders they leave empty.

A manifest owns everything under its folder `manifests/<id>/`. Duplicates get their own
files (hard links on local disk), so sizes count bytes freed once per inode, and only when
every link to the data goes. Removal problems are logged and counted, never raised: a file
left behind is one more orphan for the next sweep. (Copying files for duplicates, and removing
them in step with everyday changes, is `manifests/files.py`.)
"""

import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.storage import FileSystemStorage, Storage
from django.db.models import Q
from django.utils import timezone

from manifests.models import Asset, Manifest, VersionFile

logger = logging.getLogger(__name__)

MANIFESTS_AREA = "manifests"
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


def manifest_folder(manifest_id: uuid.UUID | str) -> str:
    """The storage folder that holds every file of one manifest."""
    return f"{MANIFESTS_AREA}/{manifest_id}"


def _is_local(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


def listdir(storage: Storage, folder: str) -> tuple[list[str], list[str]]:
    """`storage.listdir`, reading a missing folder as an empty one."""
    try:
        return storage.listdir(folder)
    except FileNotFoundError:
        return [], []


def walk_files(storage: Storage, folder: str) -> Iterator[str]:
    """Every stored file name under `folder` (none when the folder does not exist)."""
    directories, files = listdir(storage, folder)
    for name in sorted(files):
        yield f"{folder}/{name}"
    for directory in sorted(directories):
        yield from walk_files(storage, f"{folder}/{directory}")


def measure(storage: Storage, names: Iterable[str]) -> dict[str, StoredFile]:
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


def file_age(storage: Storage, name: str, now: datetime) -> timedelta | None:
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


def remove_files(storage: Storage, names: Iterable[str]) -> int:
    """Delete the files; log and count the ones that could not be removed."""
    failed = 0
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            failed += 1
            logger.warning("Could not remove stored file %s", name, exc_info=True)
    return failed


def prune_empty_folders(
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


def named_by_rows(
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


def named_by_versions(
    names: Iterable[str], *, excluding_manifests: Iterable[uuid.UUID] = ()
) -> set[str]:
    """Those of `names` that a frozen version names, leaving out the versions of
    `excluding_manifests` (which go with them): such files stay as long as the version."""
    wanted = list(dict.fromkeys(n for n in names if n))
    excluded = list(excluding_manifests)
    found: set[str] = set()
    for chunk in _chunks(wanted, NAME_CHUNK_SIZE):
        versions = VersionFile.objects.filter(name__in=chunk)
        if excluded:
            versions = versions.exclude(version__manifest_id__in=excluded)
        found.update(versions.values_list("name", flat=True))
    return found


def referenced_names(
    names: Iterable[str], *, excluding_manifests: Iterable[uuid.UUID] = ()
) -> set[str]:
    """Those of `names` that some manifest or asset row (deleted ones included) or frozen
    version refers to, leaving out the rows of `excluding_manifests`, their assets and their
    versions."""
    names = list(names)
    by_rows = named_by_rows(names, excluding_manifests=excluding_manifests)
    rest = [n for n in names if n not in by_rows]
    return by_rows | named_by_versions(rest, excluding_manifests=excluding_manifests)
