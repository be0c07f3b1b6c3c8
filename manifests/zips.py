"""Everything that touches `zipfile`: writing a zip as a stream, and reading an untrusted
one within limits (bundles: `manifests.services.bundles`, which decides what they hold).

Reading trusts nothing a zip says about itself. Its central directory is measured before
ZipFile loads it; every name is checked (no absolute paths, `..`, backslashes, NUL or
control characters), as are kinds (no symlinks), encryption and compression; the sizes it
declares are checked against the limits, and then counted again while entries are
decompressed, since a header may lie. A refusal is a BundleRefused naming the entry.
"""

import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings

from manifests.exceptions import BundleRefused

CHUNK_BYTES = 1024 * 1024
# Below this, an entry may expand more than the ratio allows: tiny entries compress well.
RATIO_FLOOR_BYTES = 1024 * 1024
# Room for one entry in the zip's central directory: its fixed 46 bytes, a name and extras.
DIRECTORY_BYTES_PER_ENTRY = 1024
ACCEPTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


class ZipDrain:
    """A write-only file for ZipFile: it keeps what was written until `take` empties it.
    Not seekable, so ZipFile writes each entry's sizes after its data (data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> Iterator[bytes]:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            yield data


def shown_name(name: str) -> str:
    """An entry name as a message may show it: hostile names may hold anything."""
    if any(unicodedata.category(c)[0] == "C" for c in name):
        return repr(name)[:200]
    return name if len(name) <= 200 else f"{name[:200]}…"


def _refuse_unsafe_name(info: zipfile.ZipInfo) -> None:
    name, entry = info.filename, shown_name(info.orig_filename)
    if info.orig_filename != info.filename:  # zipfile cuts a name at its first NUL
        raise BundleRefused(entry, "its name holds a NUL character.")
    if not name:
        raise BundleRefused(entry, "an entry has an empty name.")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        raise BundleRefused(entry, "absolute paths are not allowed in a bundle.")
    if "\\" in name:
        raise BundleRefused(entry, "backslashes are not allowed in entry names; use '/'.")
    if ".." in name.split("/"):
        raise BundleRefused(entry, "path traversal ('..') is not allowed in a bundle.")
    if any(unicodedata.category(c)[0] == "C" for c in name):
        raise BundleRefused(entry, "control characters are not allowed in entry names.")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise BundleRefused(entry, "symbolic links are not allowed in a bundle.")


def refuse_oversized_directory(bundle: IO[bytes], *, max_entries: int) -> None:
    """Refuse a zip whose central directory is larger than a bundle's entries could need,
    before ZipFile reads it: ZipFile holds all of it in memory, and an object per entry.
    The end records say how large it is (the ZIP64 one for a large zip)."""
    bundle.seek(0, os.SEEK_END)
    end = bundle.tell()
    tail_size = min(end, 22 + 0xFFFF + 20)  # the end record, its comment, a ZIP64 locator
    bundle.seek(end - tail_size)
    tail = bundle.read(tail_size)
    bundle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return  # not a zip: ZipFile says so
    *_, entries, size, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":
        _, _, offset, _ = struct.unpack("<4sLQL", tail[at - 20 : at])
        bundle.seek(offset)
        record = bundle.read(56)
        bundle.seek(0)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            entries, size = struct.unpack("<4sQ2H2L4Q", record)[7:9]
    if entries > max_entries or size > max_entries * DIRECTORY_BYTES_PER_ENTRY:
        raise BundleRefused(
            "bundle",
            f"its directory lists {entries} entries in {size} bytes; a bundle has at most "
            f"{max_entries} entries (VIDPIPE_BUNDLE_MAX_ASSETS images and manifest.json).",
        )


def checked_entries(
    archive: zipfile.ZipFile, *, folders: set[str], max_entries: int
) -> dict[str, zipfile.ZipInfo]:
    """The zip's files by name, once its structure passed every check that needs no
    reading: names, kinds (`folders` are the only folders allowed), encryption,
    compression, and the sizes it declares (against the ratio and total limits)."""
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise BundleRefused("bundle", f"it has {len(infos)} entries; the limit is {max_entries}.")
    total_limit = settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES
    ratio = settings.VIDPIPE_BUNDLE_MAX_RATIO
    files: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    declared = 0
    for info in infos:
        _refuse_unsafe_name(info)
        entry = shown_name(info.filename)
        if info.filename in seen:
            raise BundleRefused(entry, "the bundle holds two entries of this name.")
        seen.add(info.filename)
        if info.is_dir():
            if info.filename not in folders:
                allowed = ", ".join(sorted(folders)) or "none"
                raise BundleRefused(entry, f"a bundle has no folders but {allowed}.")
            continue
        if info.flag_bits & 0x1:
            raise BundleRefused(entry, "encrypted entries are not accepted.")
        if info.compress_type not in ACCEPTED_COMPRESSION:
            allowed = " or ".join(ACCEPTED_COMPRESSION.values())
            raise BundleRefused(entry, f"its compression is not accepted; use {allowed}.")
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > ratio * max(
            info.compress_size, 1
        ):
            raise BundleRefused(entry, _ratio_reason(ratio))
        declared += info.file_size
        if declared > total_limit:
            raise BundleRefused("bundle", _total_reason(total_limit))
        files[info.filename] = info
    return files


def _ratio_reason(ratio: int) -> str:
    return (
        f"it expands to more than {ratio} times its compressed size, the limit "
        "(VIDPIPE_BUNDLE_MAX_RATIO); a zip bomb is refused."
    )


def _total_reason(limit: int) -> str:
    return (
        f"its entries expand to more than {limit} bytes in all, the limit "
        "(VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES)."
    )


@dataclass
class ExpansionBudget:
    """The uncompressed bytes the whole bundle may still expand to."""

    left: int

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise BundleRefused(
                "bundle", _total_reason(settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES)
            )


def read_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: ExpansionBudget,
    *,
    limit: int,
    over: str,
) -> Iterator[bytes]:
    """An entry's bytes, a chunk at a time, counted as they are decompressed: refused past
    `limit` bytes (`over` says which), past the ratio, or past the bundle's budget."""
    entry = shown_name(info.filename)
    ratio = settings.VIDPIPE_BUNDLE_MAX_RATIO
    by_ratio = max(RATIO_FLOOR_BYTES, ratio * info.compress_size)
    read = 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(CHUNK_BYTES):
                read += len(chunk)
                if read > limit:
                    raise BundleRefused(entry, f"it is larger than {limit} bytes, {over}.")
                if read > by_ratio:
                    raise BundleRefused(entry, _ratio_reason(ratio))
                budget.take(len(chunk))
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise BundleRefused(entry, f"it is damaged and cannot be read ({exc}).") from None
