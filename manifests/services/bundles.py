"""Bundles: a manifest, or one frozen version of it, as one zip file, and back again.

A bundle holds `manifest.json` (its `format`, the manifest's fields, and the assets in
order with their tags, names, types, descriptions, user tags and the sha256 and entry name
of each image) and the original images under `images/<tag>.<ext>`.

Export streams: the zip is written into a buffer that is drained after every chunk, images
are read from storage a chunk at a time and stored as they are (ZIP_STORED: they are
compressed already), so a bundle of a thousand images never sits in memory.

Import treats a bundle as hostile until every part of it has been checked. The zip's
structure is checked before anything is read (names: no absolute paths, no `..`, no
backslashes, no duplicates; no symlinks, no encryption; declared sizes within the limits),
then `manifest.json` is read and validated field by field, then each image is read with a
bounded read that counts the bytes as they are decompressed (the sizes a zip declares are
never trusted), its sha256 compared with the one `manifest.json` gives, and decoded by
Pillow within the upload limits. Any refusal is a BundleRefused naming the entry and the
reason, and leaves nothing: no rows, and the files already stored are removed again.
"""

import hashlib
import json
import os
import re
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone

from manifests.exceptions import BundleRefused, InvalidImage, StoredFileMissing
from manifests.files import new_files, save_file
from manifests.images import ACCEPTED_FORMATS, inspect_and_thumbnail, safe_image_name
from manifests.models import MAX_DESCRIPTION_LENGTH, Asset, Manifest, ManifestVersion
from manifests.services.common import (
    normalize_labels,
    refuse_unstorable_json,
    thumbnail_name,
    validate_fields,
)
from manifests.services.versions import manifest_content
from manifests.tagging import TAG_PREFIXES, format_tag

BUNDLE_FORMAT = 1
MANIFEST_ENTRY = "manifest.json"
IMAGES_FOLDER = "images/"
CHUNK_BYTES = 1024 * 1024
# manifest.json of the largest bundle: 5,000 assets with long descriptions fit well within.
MAX_MANIFEST_JSON_BYTES = 64 * 1024 * 1024
# Below this, an entry may expand more than the ratio allows: tiny entries compress well.
RATIO_FLOOR_BYTES = 1024 * 1024
# Room for one entry in the zip's central directory: its fixed 46 bytes, a name and extras.
DIRECTORY_BYTES_PER_ENTRY = 1024
# Entry names: `images/<tag>.<ext>`, the tag `<PREFIX>_<NN>` (manifests.tagging).
TAG_PATTERN = re.compile(r"(?P<prefix>[A-Z]+)_(?P<number>[0-9]{2,9})")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
EXTENSIONS = frozenset(ACCEPTED_FORMATS.values())
ACCEPTED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
# What manifest.json holds, and which of it import requires.
TOP_KEYS = {"format": True, "manifest": True, "assets": True, "exported_at": False, "source": False}
MANIFEST_KEYS = {
    "name": True,
    "description": False,
    "category": False,
    "tags": False,
    "status": False,
}
ASSET_KEYS = {
    "tag": True,
    "name": True,
    "asset_type": True,
    "description": False,
    "user_tags": False,
    "source": False,
    "image": False,
}
IMAGE_KEYS = {"entry": True, "sha256": True}


# --- export ------------------------------------------------------------------------------


class _Drain:
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


def image_entry(asset: dict[str, Any]) -> str:
    """The entry of an asset's image in a bundle: `images/<tag>.<ext>`."""
    extension = ACCEPTED_FORMATS.get(asset["image_format"])
    if extension is None:  # a stored name always ends in the decoded format's extension
        extension = asset["reference_image"].rsplit(".", 1)[-1].lower()
    return f"{IMAGES_FOLDER}{asset['manifest_tag']}.{extension}"


def manifest_export(*, manifest: Manifest) -> Iterator[bytes]:
    """The manifest as it is now, as a bundle: the zip's bytes, streamed.

    Raises StoredFileMissing before the first byte when an asset's image is gone from
    storage; two queries whatever the number of assets."""
    content = manifest_content(manifest)
    source = {"manifest_id": str(manifest.pk), "version": manifest.version, "frozen": False}
    return _export(content, source)


