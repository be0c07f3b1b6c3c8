"""Operations on manifests, assets and projects.

Every change the API, the admin or a management command makes goes through one of these
functions, so tags, counts, versions, soft delete and files behave the same everywhere.
Each runs in one transaction and locks the manifest row while it changes the manifest's
counters, so concurrent requests cannot lose an update or hand out a tag twice.
"""

import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from manifests.exceptions import UploadTooLarge
from manifests.files import copy_file, delete_files, delete_files_on_commit
from manifests.images import inspect_image, safe_image_name
from manifests.models import Asset, Manifest, Project, manifest_media_path
from manifests.tagging import allocate_tag

MAX_LABELS = 50
MAX_LABEL_LENGTH = 64

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
ASSET_EDITABLE_FIELDS = frozenset(
    {"name", "asset_type", "description", "user_tags", "source", "sort_order"}
)
COPY_SUFFIX = " (copy)"


# --- helpers ---------------------------------------------------------------------------------


def normalize_labels(value: Any, *, field: str) -> list[str]:
    """Strip, drop blanks and duplicates, keep the order; refuse anything but strings."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError({field: "Must be a list of strings."})
    labels: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ValidationError({field: f"Every item must be a string, not {item!r}."})
        label = item.strip()
        if len(label) > MAX_LABEL_LENGTH:
            raise ValidationError(
                {field: f"'{label[:20]}…' is longer than {MAX_LABEL_LENGTH} characters."}
            )
        if label and label not in labels:
            labels.append(label)
    if len(labels) > MAX_LABELS:
        raise ValidationError({field: f"At most {MAX_LABELS} distinct items are allowed."})
    return labels


def _validate(instance: Manifest | Asset | Project, *, exclude: list[str] | None = None) -> None:
    """Field-level validation (choices, lengths, blanks); constraints are the database's."""
    instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)


def _lock_manifest(manifest_id: Any) -> Manifest:
    """The live manifest, with its row locked until the transaction ends."""
    return Manifest.objects.select_for_update().get(pk=manifest_id)


def _record_manifest_change(manifest_id: Any, *, asset_delta: int = 0, **fields: Any) -> None:
    """Bump the version (and the asset count) of a manifest whose content changed."""
    Manifest.all_objects.filter(pk=manifest_id).update(
        version=F("version") + 1,
        asset_count=F("asset_count") + asset_delta,
        updated_at=timezone.now(),
        **fields,
    )


def _changed_fields(instance: Any, changes: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in changes.items() if getattr(instance, field) != value}


def _refuse_unknown(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}.")


# --- manifests -------------------------------------------------------------------------------


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
    """Create a manifest (version 1, no assets)."""
    manifest = Manifest(
        name=name.strip(),
        description=description,
        category=category,
        tags=normalize_labels(tags, field="tags"),
        status=status,
        processing_progress=processing_progress,
        total_processing_cost=total_processing_cost,
    )
    _validate(manifest)
    manifest.save(force_insert=True)
    return manifest


def manifest_update(*, manifest: Manifest, **changes: Any) -> Manifest:
    """Change a manifest's editable fields; the version goes up when anything changed."""
    _refuse_unknown(changes, MANIFEST_EDITABLE_FIELDS)
    if "tags" in changes:
        changes["tags"] = normalize_labels(changes["tags"], field="tags")
    if isinstance(changes.get("name"), str):
        changes["name"] = changes["name"].strip()
    with transaction.atomic():
        current = _lock_manifest(manifest.pk)
        changed = _changed_fields(current, changes)
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
        _validate(current)
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
    copied: list[str] = []

    def copy_into(copy_id: Any, folder: str, source_name: str, file_name: str) -> str:
        if not source_name:
            return ""
        stored = copy_file(source_name, manifest_media_path(copy_id, folder, file_name))
        copied.append(stored)
        return stored

    try:
        with transaction.atomic():
            # The lock keeps assets from being added or removed while they are copied.
            source = _lock_manifest(manifest.pk)
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
            _validate(copy)
            for field, folder in (("thumbnail", "thumbnails"), ("contact_sheet", "contact_sheets")):
                stored = getattr(source, field).name
                setattr(copy, field, copy_into(copy.id, folder, stored, os.path.basename(stored)))
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
                )
                clone.thumbnail = copy_into(
                    copy.id,
                    "thumbnails",
                    asset.thumbnail.name,
                    _stored_basename(asset.thumbnail.name, asset.id),
                )
                copies.append(clone)
                if on_asset_copied is not None:
                    on_asset_copied(clone)
            Asset.all_objects.bulk_create(copies)
    except BaseException:
        delete_files(copied)
        raise
    return copy


