"""Frozen versions: what a pinned version number means, for good.

A manifest's version is frozen (an immutable `ManifestVersion`) when a project links or
re-pins it, on request (API, admin), and when its status becomes READY. Freezing copies no
bytes: the record names the stored files, and `manifests.files` never removes a file that a
frozen version names (`VersionFile`). Records are never changed; purging a manifest (only
possible when no project references it) removes them with it.
"""

import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Value

from manifests.models import (
    FROZEN_ASSET_FIELDS,
    FROZEN_MANIFEST_FIELDS,
    Asset,
    EventType,
    Manifest,
    ManifestVersion,
    VersionFile,
)
from manifests.services.changes import AFTER_CHANGE, ManifestChange
from manifests.services.common import lock_manifest
from manifests.services.events import event_record

# Asset fields a diff leaves out: the id is the asset, the tag is the key, and the stored
# file names follow the image, whose change shows as a sha256 change.
DIFF_IGNORED_ASSET_FIELDS = frozenset({"id", "manifest_tag", "reference_image", "thumbnail"})
FILE_FIELDS = ("reference_image", "thumbnail")


def manifest_content(manifest: Manifest) -> dict[str, Any]:
    """The manifest's fields and its assets in display order, as a frozen record keeps them
    (plain JSON values). Two queries' worth of reading: the caller has the manifest."""
    assets = Asset.all_objects.filter(manifest=manifest).ordered().values(*FROZEN_ASSET_FIELDS)
    return {
        "manifest": {name: getattr(manifest, name) for name in FROZEN_MANIFEST_FIELDS},
        "assets": [{**asset, "id": str(asset["id"])} for asset in assets],
    }


def content_digest(content: dict[str, Any]) -> str:
    """sha256 of the content's canonical JSON: equal contents, equal digests."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def freeze_locked(manifest: Manifest) -> ManifestVersion:
    """Freeze `manifest`, whose row the caller holds locked in its transaction, at its
    current version; the existing record when that number is frozen already."""
    existing = ManifestVersion.objects.filter(manifest=manifest, number=manifest.version).first()
    if existing is not None:
        return existing
    content = manifest_content(manifest)
    version = ManifestVersion(
        manifest=manifest,
        number=manifest.version,
        content=content,
        content_sha256=content_digest(content),
        asset_count=len(content["assets"]),
    )
    # Under the row lock no other freeze of this number can run meanwhile; the unique
    # constraint on (manifest, number) is the database's guard all the same.
    version.save(force_insert=True)
    _record_files(version)
    event_record(
        EventType.MANIFEST_VERSION_FROZEN,
        manifest_id=manifest.pk,
        version=manifest.version,
        number=version.number,
        content_sha256=version.content_sha256,
    )
    return version


def _record_files(version: ManifestVersion) -> None:
    """List the stored files (images and thumbnails) of the version's assets as named by it,
    in one INSERT … SELECT: a thousand assets' names never pass through Python. The caller
    holds the manifest's row lock: the asset rows are those the content was read from."""
    assets = Asset.all_objects.filter(manifest_id=version.manifest_id)
    names = [
        assets.exclude(**{field: ""}).order_by().values_list(Value(version.pk), field)
        for field in FILE_FIELDS
    ]
    select, params = names[0].union(*names[1:]).query.sql_with_params()
    table = VersionFile._meta
    columns = ", ".join(
        connection.ops.quote_name(table.get_field(name).column) for name in ("version", "name")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(table.db_table)} ({columns}) {select}", params
        )


def manifest_freeze(*, manifest: Manifest) -> ManifestVersion:
    """Freeze the manifest's current version (idempotent): the record of that number."""
    with transaction.atomic():
        return freeze_locked(lock_manifest(manifest.pk))


def freeze_when_ready(change: ManifestChange) -> None:
    """A manifest that becomes READY is frozen at the version it became READY in."""
    if change.fields.get("status") == Manifest.Status.READY:
        freeze_locked(change.manifest)


AFTER_CHANGE.append(freeze_when_ready)


def versions_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from the content `old` to `new` (two frozen contents, or one and the
    current `manifest_content`): manifest fields, then assets added, removed and changed,
    by tag, each change naming its fields with their values before and after."""

    def changes(before: dict, after: dict, ignored=frozenset()) -> dict[str, dict]:
        return {
            name: {"from": before.get(name), "to": after.get(name)}
            for name in sorted(set(before) | set(after))
            if name not in ignored and before.get(name) != after.get(name)
        }

    old_assets = {asset["manifest_tag"]: asset for asset in old["assets"]}
    new_assets = {asset["manifest_tag"]: asset for asset in new["assets"]}
    changed = []
    for tag, asset in new_assets.items():
        if tag in old_assets:
            fields = changes(old_assets[tag], asset, DIFF_IGNORED_ASSET_FIELDS)
            if fields:
                changed.append({"tag": tag, "name": asset["name"], "fields": fields})
    return {
        "manifest": changes(old["manifest"], new["manifest"]),
        "added": [tag for tag in new_assets if tag not in old_assets],
        "removed": [tag for tag in old_assets if tag not in new_assets],
        "changed": changed,
    }


def manifest_freeze_current(*, manifest: Manifest) -> tuple[ManifestVersion, bool]:
    """`manifest_freeze`, telling whether the record is new: (record, created)."""
    with transaction.atomic():
        locked = lock_manifest(manifest.pk)
        existing = ManifestVersion.objects.filter(manifest=locked, number=locked.version).first()
        if existing is not None:
            return existing, False
        return freeze_locked(locked), True
