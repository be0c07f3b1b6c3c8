"""Bulk uploads: many images become many assets at once (API, admin drop zone, command).

Every file is checked (size, decoded by Pillow, pixel and frame limits) before any row is
written; the accepted ones become assets with generated tags, in file order, in one
`manifest_change` (one version bump, one INSERT per batch of rows), and a file refused is
named with its reason. A constant number of queries, whatever the number of files.
"""

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from manifests.exceptions import BulkUploadRefused, InvalidImage, UploadTooLarge
from manifests.files import new_files
from manifests.images import ImageInfo, RenderedImage, inspect_and_thumbnail
from manifests.models import SORT_ORDER_MAX, Asset, EventType, Manifest
from manifests.services.assets import _next_sort_order, store_asset_image
from manifests.services.changes import manifest_change
from manifests.tagging import allocate_tag

ASSET_TYPES = frozenset(Asset.AssetType.values)
MAX_NAME_LENGTH = Asset._meta.get_field("name").max_length
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Underscores and runs of two or more hyphens separate words in file names; a single
# hyphen is part of a word ("spider-man").
_WORD_SEPARATORS = re.compile(r"_+|-{2,}|\s+")


@dataclass(frozen=True)
class RefusedFile:
    """A file of a bulk upload that became no asset: its position in the upload (from 0),
    its name as sent, and why."""

    index: int
    file: str
    reason: str


@dataclass(frozen=True)
class CheckedFile:
    """A file that passed every check, with what its asset will be."""

    index: int
    file: IO[bytes]
    filename: str
    name: str
    asset_type: str
    info: ImageInfo
    thumbnail: RenderedImage


@dataclass
class BulkCheck:
    """What a bulk upload would do: the files accepted and those refused, in file order."""

    accepted: list[CheckedFile] = field(default_factory=list)
    refused: list[RefusedFile] = field(default_factory=list)


@dataclass
class BulkResult:
    """The assets created (in file order) and the files refused."""

    created: list[Asset]
    refused: list[RefusedFile]


def asset_name_from_filename(filename: str, *, fallback: str = "Image") -> str:
    """The asset name a file name suggests: "hero_front.png" -> "hero front".

    Directories and the extension are dropped; underscores, runs of hyphens and blanks
    become one space; control characters go; dots and hyphens at the ends are trimmed;
    text that is not valid Unicode (a file name in another encoding) is replaced, never
    stored; at most Asset.name's length. Nothing left: `fallback`."""
    base = os.path.basename((filename or "").replace("\\", "/"))
    base = base.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates
    base = _CONTROL_CHARACTERS.sub(" ", unicodedata.normalize("NFKC", base))
    stem, extension = os.path.splitext(base)
    if not stem.strip(" ."):  # ".png": a name that is all extension
        stem = extension
    name = _WORD_SEPARATORS.sub(" ", stem).strip(" .-")
    return name[:MAX_NAME_LENGTH].rstrip() or fallback


def _file_name(file: IO[bytes]) -> str:
    return os.path.basename(str(getattr(file, "name", "") or ""))


def _file_size(file: IO[bytes]) -> int:
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(0)
    return size


def _per_file(values: Sequence[str] | None, count: int, *, field_name: str) -> list[str]:
    """One value per file ("" where none was given); a list of another length is refused."""
    if values is None:
        return [""] * count
    if len(values) != count:
        raise ValidationError(
            {
                field_name: f"Give one {field_name[:-1]} per file, in file order ({count} "
                f"files, {len(values)} {field_name}); leave one blank for the default."
            }
        )
    return [(value or "").strip() for value in values]


