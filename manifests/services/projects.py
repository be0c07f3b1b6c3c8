"""Projects and their link to a manifest (pinning its version, counting the use)."""

from typing import Any

from django.db import transaction
from django.utils import timezone

from manifests.models import Manifest, Project
from manifests.services.changes import manifest_change
from manifests.services.common import validate_fields
from manifests.services.versions import freeze_locked


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
