"""Which stored names rows still refer to: manifest and asset rows (deleted ones included)
and frozen versions, asked in chunks well under every backend's parameter limit."""

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q

from manifests.models import Asset, Manifest, VersionFile

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
