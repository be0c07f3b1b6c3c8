"""Builders for the operations tests: manifests with real stored images, soft-deleted ones,
and snapshots of the database and the media folder to compare before and after."""

from datetime import timedelta

from django.utils import timezone

from manifests import services
from manifests.models import Asset, Manifest, Project
from tests.conftest import image_upload, stored_files


def manifest_with_images(name: str = "Library", *, images: int = 2, derived: bool = True):
    """A manifest whose assets have uploaded reference images (each with the thumbnail the
    upload makes, the first one also the manifest's) and, with `derived`, a contact sheet;
    all stored for real, through the domain functions."""
    manifest = services.manifest_create(name=name)
    for index in range(images):
        asset = services.asset_create(
            manifest=manifest, name=f"{name} asset {index}", asset_type="CHARACTER"
        )
        color = (40 * index % 256, 90, 200)
        services.asset_attach_image(
            asset=asset, file=image_upload(f"asset-{index}.png", color=color)
        )
    if derived and images:
        services.manifest_render_contact_sheet(manifest=manifest)
    manifest.refresh_from_db()
    return manifest


def soft_deleted(manifest: Manifest, *, days_ago: float = 31) -> Manifest:
    """Mark the manifest deleted `days_ago` days ago."""
    services.manifest_soft_delete(manifest=manifest)
    Manifest.all_objects.filter(pk=manifest.pk).update(
        deleted_at=timezone.now() - timedelta(days=days_ago)
    )
    manifest.refresh_from_db()
    return manifest


def referenced_and_deleted(manifest: Manifest, project_name: str = "Pilot") -> Project:
    """A project pointing at a deleted manifest (data from before the delete rule, or a
    manual edit): the domain refuses to create it, so the row is marked deleted directly."""
    project = services.project_create(name=project_name, manifest=manifest)
    Manifest.all_objects.filter(pk=manifest.pk).update(
        deleted_at=timezone.now() - timedelta(days=365)
    )
    return project


def row_counts() -> dict[str, int]:
    return {
        "manifests": Manifest.all_objects.count(),
        "assets": Asset.all_objects.count(),
        "projects": Project.objects.count(),
    }


def snapshot(media_root) -> tuple[dict[str, int], list[str]]:
    """Row counts and every stored file: equal snapshots mean nothing changed."""
    return row_counts(), stored_files(media_root)


def files_of(manifest: Manifest) -> list[str]:
    """Every stored name the manifest's rows refer to, each once: the manifest's thumbnail
    is its first asset's thumbnail file, not a file of its own."""
    names = [manifest.thumbnail.name, manifest.contact_sheet.name]
    for image, thumbnail in Asset.all_objects.filter(manifest=manifest).values_list(
        "reference_image", "thumbnail"
    ):
        names += [image, thumbnail]
    return sorted({name for name in names if name})
