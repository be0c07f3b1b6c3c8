"""Operations on assets: create, update (re-tagging on a type change), delete, and their
images (attach, thumbnail)."""

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db.models import Max

from manifests.etags import IfMatch, asset_etag
from manifests.exceptions import StoredFileMissing, UploadTooLarge, VersionConflict
from manifests.files import delete_files_on_commit, new_files, reading, save_file
from manifests.images import (
    ImageInfo,
    RenderedImage,
    inspect_and_thumbnail,
    render_thumbnail,
    safe_image_name,
)
from manifests.models import Asset, EventType, Manifest
from manifests.services.changes import manifest_change
from manifests.services.common import (
    asset_label,
    changed_fields,
    clean_changes,
    normalize_labels,
    thumbnail_name,
    validate_fields,
)
from manifests.tagging import allocate_tag

ASSET_EDITABLE_FIELDS = frozenset(Asset.EDITABLE_FIELDS)


def _next_sort_order(manifest: Manifest) -> int:
    """After the manifest's last asset; refused when that one already holds the largest."""
    last = Asset.all_objects.filter(manifest=manifest).aggregate(last=Max("sort_order"))["last"]
    if last is None:
        return 0
    largest = Asset._meta.get_field("sort_order").validators[-1].limit_value
    if last >= largest:
        raise ValidationError(
            {
                "sort_order": f"The last asset already has the largest sort_order ({largest}); "
                "give this one a sort_order explicitly."
            }
        )
    return last + 1


def _described(asset: Asset) -> dict[str, Any]:
    """What an asset event tells of the asset (its payload)."""
    return {
        "asset_id": str(asset.pk),
        "tag": asset.manifest_tag,
        "name": asset.name,
        "asset_type": asset.asset_type,
    }


def _refuse_stale(asset: Asset, manifest: Manifest, if_match: IfMatch | None) -> None:
    """VersionConflict when the asset (read under its manifest's lock) no longer matches
    the ETags the caller read."""
    if if_match is None:
        return
    current = asset_etag(asset)
    if not if_match.matches(current):
        raise VersionConflict(
            manifest, expected=str(if_match), current_etag=current, of="etag", asset=asset
        )


def asset_create(
    *,
    manifest: Manifest,
    name: str,
    asset_type: str,
    description: str = "",
    user_tags: list[str] | None = None,
    source: str = Asset.Source.UPLOAD,
    sort_order: int | None = None,
) -> Asset:
    """Add an asset to a manifest, with the next tag of its type, placed last by default."""
    with manifest_change(manifest.pk) as change:
        locked = change.manifest
        if sort_order is None:
            sort_order = _next_sort_order(locked)
        asset = Asset(
            manifest=locked,
            name=name.strip(),
            asset_type=asset_type,
            description=description,
            user_tags=normalize_labels(user_tags, field="user_tags"),
            source=source,
            sort_order=sort_order,
        )
        validate_fields(asset, exclude=["manifest_tag"])
        asset.manifest_tag = allocate_tag(locked, asset.asset_type)
        asset.save(force_insert=True)
        change.content(asset_delta=1, tag_sequences=locked.tag_sequences)
        change.event(EventType.ASSET_CREATED, **_described(asset))
    return asset


def asset_update(*, asset: Asset, if_match: IfMatch | None = None, **changes: Any) -> Asset:
    """Change an asset's editable fields; a new type gives it the next tag of that type.

    With `if_match`, refuses (VersionConflict) an asset that changed since it was read."""
    changes = clean_changes(changes, allowed=ASSET_EDITABLE_FIELDS, labels_field="user_tags")
    with manifest_change(asset.manifest_id) as change:
        locked = change.manifest
        current = Asset.all_objects.get(pk=asset.pk)
        _refuse_stale(current, locked, if_match)
        changed = changed_fields(current, changes)
        if not changed:
            return current
        for field, value in changed.items():
            setattr(current, field, value)
        validate_fields(current)
        update_fields = [*changed, "updated_at"]
        extra = {}
        if "asset_type" in changed:
            current.manifest_tag = allocate_tag(locked, current.asset_type)
            update_fields.append("manifest_tag")
            extra["tag_sequences"] = locked.tag_sequences
        current.save(update_fields=update_fields)
        change.content(**extra)
        change.event(EventType.ASSET_UPDATED, **_described(current), fields=sorted(changed))
    return current


