"""Where the bytes live: local disk, an S3-compatible object store, or another Django storage.

The one place that asks which kind of storage it is talking to, so that every other module
speaks in stored names only. Each operation takes the cheapest path its backend offers:
- copying: a hard link on local disk, a server-side CopyObject on S3 (no byte passes
  through the app), a stream through the storage API elsewhere;
- listing: a walk of the folder on disk, ListObjectsV2 by prefix in pages of 1,000 on S3
  (sizes and dates come with the listing: no request per file);
- removing: one unlink per file on disk, DeleteObjects in batches of 1,000 keys on S3.
Failures to write become StorageUnavailable (`writing`); failures to remove are counted
and logged by the caller's choice (`remove_files` never raises for one file).
"""

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import FileSystemStorage, Storage
from django.utils import timezone
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from manifests.exceptions import StorageUnavailable
from manifests.models import Asset

logger = logging.getLogger("manifests.files")

# What a storage raises when it cannot do its job: the system's OSError (a full disk, a
# folder that cannot be written), botocore's (a timeout, no connection, 403, NoSuchBucket)
# and boto3's transfer errors, which wrap botocore's.
STORAGE_ERRORS = (OSError, BotoCoreError, ClientError, Boto3Error)
# DeleteObjects takes at most this many keys per request; ListObjectsV2 returns as many.
S3_BATCH = 1000
# Server-side copies or listings in flight at once (boto3 clients are thread-safe;
# botocore keeps 10 connections per client, so more would only queue).
COPY_THREADS = 10


class _SourceMissing(Exception):
    """A copy's source is missing: not the storage's failure (`writing` lets it through)."""


@dataclass(frozen=True)
class ListedFile:
    name: str
    size: int
    # When it was last written (on disk: or linked, ctime: a fresh hard link keeps its
    # source's mtime but gets a new ctime).
    modified: datetime


def files_storage() -> Storage:
    """The storage every file field of the app uses (each field's own, all the same one)."""
    return Asset._meta.get_field("reference_image").storage


# isinstance sees through `default_storage`'s lazy wrapper.
def is_local(storage: Storage) -> bool:
    return isinstance(storage, FileSystemStorage)


def is_s3(storage: Storage) -> bool:
    return isinstance(storage, S3Storage)


def _key(storage: S3Storage, name: str) -> str:
    """The object key of a stored name (the storage's `location` prefix included)."""
    return storage._normalize_name(clean_name(name))


def _unwrap_error(exc: Exception) -> Exception:
    # boto3's transfer errors wrap the ClientError that says why (NoSuchBucket, 403, …).
    if isinstance(exc, Boto3Error) and isinstance(exc.__context__, ClientError):
        return exc.__context__
    return exc


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


