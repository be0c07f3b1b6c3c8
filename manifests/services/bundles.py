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
What `manifest.json` holds and how it is checked is `services.bundle_json`; writing and
reading zips within those limits is `manifests.zips`.
"""

import hashlib
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from manifests.exceptions import BundleRefused, InvalidImage, StoredFileMissing
from manifests.files import files_storage, new_files, reading
from manifests.images import ACCEPTED_FORMATS, inspect_and_thumbnail
from manifests.models import Asset, EventType, Manifest, ManifestVersion
from manifests.services.assets import store_asset_image
from manifests.services.bundle_json import (
    IMAGES_FOLDER,
    MANIFEST_ENTRY,
    PlannedAsset,
    bundle_document,
    plan_assets,
    plan_manifest,
    read_document,
    tag_sequences,
)
from manifests.services.events import event_record
from manifests.services.versions import manifest_content
from manifests.zips import (
    CHUNK_BYTES,
    ExpansionBudget,
    ZipDrain,
    checked_entries,
    read_entry,
    refuse_oversized_directory,
    shown_name,
)

# --- export ------------------------------------------------------------------------------


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
    storage = files_storage()
    with_images = [asset for asset in content["assets"] if asset["reference_image"]]
    # Checked now, while an error can still be an answer: once the stream has started, a
    # missing file could only cut the download short. A stat each on local disk.
    for asset in with_images:
        with reading(asset["reference_image"]):
            found = storage.exists(asset["reference_image"])
        if not found:
            label = f"{asset['manifest_tag']} “{asset['name']}”"
            raise StoredFileMissing(label, asset["reference_image"])
    return _stream(content, source, storage)


def _stream(content: dict[str, Any], source: dict[str, Any], storage) -> Iterator[bytes]:
    stamp = timezone.now()
    date_time = stamp.astimezone(UTC).timetuple()[:6]
    drain = ZipDrain()
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
        document = bundle_document(content, source, entries, stamp)
        info = zipfile.ZipInfo(MANIFEST_ENTRY, date_time=date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        archive.writestr(info, document)
    yield from drain.take()


def _max_entries() -> int:
    """Entries a bundle may hold: its images, manifest.json and the images/ folder."""
    return settings.VIDPIPE_BUNDLE_MAX_ASSETS + 2


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
        refuse_oversized_directory(bundle, max_entries=_max_entries())
        archive = zipfile.ZipFile(bundle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise BundleRefused("bundle", f"it is not a zip file ({exc}).") from None
    with archive:
        files = checked_entries(archive, folders={IMAGES_FOLDER}, max_entries=_max_entries())
        budget = ExpansionBudget(settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES)
        document = read_document(archive, files, budget)
        manifest = plan_manifest(document, name)
        planned = plan_assets(document, manifest)
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
                    shown_name(entry),
                    f"no asset of {MANIFEST_ENTRY} names it; a bundle holds nothing else.",
                )
        manifest.tag_sequences = tag_sequences(planned)
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
            event_record(
                EventType.MANIFEST_CREATED,
                manifest_id=manifest.pk,
                version=manifest.version,
                name=manifest.name,
                status=manifest.status,
                source="import",
            )
    return manifest


def _store_image(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    item: PlannedAsset,
    budget: ExpansionBudget,
    stored: list[str],
) -> None:
    """Read, check and store one image of the bundle (and its thumbnail) for its asset."""
    asset, entry = item.asset, item.entry
    limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
    with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as spool:
        digest = hashlib.sha256()
        over = "the upload limit for one image (VIDPIPE_MAX_UPLOAD_BYTES)"
        for chunk in read_entry(archive, info, budget, limit=limit, over=over):
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
        stored += store_asset_image(
            asset, spool, entry.removeprefix(IMAGES_FOLDER), image, thumbnail
        )