def asset_delete(*, asset: Asset, if_match: IfMatch | None = None) -> None:
    """Remove an asset for good (its tag number is never handed out again) and its files.

    Gone already: nothing to do, unless `if_match` expected it (Asset.DoesNotExist); one
    that no longer matches `if_match` is refused (VersionConflict)."""
    with manifest_change(asset.manifest_id) as change:
        current = Asset.all_objects.filter(pk=asset.pk).first()
        if current is None:
            if if_match is not None:
                raise Asset.DoesNotExist("The asset was deleted meanwhile.")
            return
        _refuse_stale(current, change.manifest, if_match)
        current.delete()
        change.content(asset_delta=-1)
        change.event(EventType.ASSET_DELETED, **_described(current))
        delete_files_on_commit([current.reference_image.name, current.thumbnail.name])


def store_asset_image(
    asset: Asset, file: IO[bytes], filename: str | None, info: ImageInfo, thumbnail: RenderedImage
) -> list[str]:
    """Store an image that passed its checks, and its thumbnail, as `asset`'s files, and
    describe the image on the asset (not saved): the one way an upload, a bulk upload and a
    bundle import keep an image. Returns the names written, for the caller's `new_files`."""
    file.seek(0)
    written = [
        save_file(asset.reference_image, safe_image_name(filename, info), file),
        save_file(
            asset.thumbnail,
            thumbnail_name(asset, info.sha256, thumbnail.extension),
            ContentFile(thumbnail.content),
        ),
    ]
    asset.image_format = info.format
    asset.image_width = info.width
    asset.image_height = info.height
    asset.image_sha256 = info.sha256
    return written


def asset_attach_image(
    *,
    asset: Asset,
    file: IO[bytes],
    filename: str | None = None,
    if_match: IfMatch | None = None,
) -> Asset:
    """Store an uploaded image as the asset's reference image, replacing any older one.

    Its thumbnail is rendered from it at the same time. Raises UploadTooLarge or
    InvalidImage before anything is written, VersionConflict (`if_match`) before anything
    is stored; a failure after the write removes the new files, and the old ones are
    removed only once the change commits.
    """
    limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise UploadTooLarge(size, limit)
    info, thumbnail = inspect_and_thumbnail(file)
    with new_files() as stored, manifest_change(asset.manifest_id) as change:
        current = Asset.all_objects.get(pk=asset.pk)
        _refuse_stale(current, change.manifest, if_match)
        replaced = [current.reference_image.name, current.thumbnail.name]
        stored += store_asset_image(
            current, file, filename or getattr(file, "name", None), info, thumbnail
        )
        current.save(
            update_fields=[
                "reference_image",
                "thumbnail",
                "image_format",
                "image_width",
                "image_height",
                "image_sha256",
                "updated_at",
            ]
        )
        change.content()
        change.event(
            EventType.ASSET_IMAGE_CHANGED,
            **_described(current),
            sha256=current.image_sha256,
            replaced=bool(replaced[0]),
        )
        delete_files_on_commit(n for n in replaced if n and n not in stored)
    return current


def asset_render_thumbnail(*, asset: Asset) -> Asset:
    """Make the asset's thumbnail again from its stored image (e.g. for images uploaded
    before thumbnails existed, or after the thumbnail settings changed)."""
    source = Asset.all_objects.get(pk=asset.pk).reference_image
    if not source:
        raise ValidationError("The asset has no image to make a thumbnail from.")
    try:
        with reading(source.name), source.storage.open(source.name, "rb") as file:
            rendered = render_thumbnail(file)
    except FileNotFoundError:
        raise StoredFileMissing(asset_label(asset), source.name) from None
    # Derived from unchanged content: no new version for the asset or its manifest, but
    # the manifest's thumbnail may be this one.
    with new_files() as stored, manifest_change(asset.manifest_id) as change:
        current = Asset.all_objects.get(pk=asset.pk)
        if current.reference_image.name != source.name:
            return current  # a new image arrived meanwhile, with its own thumbnail
        previous = current.thumbnail.name
        stored.append(
            save_file(
                current.thumbnail,
                thumbnail_name(current, current.image_sha256 or "thumbnail", rendered.extension),
                ContentFile(rendered.content),
            )
        )
        Asset.all_objects.filter(pk=current.pk).update(thumbnail=current.thumbnail.name)
        change.asset_thumbnail()
        # The same name when the old file was missing: it is the new file now.
        if previous != current.thumbnail.name:
            delete_files_on_commit([previous])
    return current
