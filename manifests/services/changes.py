"""The one place where a manifest changes.

Every operation that changes a manifest's content (its fields, its assets, their images)
or its state (deletion, usage, derived files) runs inside `manifest_change`: one
transaction, under the manifest's row lock, ending in one UPDATE of the manifest row that
records what the operation declared:

- `content()`: the content changed; `version` goes up by one, `asset_count` by the delta,
  `updated_at` moves, and the manifest's thumbnail follows its first asset (in the same
  UPDATE: no extra query);
- `state()`: fields that are not content (deletion, usage, a contact sheet, a rebuilt
  thumbnail); the version stays.

Either way `revision` moves, so whatever shows the manifest (and its ETag) can tell. What the
operation declares with `event()` is written to the event outbox (`services.events`) in the
same transaction, right after the UPDATE, with the manifest's version after the change.
Checks that must see the locked row (an expected version: `If-Match`) and what must happen
with a change (freezing a version when a manifest becomes READY) hook in here, not in views.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from manifests.etags import IfMatch, manifest_etag
from manifests.exceptions import VersionConflict
from manifests.models import Asset, Manifest
from manifests.services.events import EventDraft, events_record


@dataclass
class ManifestChange:
    """What one operation does to a locked manifest; recorded when the operation ends."""

    manifest: Manifest
    content_changed: bool = False
    asset_delta: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    thumbnail_moved: bool = False
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def event(self, type: str, **payload: Any) -> None:
        """Tell of the change with an event of this type (written with it)."""
        self.events.append((type, payload))

    def content(self, *, asset_delta: int = 0, **fields: Any) -> None:
        """The manifest's content changed: a new version (and these fields set with it)."""
        self.content_changed = True
        self.asset_delta += asset_delta
        self.fields.update(fields)

    def state(self, **fields: Any) -> None:
        """Fields that are not content changed (deletion, usage, derived files)."""
        self.fields.update(fields)

    def asset_thumbnail(self) -> None:
        """An asset's thumbnail was made again: the manifest's may be that one."""
        self.thumbnail_moved = True

    @property
    def changed(self) -> bool:
        return self.content_changed or self.thumbnail_moved or bool(self.fields)


# Run after a change is recorded, inside its transaction, with the change (which holds the
# locked manifest, its fields as they now are). Modules that act on changes register here.
AFTER_CHANGE: list[Callable[[ManifestChange], None]] = []


def first_asset_thumbnail(manifest_id: Any) -> Coalesce:
    """SQL for the manifest's own thumbnail: that of its first asset, in display order,
    that has one ("" when none has).

    The manifest's `thumbnail` names that asset's file rather than a copy of it; the file
    belongs to the asset and is removed with it, never through the manifest.
    """
    first = (
        Asset.all_objects.filter(manifest_id=manifest_id)
        .exclude(thumbnail="")
        .ordered()
        .values("thumbnail")[:1]
    )
    return Coalesce(Subquery(first), Value(""))


@contextmanager
def manifest_change(
    manifest_id: Any,
    *,
    include_deleted: bool = False,
    expected_version: int | None = None,
    if_match: IfMatch | None = None,
) -> Iterator[ManifestChange]:
    """Lock the manifest, let the block change it, record the change in one UPDATE.

    `include_deleted` lets a block see a soft-deleted manifest (restore); otherwise a
    deleted or unknown one raises Manifest.DoesNotExist. `expected_version` (content) or
    `if_match` (the ETags a client read, which follow `revision`: `manifests.etags`)
    refuses the change with VersionConflict when the manifest has moved on (optimistic
    concurrency).
    """
    with transaction.atomic():
        manager = Manifest.all_objects if include_deleted else Manifest.objects
        locked = manager.select_for_update().get(pk=manifest_id)
        if expected_version is not None and locked.version != expected_version:
            raise VersionConflict(
                locked, expected=expected_version, current_etag=manifest_etag(locked)
            )
        if if_match is not None and not if_match.matches(manifest_etag(locked)):
            raise VersionConflict(
                locked, expected=str(if_match), current_etag=manifest_etag(locked), of="etag"
            )
        change = ManifestChange(locked)
        yield change
        if not change.changed:
            return
        _record(change)
        manifest = change.manifest
        events_record([EventDraft(t, manifest.pk, manifest.version, p) for t, p in change.events])
        for hook in AFTER_CHANGE:
            hook(change)


def _record(change: ManifestChange) -> None:
    manifest = change.manifest
    update: dict[str, Any] = {**change.fields, "revision": F("revision") + 1}
    if change.content_changed:
        update.update(
            version=F("version") + 1,
            asset_count=F("asset_count") + change.asset_delta,
            updated_at=timezone.now(),
        )
    if change.content_changed or change.thumbnail_moved:
        update["thumbnail"] = first_asset_thumbnail(manifest.pk)
    Manifest.all_objects.filter(pk=manifest.pk).update(**update)
    # The row is locked: what the UPDATE computed is known without reading it back, but
    # the thumbnail (computed by the database), which callers do not read. Values are
    # plain (callers compute them from the locked row), never expressions.
    for name, value in change.fields.items():
        setattr(manifest, name, value)
    manifest.revision += 1
    if change.content_changed:
        manifest.version += 1
        manifest.asset_count += change.asset_delta
        manifest.updated_at = update["updated_at"]


def copies_lose_parent(parent_ids: list[Any]) -> int:
    """The copies of manifests about to be purged forget their parent: a state change of
    each copy (its answers show `parent_manifest_id`), so its revision moves with it. One
    UPDATE for them all, which waits for any copy's lock as manifest_change would; the
    purge's transaction holds it to the end."""
    if not parent_ids:
        return 0
    return Manifest.all_objects.filter(parent_manifest_id__in=parent_ids).update(
        parent_manifest=None, revision=F("revision") + 1
    )
