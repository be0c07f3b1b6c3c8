"""Operations on manifests: create, update, soft delete, restore, duplicate."""

import logging
import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from manifests.exceptions import StoredFileMissing
from manifests.files import copy_file, new_files
from manifests.models import Asset, Manifest, manifest_media_path
from manifests.services.common import (
    asset_label,
    changed_fields,
    clean_changes,
    lock_manifest,
    normalize_labels,
    refresh_manifest_thumbnail,
    refuse_unstorable_json,
    validate_fields,
)

MANIFEST_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "category",
        "tags",
        "status",
        "processing_progress",
        "total_processing_cost",
    }
)
logger = logging.getLogger(__name__)

COPY_SUFFIX = " (copy)"
CREATE_STATUSES = frozenset(
    {Manifest.Status.DRAFT, *Manifest.STATUS_TRANSITIONS[Manifest.Status.DRAFT]}
)


def manifest_create(
    *,
    name: str,
    description: str = "",
    category: str = Manifest.Category.CUSTOM,
    tags: list[str] | None = None,
    status: str = Manifest.Status.DRAFT,
    processing_progress: Any = None,
    total_processing_cost: Decimal | int = 0,
) -> Manifest:
    """Create a manifest (version 1, no assets).

    A new manifest starts as DRAFT or, for a stage that begins work at once, as what a
    DRAFT may become (PROCESSING): nothing is READY before it was processed.
    """
    refuse_unstorable_json(processing_progress, field="processing_progress")
    if status not in CREATE_STATUSES:
        allowed = ", ".join(sorted(CREATE_STATUSES))
        raise ValidationError({"status": f"A new manifest cannot be {status}; allowed: {allowed}."})
    manifest = Manifest(
        name=name.strip(),
        description=description,
        category=category,
        tags=normalize_labels(tags, field="tags"),
        status=status,
        processing_progress=processing_progress,
        total_processing_cost=total_processing_cost,
    )
    validate_fields(manifest)
    manifest.save(force_insert=True)
    return manifest


def manifest_update(*, manifest: Manifest, **changes: Any) -> Manifest:
    """Change a manifest's editable fields; the version goes up when anything changed."""
    changes = clean_changes(changes, allowed=MANIFEST_EDITABLE_FIELDS, labels_field="tags")
    refuse_unstorable_json(changes.get("processing_progress"), field="processing_progress")
    with transaction.atomic():
        current = lock_manifest(manifest.pk)
        changed = changed_fields(current, changes)
        if not changed:
            return current
        if "status" in changed:
            allowed = Manifest.STATUS_TRANSITIONS.get(current.status, frozenset())
            if changed["status"] not in allowed:
                raise ValidationError(
                    {
                        "status": f"A {current.status} manifest cannot become "
                        f"{changed['status']}; allowed: {', '.join(sorted(allowed))}."
                    }
                )
        for field, value in changed.items():
            setattr(current, field, value)
        validate_fields(current)
        current.version = F("version") + 1
        current.save(update_fields=[*changed, "version", "updated_at"])
        current.refresh_from_db(fields=["version"])
    return current


def manifest_soft_delete(*, manifest: Manifest) -> None:
    """Mark a manifest deleted; raises ManifestInUse when projects reference it."""
    Manifest.all_objects.filter(pk=manifest.pk).soft_delete()
    manifest.refresh_from_db(fields=["deleted_at"])


def manifest_restore(*, manifest: Manifest) -> Manifest:
    """Undelete a soft-deleted manifest (a live one is left as it is)."""
    Manifest.all_objects.filter(pk=manifest.pk).restore()
    manifest.refresh_from_db(fields=["deleted_at"])
    return manifest


def _copy_name(source_name: str) -> str:
    limit = Manifest._meta.get_field("name").max_length - len(COPY_SUFFIX)
    return f"{source_name[:limit].rstrip()}{COPY_SUFFIX}"


def _stored_basename(name: str, owner_id: Any) -> str:
    """The file's own name, without the `<asset_id>_` prefix of its old owner."""
    basename = os.path.basename(name)
    prefix = f"{owner_id}_"
    return basename[len(prefix) :] if basename.startswith(prefix) else basename


def manifest_duplicate(
    *,
    manifest: Manifest,
    name: str | None = None,
    on_asset_copied: Callable[[Asset], None] | None = None,
) -> Manifest:
    """Copy a manifest with all its assets (tags, order, files) into a new DRAFT manifest.

    `on_asset_copied` is called after each asset's files are copied (progress reporting);
    whatever it raises rolls the whole copy back.
    """
    name = (name or "").strip()

    def copy_into(
        copy_id: Any, folder: str, source_name: str, file_name: str, *, owner: str = ""
    ) -> str:
        """Copy one file into the copy's folder. A missing original refuses the duplicate
        (naming its `owner`); a missing derived file (no `owner`) is simply not copied."""
        if not source_name:
            return ""
        try:
            stored = copy_file(source_name, manifest_media_path(copy_id, folder, file_name))
        except FileNotFoundError:
            if owner:
                raise StoredFileMissing(owner, source_name) from None
            logger.warning("Duplicate of %s: %r is missing; not copied.", manifest.pk, source_name)
            return ""
        copied.append(stored)
        return stored

    with new_files() as copied, transaction.atomic():
        # The lock keeps assets from being added or removed while they are copied.
        source = lock_manifest(manifest.pk)
        assets = list(Asset.all_objects.filter(manifest=source).ordered())
        copy = Manifest(
            name=name or _copy_name(source.name),
            description=source.description,
            category=source.category,
            tags=list(source.tags),
            status=Manifest.Status.DRAFT,
            asset_count=len(assets),
            parent_manifest=source,
            tag_sequences=dict(source.tag_sequences),
        )
        validate_fields(copy)
        stored = source.contact_sheet.name
        copy.contact_sheet = copy_into(copy.id, "contact_sheets", stored, os.path.basename(stored))
        copy.save(force_insert=True)
        # Equal sort_orders are ordered by created_at: space the copies out to keep order.
        now = timezone.now()
        copies = []
        for position, asset in enumerate(assets):
            clone = Asset(
                manifest=copy,
                asset_type=asset.asset_type,
                name=asset.name,
                manifest_tag=asset.manifest_tag,
                user_tags=list(asset.user_tags),
                description=asset.description,
                source=asset.source,
                sort_order=asset.sort_order,
                image_format=asset.image_format,
                image_width=asset.image_width,
                image_height=asset.image_height,
                image_sha256=asset.image_sha256,
                created_at=now + timedelta(microseconds=position),
            )
            clone.reference_image = copy_into(
                copy.id,
                "uploads",
                asset.reference_image.name,
                f"{clone.id}_{_stored_basename(asset.reference_image.name, asset.id)}",
                owner=asset_label(asset),
            )
            clone.thumbnail = copy_into(
                copy.id,
                "thumbnails",
                asset.thumbnail.name,
                f"{clone.id}_{_stored_basename(asset.thumbnail.name, asset.id)}",
            )
            copies.append(clone)
            if on_asset_copied is not None:
                on_asset_copied(clone)
        Asset.all_objects.bulk_create(copies)
        refresh_manifest_thumbnail(copy.pk)
        copy.refresh_from_db(fields=["thumbnail"])
    return copy