def assets_bulk_check(
    *,
    files: Sequence[IO[bytes]],
    asset_type: str,
    names: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
) -> BulkCheck:
    """Check every file of a bulk upload without writing anything: which would become
    assets (with their names and types) and which are refused, and why.

    Arguments that are wrong whatever the files hold (no files, too many, an unknown type,
    names or types not one per file) raise ValidationError."""
    limit = settings.VIDPIPE_BULK_MAX_FILES
    if not files:
        raise ValidationError({"files": "Send at least one image file."})
    if len(files) > limit:
        raise ValidationError(
            {"files": f"{len(files)} files were sent; at most {limit} files per bulk upload."}
        )
    choices = ", ".join(sorted(ASSET_TYPES))
    if asset_type not in ASSET_TYPES:
        raise ValidationError(
            {"asset_type": f"Unknown asset type {asset_type!r}; use one of {choices}."}
        )
    file_names = [_file_name(file) for file in files]
    given_names = _per_file(names, len(files), field_name="names")
    given_types = _per_file(types, len(files), field_name="types")
    for index, given in enumerate(given_types):
        if given and given not in ASSET_TYPES:
            raise ValidationError(
                {
                    "types": f"File {index + 1} ({file_names[index]}): unknown asset type "
                    f"{given!r}; use one of {choices}, or leave it blank for {asset_type}."
                }
            )
    for index, given in enumerate(given_names):
        if len(given) > MAX_NAME_LENGTH or "\x00" in given:
            raise ValidationError(
                {
                    "names": f"File {index + 1} ({file_names[index]}): a name has at most "
                    f"{MAX_NAME_LENGTH} characters and no null characters."
                }
            )

    max_bytes = settings.VIDPIPE_MAX_UPLOAD_BYTES
    check = BulkCheck()
    for index, file in enumerate(files):
        filename = file_names[index]
        try:
            size = _file_size(file)
            if size > max_bytes:
                raise UploadTooLarge(size, max_bytes)
            info, thumbnail = inspect_and_thumbnail(file)
        except (InvalidImage, UploadTooLarge) as refusal:
            check.refused.append(RefusedFile(index, filename, str(refusal)))
            continue
        check.accepted.append(
            CheckedFile(
                index=index,
                file=file,
                filename=filename,
                name=given_names[index]
                or asset_name_from_filename(filename, fallback=f"Image {index + 1}"),
                asset_type=given_types[index] or asset_type,
                info=info,
                thumbnail=thumbnail,
            )
        )
    return check


def assets_bulk_create(
    *,
    manifest: Manifest,
    files: Sequence[IO[bytes]],
    asset_type: str,
    names: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    atomic: bool = False,
) -> BulkResult:
    """Make one asset of each acceptable image, in file order, in one change of the
    manifest; the refused files are returned with their reasons.

    `names`/`types` give each file's asset name and type ("" for the default: the cleaned
    file name, `asset_type`). Raises BulkUploadRefused when nothing would be created (every
    file refused, or any refused with `atomic`), ValidationError for wrong arguments; the
    files of a failed upload are removed again."""
    check = assets_bulk_check(files=files, asset_type=asset_type, names=names, types=types)
    if check.refused and (atomic or not check.accepted):
        raise BulkUploadRefused(check.refused, atomic=atomic)
    with new_files() as stored, manifest_change(manifest.pk) as change:
        locked = change.manifest
        first = _next_sort_order(locked)
        if first + len(check.accepted) - 1 > SORT_ORDER_MAX:
            raise ValidationError(
                {"sort_order": "The manifest's last asset leaves no room for these in order."}
            )
        # Equal timestamps would leave the order to the database: space them out.
        now = timezone.now()
        assets = []
        for position, accepted in enumerate(check.accepted):
            asset = Asset(
                manifest=locked,
                name=accepted.name,
                asset_type=accepted.asset_type,
                manifest_tag=allocate_tag(locked, accepted.asset_type),
                sort_order=first + position,
                created_at=now + timedelta(microseconds=position),
            )
            stored += store_asset_image(
                asset, accepted.file, accepted.filename, accepted.info, accepted.thumbnail
            )
            assets.append(asset)
        Asset.all_objects.bulk_create(assets)
        change.content(asset_delta=len(assets), tag_sequences=locked.tag_sequences)
        for asset in assets:
            change.event(
                EventType.ASSET_CREATED,
                asset_id=str(asset.pk),
                tag=asset.manifest_tag,
                name=asset.name,
                asset_type=asset.asset_type,
                sha256=asset.image_sha256,
            )
    return BulkResult(created=assets, refused=check.refused)
