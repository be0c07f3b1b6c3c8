"""Operations on manifests: create, update, soft delete, restore, duplicate (the current
content, or a frozen version's)."""

import logging
import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from manifests.etags import IfMatch
from manifests.exceptions import ManifestInUse, StoredFileMissing
from manifests.files import copy_files, delete_files, files_storage, new_files
from manifests.models import Asset, EventType, Manifest, ManifestVersion, manifest_media_path
from manifests.services.changes import manifest_change
from manifests.services.common import (
    asset_label,
    changed_fields,
    clean_changes,
    lock_manifest,
    normalize_labels,
    refuse_unstorable_json,
    validate_fields,
)
from manifests.services.events import event_record
from manifests.services.versions import manifest_content

MANIFEST_EDITABLE_FIELDS = frozenset(Manifest.EDITABLE_FIELDS)
logger = logging.getLogger(__name__)

# The suffix of a copy's default name: " (copy)" for the first, then " (copy 2)"…
COPY_SUFFIX_PATTERN = re.compile(r" \(copy(?: ([2-9]|[1-9][0-9]+))?\)$")
# Room the longest suffix could need: " (copy " + 12 digits + ")".
COPY_SUFFIX_ROOM = 20
# Assets whose files are copied together (in parallel on S3) before `on_asset_copied`
# hears of them.
COPY_CHUNK = 100
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
    with transaction.atomic():
        manifest.save(force_insert=True)
        event_record(
            EventType.MANIFEST_CREATED,
            manifest_id=manifest.pk,
            version=manifest.version,
            name=manifest.name,
            status=manifest.status,
        )
    return manifest


def manifest_update(
    *,
    manifest: Manifest,
    expected_version: int | None = None,
    if_match: IfMatch | None = None,
    **changes: Any,
) -> Manifest:
    """Change a manifest's editable fields; the version goes up when anything changed.

    With `expected_version` (the admin's form) or `if_match` (the API's If-Match), refuses
    (VersionConflict) a manifest that moved on since, even when nothing would change."""
    changes = clean_changes(changes, allowed=MANIFEST_EDITABLE_FIELDS, labels_field="tags")
    refuse_unstorable_json(changes.get("processing_progress"), field="processing_progress")
    with manifest_change(
        manifest.pk, expected_version=expected_version, if_match=if_match
    ) as change:
        current = change.manifest
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
        old_status = current.status
        for field, value in changed.items():
            setattr(current, field, value)
        validate_fields(current)
        change.content(**changed)
        change.event(EventType.MANIFEST_UPDATED, fields=sorted(changed))
        if "status" in changed:
            change.event(EventType.MANIFEST_STATUS_CHANGED, old=old_status, new=current.status)
    return current


def manifest_lock(*, manifest: Manifest, expected_version: int | None = None) -> Manifest:
    """Lock the manifest until the caller's transaction ends, refusing (VersionConflict) one
    that moved past `expected_version`: a save in several steps (the admin's form, then
    each inline row) is then refused or done as a whole. The locked manifest."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("manifest_lock holds the lock for a transaction: open one first.")
    with manifest_change(manifest.pk, expected_version=expected_version) as change:
        return change.manifest


def manifest_soft_delete(*, manifest: Manifest, if_match: IfMatch | None = None) -> None:
    """Mark a manifest deleted; raises ManifestInUse when projects reference it, and
    VersionConflict when it no longer matches `if_match` (checked first, under the lock)."""
    with transaction.atomic():
        if if_match is not None:
            with manifest_change(manifest.pk, if_match=if_match):
                pass  # the lock is held until the deletion below commits
        manifests_soft_delete(Manifest.all_objects.filter(pk=manifest.pk))
    manifest.refresh_from_db(fields=["deleted_at", "revision"])


def manifests_soft_delete(manifests: QuerySet[Manifest]) -> int:
    """Mark these manifests deleted, all or none: ManifestInUse when projects reference any.

    Every `delete()` of a manifest or of a queryset of them comes here (models.py)."""
    with transaction.atomic():
        # Lock first: a project linking concurrently (it locks the row too) either
        # commits before our check sees it, or waits and then finds the manifest gone.
        locked = list(manifests.select_for_update().values_list("pk", flat=True))
        targets = Manifest.all_objects.filter(pk__in=locked)
        projects = list(targets.referencing_projects().values_list("pk", "name"))
        if projects:
            raise ManifestInUse(projects)
        now = timezone.now()
        deleted = 0
        for pk in targets.alive().values_list("pk", flat=True):
            with manifest_change(pk) as change:
                change.state(deleted_at=now)
                change.event(EventType.MANIFEST_DELETED)
            deleted += 1
        return deleted


def manifest_restore(*, manifest: Manifest) -> Manifest:
    """Undelete a soft-deleted manifest (a live one is left as it is)."""
    with manifest_change(manifest.pk, include_deleted=True) as change:
        if change.manifest.deleted_at is not None:
            change.state(deleted_at=None)
            change.event(EventType.MANIFEST_RESTORED)
    manifest.refresh_from_db(fields=["deleted_at", "revision"])
    return manifest


def _copy_base(name: str) -> str:
    """The name without its copy suffixes: "Villains (copy 2)" and "Villains (copy) (copy)"
    (as copies of copies used to be named) are both copies of "Villains"."""
    while (suffix := COPY_SUFFIX_PATTERN.search(name)) and suffix.start() > 0:
        name = name[: suffix.start()].rstrip()
    return name


def _numbered_copy(base: str, number: int) -> str:
    """`<base> (copy)` or `<base> (copy N)`, the base shortened to fit the name's limit."""
    suffix = " (copy)" if number == 1 else f" (copy {number})"
    limit = Manifest._meta.get_field("name").max_length - len(suffix)
    return f"{base[:limit].rstrip()}{suffix}"