@contextmanager
def writing(name: str) -> Iterator[None]:
    """Turn a storage's refusal to write `name` into StorageUnavailable (and log it)."""
    try:
        yield
    except STORAGE_ERRORS as exc:
        reason = _unwrap_error(exc)
        logger.error("Storage refused to write %r: %s", name, reason)
        raise StorageUnavailable(name, reason) from exc


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Turn a storage's failure to read `name` (not a missing file: FileNotFoundError goes
    through) into StorageUnavailable (and log it)."""
    try:
        yield
    except FileNotFoundError:
        raise
    except STORAGE_ERRORS as exc:
        reason = _unwrap_error(exc)
        logger.error("Storage could not read %r: %s", name, reason)
        raise StorageUnavailable(name, reason, action="read") from exc


def copy_file(source_name: str, target_name: str, storage: Storage) -> str:
    """Copy a stored file to `target_name` (or a free variant of it); return the name used.
    FileNotFoundError when the source is missing; StorageUnavailable when the storage
    refuses the copy.

    On local disk a hard link is made (no bytes copied; the copy outlives the original's
    removal), falling back to a stream copy across devices; on S3 the store copies the
    object itself (CopyObject); other storages stream the file through the app.
    """
    if is_s3(storage):
        return _copy_object(storage, storage.connection.meta.client, source_name, target_name)
    name = storage.get_available_name(target_name)
    if is_local(storage):
        source_path, target_path = storage.path(source_name), storage.path(name)
        with writing(name):
            os.makedirs(os.path.dirname(target_path), exist_ok=True)
        try:
            os.link(source_path, target_path)
            return name
        except FileNotFoundError:
            raise
        except OSError:
            pass  # e.g. another device or a filesystem without hard links: stream instead
    with storage.open(source_name, "rb") as source, writing(name):
        return storage.save(name, source)


def _copy_object(storage: S3Storage, client, source_name: str, target_name: str) -> str:
    # Targets are in a new manifest's folder, named after new asset ids: free by
    # construction, so no HEAD request per name to find a free one.
    try:
        with writing(target_name):
            try:
                client.copy_object(
                    Bucket=storage.bucket_name,
                    Key=_key(storage, target_name),
                    CopySource={"Bucket": storage.bucket_name, "Key": _key(storage, source_name)},
                )
            except ClientError as exc:
                if _is_missing(exc):
                    raise _SourceMissing(source_name) from exc
                raise
    except _SourceMissing as missing:
        raise FileNotFoundError(str(missing)) from None
    return clean_name(target_name)


def copy_files(
    storage: Storage, pairs: list[tuple[str, str]], copied: list[str]
) -> list[str | None]:
    """`copy_file` for each (source, target) pair: the names used, None where the source
    is missing; every copy made is appended to `copied` (for removal on failure) before
    the first storage error, if any, is raised. On S3 the copies run in parallel: each is
    one round trip that moves no byte through the app."""

    s3_client = storage.connection.meta.client if is_s3(storage) else None

    def copy(pair: tuple[str, str]) -> str | None:
        try:
            if s3_client is not None:  # one client for every thread: boto3's are thread-safe
                return _copy_object(storage, s3_client, *pair)
            return copy_file(*pair, storage)
        except FileNotFoundError:
            return None

    if s3_client is not None and len(pairs) > 1:
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            futures = [pool.submit(copy, pair) for pair in pairs]
        outcomes = [future.exception() or future.result() for future in futures]
    else:
        outcomes = []
        for pair in pairs:
            try:
                outcomes.append(copy(pair))
            except Exception as exc:
                outcomes.append(exc)
                break
    copied.extend(name for name in outcomes if isinstance(name, str))
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return outcomes


def remove_files(storage: Storage, names: Iterable[str]) -> int:
    """Delete the files (a missing one counts as deleted); log and count the ones that
    could not be removed, never raise: each is left for the orphan sweep."""
    names = (name for name in names if name)
    if is_s3(storage):
        return _remove_objects(storage, names)
    failed = 0
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # any storage's failure: the row change has happened already
            failed += 1
            logger.warning(
                "Could not remove stored file %s; the orphan sweep will.", name, exc_info=True
            )
    return failed


def _remove_objects(storage: S3Storage, names: Iterator[str]) -> int:
    client = storage.connection.meta.client
    failed = 0
    while batch := list(islice(names, S3_BATCH)):
        try:
            answer = client.delete_objects(
                Bucket=storage.bucket_name,
                Delete={"Objects": [{"Key": _key(storage, n)} for n in batch], "Quiet": True},
            )
        except STORAGE_ERRORS:
            failed += len(batch)
            logger.warning(
                "Could not remove %d stored files (%s, …); the orphan sweep will.",
                len(batch),
                batch[0],
                exc_info=True,
            )
            continue
        for error in answer.get("Errors", []):
            failed += 1
            logger.warning(
                "Could not remove stored file %s (%s); the orphan sweep will.",
                error.get("Key"),
                error.get("Code"),
            )
    return failed


def iter_files(storage: Storage, folder: str) -> Iterator[ListedFile]:
    """Every stored file under `folder` (none when it does not exist), one folder's files
    after another (those of a subfolder together), in pages: memory stays flat."""
    if is_s3(storage):
        yield from _iter_objects(storage, folder)
    elif is_local(storage):
        yield from _iter_disk(storage, folder)
    else:
        yield from _iter_storage(storage, folder)


def list_folders(storage: Storage, folders: list[str]) -> dict[str, list[ListedFile]]:
    """The files under each folder (`iter_files`); on S3 the folders are listed in
    parallel, each in pages: one round trip per 1,000 keys and folder."""
    if not is_s3(storage) or len(folders) < 2:
        return {folder: list(iter_files(storage, folder)) for folder in folders}
    client = storage.connection.meta.client  # one for every thread: boto3's are thread-safe
    with ThreadPoolExecutor(COPY_THREADS) as pool:
        listings = pool.map(lambda folder: list(_iter_objects(storage, folder, client)), folders)
        return dict(zip(folders, listings, strict=True))


def _iter_objects(storage: S3Storage, folder: str, client=None) -> Iterator[ListedFile]:
    prefix = _key(storage, folder).rstrip("/") + "/"
    # The stored name is the key without the storage's location prefix.
    strip = len(_key(storage, "x")) - 1
    client = client or storage.connection.meta.client
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=storage.bucket_name, Prefix=prefix, PaginationConfig={"PageSize": S3_BATCH}
    )
    for page in pages:
        for item in page.get("Contents", []):
            yield ListedFile(item["Key"][strip:], item["Size"], item["LastModified"])


def _iter_disk(storage: FileSystemStorage, folder: str) -> Iterator[ListedFile]:
    try:
        entries = sorted(os.scandir(storage.path(folder)), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    directories = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            directories.append(entry.name)
        elif entry.is_file():
            stat = entry.stat()
            modified = datetime.fromtimestamp(max(stat.st_mtime, stat.st_ctime), tz=UTC)
            yield ListedFile(f"{folder}/{entry.name}", stat.st_size, modified)
    for directory in directories:
        yield from _iter_disk(storage, f"{folder}/{directory}")


def _iter_storage(storage: Storage, folder: str) -> Iterator[ListedFile]:
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        path = f"{folder}/{name}"
        try:
            modified = storage.get_modified_time(path)
        except NotImplementedError:
            modified = timezone.now()
        yield ListedFile(path, storage.size(path), modified)
    for directory in sorted(directories):
        yield from _iter_storage(storage, f"{folder}/{directory}")


def file_sizes(storage: Storage, files: Iterable[ListedFile]) -> dict[str, tuple[int, int]]:
    """Each existing file's (size, bytes its removal frees). On local disk the data of hard
    links is counted once per inode, and only when every link to it is among `files`;
    elsewhere every file frees its own size."""
    if not is_local(storage):
        return {f.name: (f.size, f.size) for f in files}
    inodes: dict[tuple[int, int], list[str]] = {}
    stats: dict[tuple[int, int], os.stat_result] = {}
    for listed in files:
        try:
            stat = os.stat(storage.path(listed.name))
        except FileNotFoundError:
            continue
        key = (stat.st_dev, stat.st_ino)
        inodes.setdefault(key, []).append(listed.name)
        stats[key] = stat
    sizes = {}
    for key, linked in inodes.items():
        stat = stats[key]
        freed = stat.st_size if stat.st_nlink <= len(linked) else 0
        for position, name in enumerate(dict.fromkeys(linked)):
            sizes[name] = (stat.st_size, freed if position == 0 else 0)
    return sizes


def listed(storage: Storage, names: Iterable[str]) -> list[ListedFile]:
    """The files of `names` that exist, as a listing would give them (one request each on
    an object store: for the few names found outside any listed folder)."""
    found = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            if is_local(storage):
                stat = os.stat(storage.path(name))
                modified = datetime.fromtimestamp(max(stat.st_mtime, stat.st_ctime), tz=UTC)
                found.append(ListedFile(name, stat.st_size, modified))
            elif storage.exists(name):
                found.append(ListedFile(name, storage.size(name), timezone.now()))
        except FileNotFoundError:
            continue
    return found


def prune_empty_folders(
    storage: Storage, folder: str, *, untouched_since: datetime | None = None
) -> None:
    """Remove empty directories under (and including) `folder` on local disk; object
    storages have no directories to leave behind. With `untouched_since`, keep directories
    changed after that moment (a writer may be about to use them)."""
    if not is_local(storage):
        return
    for path, _dirs, _files in os.walk(storage.path(folder), topdown=False):
        try:
            if untouched_since is not None and os.stat(path).st_mtime > untouched_since.timestamp():
                continue
            os.rmdir(path)
        except OSError:
            pass  # not empty (or already gone): leave it
