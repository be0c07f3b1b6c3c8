"""Projects and their link to a manifest (pinning its version, counting the use)."""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from manifests.models import EventType, Manifest, ManifestVersion, Project
from manifests.services.changes import manifest_change
from manifests.services.common import validate_fields
from manifests.services.events import event_record
from manifests.services.versions import freeze_locked, versions_diff


def _link(project: Project, manifest: Manifest | None) -> None:
    """Point the project at a manifest: pin its version, frozen in the same transaction,
    and count the use."""
    if manifest is None:
        project.manifest = None
        project.manifest_version = None
        return
    with manifest_change(manifest.pk) as change:
        locked = change.manifest
        # Usage, not content: the version stays (the row is locked: plain values are exact).
        change.state(times_used=locked.times_used + 1, last_used_at=timezone.now())
        project.manifest = locked
        project.manifest_version = freeze_locked(locked).number
        change.event(
            EventType.PROJECT_LINKED,
            project_id=str(project.pk),
            project_name=project.name,
            pinned_version=project.manifest_version,
        )


def project_create(*, name: str, manifest: Manifest | None = None) -> Project:
    """Create a project, linked to a manifest when one is given."""
    with transaction.atomic():
        project = Project(name=name.strip())
        validate_fields(project, exclude=["manifest"])
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
            validate_fields(current, exclude=["manifest"])
        new_id = manifest.pk if manifest is not None and manifest is not _UNCHANGED else None
        if manifest is not _UNCHANGED and new_id != current.manifest_id:
            _link(current, manifest)
        current.save()
    return current


@dataclass(frozen=True)
class Upgrade:
    """A project re-pinned: the frozen versions before (None for a pin made before versions
    were frozen) and after, and what changed between them (None without the former)."""

    project: Project
    before: ManifestVersion | None
    after: ManifestVersion
    diff: dict[str, Any] | None


def project_upgrade(*, project: Project, expected_version: int | None = None) -> Upgrade:
    """Pin the project to its manifest's current version, frozen in the same transaction.

    With `expected_version` (the version whose changes the caller showed), refuses with
    VersionConflict a manifest that moved on since."""
    with transaction.atomic():
        current = Project.objects.select_for_update().get(pk=project.pk)
        if current.manifest_id is None:
            raise ValidationError({"manifest": "The project is linked to no manifest to upgrade."})
        # A deleted manifest: DoesNotExist.
        with manifest_change(current.manifest_id, expected_version=expected_version) as change:
            after = freeze_locked(change.manifest)
        before = ManifestVersion.objects.filter(
            manifest_id=current.manifest_id, number=current.manifest_version
        ).first()
        if current.manifest_version != after.number:
            event_record(
                EventType.PROJECT_REPINNED,
                manifest_id=current.manifest_id,
                version=after.number,
                project_id=str(current.pk),
                project_name=current.name,
                old_version=current.manifest_version,
                new_version=after.number,
            )
            current.manifest_version = after.number
            current.save(update_fields=["manifest_version"])
    diff = versions_diff(before.content, after.content) if before is not None else None
    return Upgrade(project=current, before=before, after=after, diff=diff)
