"""Stored files: the one owner of where files live, how they are written, copied, listed
and removed, on local disk or on an S3-compatible object store.

- `lifecycle`: files in step with transactions (`new_files`, `save_file`,
  `delete_files_on_commit`, `removed_on_failure`);
- `backends`: the one place that asks which storage it is (hard links or CopyObject,
  listing in pages, removal in batches), and storage errors turned into StorageUnavailable;
- `references`: which names rows and frozen versions still refer to (purge, orphan sweep).
A manifest owns everything under its folder `manifests/<id>/` (`manifest_folder`). Import
from here: `from manifests.files import new_files, save_file`.
"""

from manifests.files.backends import (
    STORAGE_ERRORS,
    ListedFile,
    copy_file,
    copy_files,
    file_sizes,
    files_storage,
    is_local,
    is_s3,
    iter_files,
    list_folders,
    listed,
    prune_empty_folders,
    reading,
    remove_files,
    writing,
)
from manifests.files.lifecycle import (
    delete_files,
    delete_files_on_commit,
    delete_unheld_files,
    new_files,
    removed_on_failure,
    save_file,
)
from manifests.files.references import (
    FileTotals,
    StoredFile,
    named_by_rows,
    named_by_versions,
)
from manifests.models import MANIFESTS_AREA, manifest_folder

__all__ = [
    "MANIFESTS_AREA",
    "STORAGE_ERRORS",
    "FileTotals",
    "ListedFile",
    "StoredFile",
    "copy_file",
    "copy_files",
    "delete_files",
    "delete_files_on_commit",
    "delete_unheld_files",
    "file_sizes",
    "files_storage",
    "is_local",
    "is_s3",
    "iter_files",
    "list_folders",
    "listed",
    "manifest_folder",
    "named_by_rows",
    "named_by_versions",
    "new_files",
    "prune_empty_folders",
    "reading",
    "remove_files",
    "removed_on_failure",
    "save_file",
    "writing",
]