def manifest_export_version(*, version: ManifestVersion) -> Iterator[bytes]:
    """A frozen version as a bundle (its fields, assets and frozen images), streamed."""
    source = {"manifest_id": str(version.manifest_id), "version": version.number, "frozen": True}
    return _export(version.content, source)


def _export(content: dict[str, Any], source: dict[str, Any]) -> Iterator[bytes]:
    storage = Asset._meta.get_field("reference_image").storage
    with_images = [asset for asset in content["assets"] if asset["reference_image"]]
    # Checked now, while an error can still be an answer: once the stream has started, a
    # missing file could only cut the download short. A stat each on local disk.
    for asset in with_images:
        if not storage.exists(asset["reference_image"]):
            label = f"{asset['manifest_tag']} “{asset['name']}”"
            raise StoredFileMissing(label, asset["reference_image"])
    return _stream(content, source, storage)


def _stream(content: dict[str, Any], source: dict[str, Any], storage) -> Iterator[bytes]:
    stamp = timezone.now()
    date_time = stamp.astimezone(UTC).timetuple()[:6]
    drain = _Drain()
    entries: dict[str, dict[str, str]] = {}
    with zipfile.ZipFile(drain, "w") as archive:
        for asset in content["assets"]:
            if not asset["reference_image"]:
                continue
            entry = image_entry(asset)
            info = zipfile.ZipInfo(entry, date_time=date_time)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            digest = hashlib.sha256()
            with (
                storage.open(asset["reference_image"], "rb") as image,
                archive.open(info, "w") as out,
            ):
                while chunk := image.read(CHUNK_BYTES):
                    digest.update(chunk)
                    out.write(chunk)
                    yield from drain.take()
            # The digest of the bytes in the bundle, which import checks them against.
            entries[asset["manifest_tag"]] = {"entry": entry, "sha256": digest.hexdigest()}
            yield from drain.take()
        document = _manifest_document(content, source, entries, stamp)
        info = zipfile.ZipInfo(MANIFEST_ENTRY, date_time=date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        archive.writestr(info, document)
    yield from drain.take()


def _manifest_document(
    content: dict[str, Any], source: dict[str, Any], images: dict[str, dict], stamp
) -> bytes:
    fields = content["manifest"]
    document = {
        "format": BUNDLE_FORMAT,
        "exported_at": stamp.isoformat(),
        "source": source,
        "manifest": {name: fields[name] for name in MANIFEST_KEYS},
        "assets": [
            {
                "tag": asset["manifest_tag"],
                "name": asset["name"],
                "asset_type": asset["asset_type"],
                "description": asset["description"],
                "user_tags": asset["user_tags"],
                "source": asset["source"],
                "image": images.get(asset["manifest_tag"]),
            }
            for asset in content["assets"]
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


# --- import: the zip's structure ---------------------------------------------------------


def _shown(name: str) -> str:
    """An entry name as a message may show it: hostile names may hold anything."""
    if any(unicodedata.category(c)[0] == "C" for c in name):
        return repr(name)[:200]
    return name if len(name) <= 200 else f"{name[:200]}…"


def _refuse_unsafe_name(info: zipfile.ZipInfo) -> None:
    name, entry = info.filename, _shown(info.orig_filename)
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


def _refuse_oversized_directory(bundle: IO[bytes]) -> None:
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
    most = settings.VIDPIPE_BUNDLE_MAX_ASSETS + 2
    if entries > most or size > most * DIRECTORY_BYTES_PER_ENTRY:
        raise BundleRefused(
            "bundle",
            f"its directory lists {entries} entries in {size} bytes; a bundle has at most "
            f"{most} entries (VIDPIPE_BUNDLE_MAX_ASSETS images and manifest.json).",
        )


def _checked_entries(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The bundle's files by name, once its structure passed every check that needs no
    reading: names, kinds, encryption, compression, and the sizes it declares."""
    infos = archive.infolist()
    most = settings.VIDPIPE_BUNDLE_MAX_ASSETS + 2  # images, manifest.json, images/
    if len(infos) > most:
        raise BundleRefused("bundle", f"it has {len(infos)} entries; the limit is {most}.")
    total_limit = settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES
    ratio = settings.VIDPIPE_BUNDLE_MAX_RATIO
    files: dict[str, zipfile.ZipInfo] = {}
    seen: set[str] = set()
    declared = 0
    for info in infos:
        _refuse_unsafe_name(info)
        entry = _shown(info.filename)
        if info.filename in seen:
            raise BundleRefused(entry, "the bundle holds two entries of this name.")
        seen.add(info.filename)
        if info.is_dir():
            if info.filename != IMAGES_FOLDER:
                raise BundleRefused(entry, f"a bundle has no folders but {IMAGES_FOLDER}.")
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
class _Budget:
    """The uncompressed bytes the whole bundle may still expand to."""

    left: int

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise BundleRefused(
                "bundle", _total_reason(settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES)
            )


def _read_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, *, limit: int, over: str
) -> Iterator[bytes]:
    """An entry's bytes, a chunk at a time, counted as they are decompressed: refused past
    `limit` bytes (`over` says which), past the ratio, or past the bundle's budget."""
    entry = _shown(info.filename)
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


# --- import: manifest.json ---------------------------------------------------------------


@dataclass
class _PlannedAsset:
    asset: Asset
    entry: str | None
    sha256: str | None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"the key {key!r} appears twice in one object")
    return dict(pairs)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _read_document(archive: zipfile.ZipFile, files: dict, budget: _Budget) -> dict[str, Any]:
    info = files.get(MANIFEST_ENTRY)
    if info is None:
        raise BundleRefused(MANIFEST_ENTRY, "it is missing; every bundle has one at its top.")
    raw = b"".join(
        _read_entry(archive, info, budget, limit=MAX_MANIFEST_JSON_BYTES, over="the limit")
    )
    try:
        document = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_json_object, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError:
        raise BundleRefused(MANIFEST_ENTRY, "it is not UTF-8 text.") from None
    except RecursionError:
        raise BundleRefused(MANIFEST_ENTRY, "it is not valid JSON (nested too deep).") from None
    except ValueError as exc:
        raise BundleRefused(MANIFEST_ENTRY, f"it is not valid JSON ({exc}).") from None
    return document


def _refuse(where: str, reason: str) -> BundleRefused:
    return BundleRefused(MANIFEST_ENTRY, f"{where}: {reason}")


def _check_keys(value: Any, keys: dict[str, bool], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _refuse(where, f"must be a JSON object, not {type(value).__name__}.")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise _refuse(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(keys)}.")
    missing = [key for key, required in keys.items() if required and key not in value]
    if missing:
        raise _refuse(where, f"missing field(s) {', '.join(missing)}.")
    return value


def _string(value: Any, where: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise _refuse(where, f"must be a string, not {type(value).__name__}.")
    if max_length is not None and len(value) > max_length:
        raise _refuse(where, f"at most {max_length} characters (it has {len(value)}).")
    return value


def _choice(value: Any, choices, where: str) -> str:
    value = _string(value, where)
    allowed = [choice.value for choice in choices]
    if value not in allowed:
        raise _refuse(where, f"{value[:40]!r} is not one of {', '.join(allowed)}.")
    return value


def _validated(instance: Manifest | Asset, where: str, exclude: list[str] | None = None) -> None:
    try:
        validate_fields(instance, exclude=exclude)
    except ValidationError as exc:
        details = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
        raise _refuse(where, details) from None


def _labels(value: Any, field: str, where: str) -> list[str]:
    try:
        return normalize_labels(value, field=field)
    except ValidationError as exc:
        raise _refuse(f"{where}.{field}", " ".join(exc.messages)) from None


def _plan_manifest(document: Any, name: str | None) -> Manifest:
    if not isinstance(document, dict):
        raise _refuse("the document", f"must be a JSON object, not {type(document).__name__}.")
    version = document.get("format")
    if type(version) is not int or version != BUNDLE_FORMAT:
        raise _refuse(
            "format",
            f"unknown format {str(version)[:20]!r}; this installation reads {BUNDLE_FORMAT}.",
        )
    _check_keys(document, TOP_KEYS, "the document")
    try:
        refuse_unstorable_json(document, field="manifest.json")
    except ValidationError as exc:
        raise _refuse("the document", " ".join(exc.messages)) from None
    fields = _check_keys(document["manifest"], MANIFEST_KEYS, "manifest")
    manifest = Manifest(
        name=(name or "").strip() or _string(fields["name"], "manifest.name").strip(),
        description=_string(
            fields.get("description", ""), "manifest.description", MAX_DESCRIPTION_LENGTH
        ),
        category=_choice(
            fields.get("category", Manifest.Category.CUSTOM), Manifest.Category, "manifest.category"
        ),
        tags=_labels(fields.get("tags", []), "tags", "manifest"),
        status=Manifest.Status.DRAFT,
    )
    _choice(fields.get("status", Manifest.Status.DRAFT), Manifest.Status, "manifest.status")
    _validated(manifest, "manifest")
    return manifest


def _plan_assets(document: dict[str, Any], manifest: Manifest) -> list[_PlannedAsset]:
    assets = document["assets"]
    if not isinstance(assets, list):
        raise _refuse("assets", f"must be a JSON list, not {type(assets).__name__}.")
    most = settings.VIDPIPE_BUNDLE_MAX_ASSETS
    if len(assets) > most:
        raise _refuse(
            "assets", f"{len(assets)} assets; the limit is {most} (VIDPIPE_BUNDLE_MAX_ASSETS)."
        )
    now = timezone.now()
    planned: list[_PlannedAsset] = []
    tags: set[str] = set()
    for position, value in enumerate(assets):
        where = f"assets[{position}]"
        fields = _check_keys(value, ASSET_KEYS, where)
        asset_type = _choice(fields["asset_type"], Asset.AssetType, f"{where}.asset_type")
        tag = _string(fields["tag"], f"{where}.tag")
        where = f"{where} ({tag[:40]})"
        prefix = TAG_PREFIXES[asset_type]
        match = TAG_PATTERN.fullmatch(tag)
        if (
            not match
            or match["prefix"] != prefix
            or tag != format_tag(prefix, int(match["number"]))
        ):
            raise _refuse(
                f"{where}.tag",
                f"{tag[:40]!r} is not a tag of a {asset_type} asset; expected {prefix}_<number> "
                f"(e.g. {format_tag(prefix, 1)}, no extra leading zeros).",
            )
        if int(match["number"]) < 1:
            raise _refuse(f"{where}.tag", "tag numbers start at 1.")
        if tag in tags:
            raise _refuse(f"{where}.tag", f"{tag} is given to two assets.")
        tags.add(tag)
        asset = Asset(
            manifest=manifest,
            manifest_tag=tag,
            asset_type=asset_type,
            name=_string(fields["name"], f"{where}.name").strip(),
            description=_string(
                fields.get("description", ""), f"{where}.description", MAX_DESCRIPTION_LENGTH
            ),
            user_tags=_labels(fields.get("user_tags", []), "user_tags", where),
            source=_choice(
                fields.get("source", Asset.Source.UPLOAD), Asset.Source, f"{where}.source"
            ),
            sort_order=position,
            # Equal sort orders are ordered by created_at; these keep the bundle's order.
            created_at=now + timedelta(microseconds=position),
        )
        _validated(asset, where, exclude=["manifest"])
        entry = sha256 = None
        image = fields.get("image")
        if image is not None:
            image = _check_keys(image, IMAGE_KEYS, f"{where}.image")
            entry = _string(image["entry"], f"{where}.image.entry")
            extension = entry.rsplit(".", 1)[-1]
            if entry != f"{IMAGES_FOLDER}{tag}.{extension}" or extension not in EXTENSIONS:
                raise _refuse(
                    f"{where}.image.entry",
                    f"{entry[:60]!r} must be {IMAGES_FOLDER}{tag}.<ext>, the ext one of "
                    f"{', '.join(sorted(EXTENSIONS))}.",
                )
            sha256 = _string(image["sha256"], f"{where}.image.sha256")
            if not SHA256_PATTERN.fullmatch(sha256):
                raise _refuse(f"{where}.image.sha256", "must be 64 lowercase hexadecimal digits.")
        planned.append(_PlannedAsset(asset, entry, sha256))
    return planned


def _tag_sequences(planned: list[_PlannedAsset]) -> dict[str, int]:
    """Per prefix, the highest number imported: new tags continue after it."""
    sequences: dict[str, int] = {}
    for item in planned:
        prefix, number = item.asset.manifest_tag.rsplit("_", 1)
        sequences[prefix] = max(sequences.get(prefix, 0), int(number))
    return sequences


# --- import ------------------------------------------------------------------------------


def manifest_import(
    *,
    bundle: IO[bytes],
    name: str | None = None,
    on_asset_imported: Callable[[Asset], None] | None = None,
) -> Manifest:
    """A new DRAFT manifest from a bundle: the same fields, assets, order and tags (tag
    numbering continues after the highest imported), images stored under its own paths
    with their thumbnails rendered. All or nothing: BundleRefused (entry, reason) leaves no
    row and no file. `name` replaces the bundle's; `on_asset_imported` is called after each
    asset's files are stored (progress), and whatever it raises undoes the import."""
    try:
        _refuse_oversized_directory(bundle)
        archive = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise BundleRefused("bundle", f"it is not a zip file ({exc}).") from None
    with archive:
        files = _checked_entries(archive)
        budget = _Budget(settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES)
        document = _read_document(archive, files, budget)
        manifest = _plan_manifest(document, name)
        planned = _plan_assets(document, manifest)
        referenced = {item.entry for item in planned if item.entry}
        for item in planned:
            if item.entry and item.entry not in files:
                raise BundleRefused(
                    item.entry,
                    f"{MANIFEST_ENTRY} names it for {item.asset.manifest_tag}, "
                    "but the bundle does not hold it.",
                )
        for entry in files:
            if entry != MANIFEST_ENTRY and entry not in referenced:
                raise BundleRefused(
                    _shown(entry),
                    f"no asset of {MANIFEST_ENTRY} names it; a bundle holds nothing else.",
                )
        manifest.tag_sequences = _tag_sequences(planned)
        manifest.asset_count = len(planned)
        with new_files() as stored, transaction.atomic():
            for item in planned:
                if item.entry:
                    _store_image(archive, files[item.entry], item, budget, stored)
                if on_asset_imported is not None:
                    on_asset_imported(item.asset)
            assets = [item.asset for item in planned]
            # A new manifest: its thumbnail is its first asset's, as manifest_change keeps it.
            manifest.thumbnail = next((a.thumbnail.name for a in assets if a.thumbnail), "")
            manifest.save(force_insert=True)
            Asset.all_objects.bulk_create(assets)
    return manifest


def _store_image(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    item: _PlannedAsset,
    budget: _Budget,
    stored: list[str],
) -> None:
    """Read, check and store one image of the bundle (and its thumbnail) for its asset."""
    asset, entry = item.asset, item.entry
    limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
    with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as spool:
        digest = hashlib.sha256()
        over = "the upload limit for one image (VIDPIPE_MAX_UPLOAD_BYTES)"
        for chunk in _read_entry(archive, info, budget, limit=limit, over=over):
            digest.update(chunk)
            spool.write(chunk)
        if digest.hexdigest() != item.sha256:
            raise BundleRefused(
                entry,
                f"its sha256 is {digest.hexdigest()}, but {MANIFEST_ENTRY} says {item.sha256}: "
                "the image was changed or damaged.",
            )
        try:
            image, thumbnail = inspect_and_thumbnail(spool)
        except InvalidImage as exc:
            raise BundleRefused(entry, str(exc)) from None
        if not entry.endswith(f".{image.extension}"):
            raise BundleRefused(
                entry, f"it is a {image.format} image; its name must end in .{image.extension}."
            )
        spool.seek(0)
        file_name = safe_image_name(entry.removeprefix(IMAGES_FOLDER), image)
        stored.append(save_file(asset.reference_image, file_name, File(spool, name=file_name)))
    stored.append(
        save_file(
            asset.thumbnail,
            thumbnail_name(asset, image.sha256, thumbnail.extension),
            ContentFile(thumbnail.content),
        )
    )
    asset.image_format = image.format
    asset.image_width = image.width
    asset.image_height = image.height
    asset.image_sha256 = image.sha256