# --- assets ----------------------------------------------------------------------------------


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
    with transaction.atomic():
        locked = _lock_manifest(manifest.pk)
        asset = Asset(
            manifest=locked,
            name=name.strip(),
            asset_type=asset_type,
            description=description,
            user_tags=normalize_labels(user_tags, field="user_tags"),
            source=source,
            sort_order=0 if sort_order is None else sort_order,
        )
        _validate(asset, exclude=["manifest_tag"])
        if sort_order is None:
            last = Asset.all_objects.filter(manifest=locked).aggregate(last=Max("sort_order"))
            asset.sort_order = 0 if last["last"] is None else last["last"] + 1
        asset.manifest_tag = allocate_tag(locked, asset.asset_type)
        asset.save(force_insert=True)
        _record_manifest_change(locked.pk, asset_delta=1, tag_sequences=locked.tag_sequences)
    return asset


def asset_update(*, asset: Asset, **changes: Any) -> Asset:
    """Change an asset's editable fields; a new type gives it the next tag of that type."""
    _refuse_unknown(changes, ASSET_EDITABLE_FIELDS)
    if "user_tags" in changes:
        changes["user_tags"] = normalize_labels(changes["user_tags"], field="user_tags")
    if isinstance(changes.get("name"), str):
        changes["name"] = changes["name"].strip()
    with transaction.atomic():
        locked = _lock_manifest(asset.manifest_id)
        current = Asset.all_objects.get(pk=asset.pk)
        changed = _changed_fields(current, changes)
        if not changed:
            return current
        for field, value in changed.items():
            setattr(current, field, value)
        _validate(current)
        update_fields = [*changed, "updated_at"]
        extra = {}
        if "asset_type" in changed:
            current.manifest_tag = allocate_tag(locked, current.asset_type)
            update_fields.append("manifest_tag")
            extra["tag_sequences"] = locked.tag_sequences
        current.save(update_fields=update_fields)
        _record_manifest_change(locked.pk, **extra)
    return current


def asset_delete(*, asset: Asset) -> None:
    """Remove an asset for good (its tag number is never handed out again) and its files."""
    with transaction.atomic():
        locked = _lock_manifest(asset.manifest_id)
        current = Asset.all_objects.filter(pk=asset.pk).first()
        if current is None:
            return
        current.delete()
        _record_manifest_change(locked.pk, asset_delta=-1)
        delete_files_on_commit([current.reference_image.name, current.thumbnail.name])


def asset_attach_image(*, asset: Asset, file: IO[bytes], filename: str | None = None) -> Asset:
    """Store an uploaded image as the asset's reference image, replacing any older one.

    Raises UploadTooLarge or InvalidImage before anything is written; a failure after the
    write removes the new file, and the old one is removed only once the change commits.
    """
    limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise UploadTooLarge(size, limit)
    info = inspect_image(file)
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = _lock_manifest(asset.manifest_id)
            current = Asset.all_objects.get(pk=asset.pk)
            replaced = [current.reference_image.name, current.thumbnail.name]
            file.seek(0)
            name = safe_image_name(filename or getattr(file, "name", None), info)
            current.reference_image.save(name, file, save=False)
            stored.append(current.reference_image.name)
            current.thumbnail = ""
            current.image_format = info.format
            current.image_width = info.width
            current.image_height = info.height
            current.image_sha256 = info.sha256
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
            _record_manifest_change(locked.pk)
            delete_files_on_commit(n for n in replaced if n and n not in stored)
    except BaseException:
        delete_files(stored)
        raise
    return current


# --- projects --------------------------------------------------------------------------------


def _link(project: Project, manifest: Manifest | None) -> None:
    """Point the project at a manifest: pin its version and count the use."""
    if manifest is None:
        project.manifest = None
        project.manifest_version = None
        return
    locked = _lock_manifest(manifest.pk)
    now = timezone.now()
    Manifest.all_objects.filter(pk=locked.pk).update(
        times_used=F("times_used") + 1, last_used_at=now
    )
    project.manifest = locked
    project.manifest_version = locked.version


def project_create(*, name: str, manifest: Manifest | None = None) -> Project:
    """Create a project, linked to a manifest when one is given."""
    with transaction.atomic():
        project = Project(name=name.strip())
        _validate(project, exclude=["manifest"])
        _link(project, manifest)
        project.save(force_insert=True)
    return project


_UNCHANGED: Any = object()


def project_update(
    *, project: Project, name: str | None = None, manifest: Manifest | None = _UNCHANGED
) -> Project:
    """Rename a project and/or (re)link it; linking a different manifest pins its version."""
    with transaction.atomic():
        current = Project.objects.select_for_update().get(pk=project.pk)
        if name is not None:
            current.name = name.strip()
            _validate(current, exclude=["manifest"])
        new_id = manifest.pk if manifest is not None and manifest is not _UNCHANGED else None
        if manifest is not _UNCHANGED and new_id != current.manifest_id:
            _link(current, manifest)
        current.save()
    return current
