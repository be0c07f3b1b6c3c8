"""Stored files in step with transactions: written before their rows commit, removed after.

Two rules keep storage and rows in step:
- an old file is removed only after the change that stopped naming it commits
  (`delete_files_on_commit`, a robust on_commit: a failing removal never undoes or fails
  the committed change), so a rolled-back change never loses a file a row names, and never
  while a frozen version names it (`VersionFile`): a pinned version keeps its bytes;
- a new file is removed again when the operation that stored it fails before its rows
  commit (`new_files`), or when an enclosing transaction of the caller's rolls back
  (`removed_on_failure`, used by the admin, which wraps whole forms in one transaction).
Writes go through `save_file` / `copy_file`, which turn a storage's refusal into
StorageUnavailable (503 in the API, a message in the admin). Removal problems are logged,
never raised: the row change has happened, and `purge_orphan_files` sweeps what is left.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models.fields.files import FieldFile

from manifests.files.backends import files_storage, remove_files, writing
from manifests.models import VersionFile

# Files stored by operations inside a `removed_on_failure()` block, if one is active.
_enclosing_new_files: ContextVar[list[str] | None] = ContextVar(
    "vidpipe_enclosing_new_files", default=None
)


def save_file(field_file: FieldFile, name: str, content: IO[bytes]) -> str:
    """Store `content` as the field's new file (the caller saves the row); its name.

    Stored with the type its name's extension says (the decoded format), never the one
    a client declared for an upload (an object store would serve that one)."""
    with writing(name):
        field_file.save(name, File(content, name=name), save=False)
    return field_file.name


def delete_files(names: Iterable[str], storage: Storage | None = None) -> int:
    """Remove stored files now; return how many could not be removed (each is logged)."""
    return remove_files(storage or files_storage(), names)


def delete_files_on_commit(names: Iterable[str], storage: Storage | None = None) -> None:
    """Remove stored files once the current transaction commits (at once outside one),
    but those that a frozen version names: they stay as long as the version does."""
    pending = [name for name in names if name]
    if pending:
        transaction.on_commit(lambda: delete_unheld_files(pending, storage), robust=True)


def delete_unheld_files(names: list[str], storage: Storage | None = None) -> int:
    """Remove the stored files that no frozen version names; how many could not be."""
    held = VersionFile.objects.held(names)
    return delete_files([name for name in names if name not in held], storage)


@contextmanager
def new_files(storage: Storage | None = None) -> Iterator[list[str]]:
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
def removed_on_failure(storage: Storage | None = None) -> Iterator[None]:
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
