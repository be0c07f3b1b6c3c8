"""Stored files: copying them for duplicates and removing them once nothing refers to them.

Removal always waits for the surrounding transaction to commit, so a rolled-back change
never loses a file that a row still names.
"""

import os
from collections.abc import Iterable

from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import transaction


def copy_file(source_name: str, target_name: str, storage: Storage = default_storage) -> str:
    """Copy a stored file to `target_name` (or a free variant of it); return the name used.

    On local disk a hard link is made (no bytes copied; the copy outlives the original's
    removal), falling back to a stream copy across devices; other storages stream the file.
    """
    name = storage.get_available_name(target_name)
    if isinstance(storage, FileSystemStorage):
        source_path, target_path = storage.path(source_name), storage.path(name)
        os.makedirs(os.path.dirname(target_path), exist_ok=True)
        try:
            os.link(source_path, target_path)
            return name
        except OSError:
            pass  # e.g. another device or a filesystem without hard links: stream instead
    with storage.open(source_name, "rb") as source:
        return storage.save(name, source)


def delete_files(names: Iterable[str], storage: Storage = default_storage) -> None:
    """Remove stored files now, ignoring names that are empty or already gone."""
    for name in names:
        if name:
            storage.delete(name)


def delete_files_on_commit(names: Iterable[str], storage: Storage = default_storage) -> None:
    """Remove stored files once the current transaction commits (at once outside one)."""
    pending = [name for name in names if name]
    if pending:
        transaction.on_commit(lambda: delete_files(pending, storage))