def manifest_copy_name(*, manifest: Manifest, reserved: Collection[str] = ()) -> str:
    """The name a copy of `manifest` gets when none is given: the first free
    "<base> (copy)", "<base> (copy 2)", … where the base is its name without a copy suffix.

    Deleted manifests keep their names taken: they can be restored, and a restored
    manifest would be back beside a copy of the same name. `reserved` names count as
    taken too (names already proposed for other copies). One query, whatever the number
    of copies.
    """
    return _copy_name_of(manifest.name, reserved)


def _copy_name_of(name: str, reserved: Collection[str] = ()) -> str:
    """`manifest_copy_name` for a manifest named `name` (as it is now, or as frozen)."""
    base = _copy_base(name)
    # A prefix every candidate shares, however far a long base is shortened to fit.
    limit = Manifest._meta.get_field("name").max_length - COPY_SUFFIX_ROOM
    taken = set(reserved)
    taken.update(
        Manifest.all_objects.filter(
            name__startswith=base[:limit].rstrip(), name__contains=" (copy", name__endswith=")"
        )
        .order_by()
        .values_list("name", flat=True)
    )
    return next(name for n in count(1) if (name := _numbered_copy(base, n)) not in taken)


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

    The files are copied without holding the manifest's lock (hard links on local disk, a
    server-side copy on S3: a thousand copies take seconds there); the rows are then
    written under the lock if the manifest has not changed meanwhile, else everything is
    done again under the lock. `on_asset_copied` is called after each asset's files are
    copied (progress reporting); whatever it raises rolls the whole copy back.
    """
    with new_files() as copied:
        current = Manifest.objects.get(pk=manifest.pk)
        content = manifest_content(current)
        try:
            planned = _copy_content(
                current,
                content,
                copied,
                contact_sheet=current.contact_sheet.name,
                on_asset_copied=on_asset_copied,
            )
        except StoredFileMissing:
            planned = None  # removed by a change made meanwhile, or missing indeed
        with transaction.atomic():
            source = lock_manifest(manifest.pk)
            unchanged = (source.version, source.contact_sheet.name) == (
                current.version,
                current.contact_sheet.name,
            )
            if unchanged and planned is not None:
                return _save_copy(
                    planned, source, content, name=name, source_version=source.version
                )
        # It changed while its files were copied: copy again, this time under the lock
        # (a file missing then is missing indeed: 409).
        delete_files(copied)
        copied.clear()
        with transaction.atomic():
            source = lock_manifest(manifest.pk)
            content = manifest_content(source)
            planned = _copy_content(
                source,
                content,
                copied,
                contact_sheet=source.contact_sheet.name,
                on_asset_copied=on_asset_copied,
            )
            return _save_copy(planned, source, content, name=name, source_version=source.version)


def manifest_duplicate_version(*, version: ManifestVersion, name: str | None = None) -> Manifest:
    """Branch a frozen version: a new DRAFT manifest with that version's fields, assets
    (tags, order) and image files, whose parent is the version's manifest. The frozen files
    stay while the version does: they are copied before the manifest is locked."""
    with new_files() as copied:
        source = Manifest.objects.get(pk=version.manifest_id)
        planned = _copy_content(source, version.content, copied)
        with transaction.atomic():
            # Locked as a duplicate locks it: two copies' default names never clash.
            locked = lock_manifest(version.manifest_id)
            return _save_copy(
                planned, locked, version.content, name=name, source_version=version.number
            )


@dataclass
class _PlannedCopy:
    """A copy whose files are stored and whose rows are not written yet."""

    manifest: Manifest
    assets: list[Asset]


def _copy_content(
    source: Manifest,
    content: dict[str, Any],
    copied: list[str],
    *,
    contact_sheet: str = "",
    on_asset_copied: Callable[[Asset], None] | None = None,
) -> _PlannedCopy:
    """Copy the files of `content` (as `manifest_content` or a frozen version has it) into
    a new manifest's folder (their names appended to `copied`) and build, unsaved, the
    DRAFT manifest and assets that hold it: its assets keep their tags and order."""
    fields, assets = content["manifest"], content["assets"]
    storage = files_storage()
    copy = Manifest(
        description=fields["description"],
        category=fields["category"],
        tags=list(fields["tags"]),
        status=Manifest.Status.DRAFT,
        asset_count=len(assets),
        parent_manifest=source,
    )

    def copy_into(jobs: list[tuple[Manifest | Asset, str, str, str, str]]) -> None:
        """Copy files into the copy's folder (in parallel on S3): each job is (row, field,
        source name, target name, owner). A missing original refuses the duplicate (naming
        its owner); a missing derived file (no owner) is simply not copied."""
        pairs = [(source_name, target) for _, _, source_name, target, _ in jobs]
        for (row, field, source_name, _, owner), stored in zip(
            jobs, copy_files(storage, pairs, copied), strict=True
        ):
            if stored is None and owner:
                raise StoredFileMissing(owner, source_name)
            if stored is None:
                logger.warning(
                    "Duplicate of %s: %r is missing; not copied.", source.pk, source_name
                )
            setattr(row, field, stored or "")

    if contact_sheet:
        target = manifest_media_path(copy.id, "contact_sheets", os.path.basename(contact_sheet))
        copy_into([(copy, "contact_sheet", contact_sheet, target, "")])
    # Equal sort_orders are ordered by created_at: space the copies out to keep order.
    now = timezone.now()
    copies = []
    for start in range(0, len(assets), COPY_CHUNK):
        chunk, jobs = [], []
        for position, asset in enumerate(assets[start : start + COPY_CHUNK], start):
            clone = Asset(
                manifest=copy,
                asset_type=asset["asset_type"],
                name=asset["name"],
                manifest_tag=asset["manifest_tag"],
                user_tags=list(asset["user_tags"]),
                description=asset["description"],
                source=asset["source"],
                sort_order=asset["sort_order"],
                image_format=asset["image_format"],
                image_width=asset["image_width"],
                image_height=asset["image_height"],
                image_sha256=asset["image_sha256"],
                created_at=now + timedelta(microseconds=position),
            )
            for field, folder, owner in [
                ("reference_image", "uploads", asset_label(clone)),
                ("thumbnail", "thumbnails", ""),
            ]:
                if stored := asset[field]:
                    file_name = f"{clone.id}_{_stored_basename(stored, asset['id'])}"
                    target = manifest_media_path(copy.id, folder, file_name)
                    jobs.append((clone, field, stored, target, owner))
            chunk.append(clone)
        copy_into(jobs)
        copies += chunk
        if on_asset_copied is not None:
            for clone in chunk:
                on_asset_copied(clone)
    # A new manifest, not a change of one: its thumbnail is its first asset's, as
    # manifest_change keeps it for every other manifest.
    copy.thumbnail = next((c.thumbnail.name for c in copies if c.thumbnail), "")
    return _PlannedCopy(copy, copies)


def _save_copy(
    planned: _PlannedCopy,
    source: Manifest,
    content: dict[str, Any],
    *,
    name: str | None,
    source_version: int,
) -> Manifest:
    """Write the rows of a planned copy of `source`, whose row the caller holds locked: tag
    numbering continues from the source's."""
    copy = planned.manifest
    # Chosen under the source's lock: two copies of one manifest wait for each other
    # (and on SQLite every writer does), so the second sees the first's name as taken.
    copy.name = (name or "").strip() or _copy_name_of(content["manifest"]["name"])
    copy.tag_sequences = dict(source.tag_sequences)
    validate_fields(copy)
    copy.save(force_insert=True)
    Asset.all_objects.bulk_create(planned.assets)
    event_record(
        EventType.MANIFEST_DUPLICATED,
        manifest_id=copy.pk,
        version=copy.version,
        name=copy.name,
        source_manifest_id=str(source.pk),
        source_version=source_version,
    )
    return copy
