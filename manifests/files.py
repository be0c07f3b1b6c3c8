"""Stored files: copying them for duplicates and removing them once nothing refers to them.

Two rules keep storage and rows in step:
- an old file is removed only after the change that stopped naming it commits
  (`delete_files_on_commit`), so a rolled-back change never loses a file a row names, and
  never while a frozen version names it (`VersionFile`): a pinned version keeps its bytes;
- a new file is removed again when the operation that stored it fails before its rows
  commit (`new_files`), or when an enclosing transaction of the caller's rolls back
  (`removed_on_failure`, used by the admin, which wraps whole forms in one transaction).
Writes go through `save_file` / `copy_file`, which turn a storage's refusal (OSError: a
full disk, a folder that cannot be written, a timeout) into StorageUnavailable, which the
API answers with 503 and the admin with a message.
Removal problems (a file already gone, a storage hiccup) are logged, never raised: the row
change has happened, and `purge_orphan_files` sweeps whatever is left.
"""

import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

from manifests.exceptions import StorageUnavailable
from manifests.models import VersionFile

logger = logging.getLogger(__name__)

# Files stored by operations inside a `removed_on_failure()` block, if one is active.
_enclosing_new_files: ContextVar[list[str] | None] = ContextVar(
    "vidpipe_enclosing_new_files", default=None
)


@contextmanager
def writing(name: str) -> Iterator[None]:
    """Turn a storage's refusal to write `name` into StorageUnavailable (and log it)."""
    try:
        yield
    except OSError as exc:
        logger.error("Storage refused to write %r: %s", name, exc)
        raise StorageUnavailable(name, exc) from exc


def save_file(field_file: FieldFile, name: str, content: IO[bytes]) -> str:
    """Store `content` as the field's new file (the caller saves the row); its name."""
    with writing(name):
        field_file.save(name, content, save=False)
    return field_file.name


def copy_file(source_name: str, target_name: str, storage: Storage = default_storage) -> str:
    """Copy a stored file to `target_name` (or a free variant of it); return the name used.

    On local disk a hard link is made (no bytes copied; the copy outlives the original's
    removal), falling back to a stream copy across devices; other storages stream the file.
    """
    name = storage.get_available_name(target_name)
    if isinstance(storage, FileSystemStorage):
        source_path, target_path = storage.path(source_name), storage.path(name)
        with writing(name):
            os.makedirs(os.path.dirname(target_path), exist_ok=True)
        try:
            os.link(source_path, target_path)
            return name
        except OSError:
            pass  # e.g. another device or a filesystem without hard links: stream instead
    with storage.open(source_name, "rb") as source, writing(name):
        return storage.save(name, source)


def delete_files(names: Iterable[str], storage: Storage = default_storage) -> int:
    """Remove stored files now; return how many could not be removed (each is logged)."""
    failures = 0
    for name in names:
        if not name:
            continue
        try:
            storage.delete(name)
        except Exception:
            failures += 1
            logger.exception("Could not remove stored file %r; the orphan sweep will.", name)
    return failures


def delete_files_on_commit(names: Iterable[str], storage: Storage = default_storage) -> None:
    """Remove stored files once the current transaction commits (at once outside one),
    but those that a frozen version names: they stay as long as the version does."""
    pending = [name for name in names if name]
    if pending:
        transaction.on_commit(lambda: delete_unheld_files(pending, storage), robust=True)


def delete_unheld_files(names: list[str], storage: Storage = default_storage) -> int:
    """Remove the stored files that no frozen version names; how many could not be."""
    held = VersionFile.objects.held(names)
    return delete_files([name for name in names if name not in held], storage)


@contextmanager
def new_files(storage: Storage = default_storage) -> Iterator[list[str]]:
    """Collect the names an operation stores (append to the list); remove them if it fails.

    Open the operation's `transaction.atomic()` inside this block, so that the rows have
    committed (or rolled back) by the time the block ends.
    """
    stored: list[str] = []
    try:
        yield stored
    except BaseException:
        delete_files(stored, storage)
        raise
    enclosing = _enclosing_new_files.get()
    if enclosing is not None:
        enclosing.extend(stored)


@contextmanager
def removed_on_failure(storage: Storage = default_storage) -> Iterator[None]:
    """Remove the files that operations inside stored, if the block raises.

    For callers that run operations inside their own transaction, which the block's
    exception rolls back after the operations themselves succeeded.
    """
    collected: list[str] = []
    token = _enclosing_new_files.set(collected)
    try:
        yield
    except BaseException:
        delete_files(collected, storage)
        raise
    finally:
        _enclosing_new_files.reset(token)
