"""A manifest's contact sheet: one labelled image of all its assets, for generation stages."""

from collections.abc import Callable
from functools import partial

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from manifests.files import delete_files_on_commit, new_files, reading, save_file
from manifests.images import RenderedImage, SheetTile, render_contact_sheet
from manifests.models import Asset, Manifest
from manifests.services.changes import ManifestChange, manifest_change

# Renders made outside the lock before one is made under it (when the manifest keeps
# changing while it renders).
OPTIMISTIC_RENDERS = 2


def manifest_render_contact_sheet(
    *, manifest: Manifest, on_rendered: Callable[[], None] | None = None
) -> Manifest:
    """Render one image of every asset that has an image and make it the manifest's sheet.

    The sheet always matches the assets it was made from: it is rendered without holding
    the manifest's lock (a sheet of 200 assets takes about half a second, and on SQLite a
    lock holds every writer), then stored under the lock only if the manifest's version is
    still the one it was rendered from; otherwise it is rendered again, the last time under
    the lock. `on_rendered` runs after each render made outside the lock (for tests).
    The previous sheet is removed once the new one is committed. Raises ValidationError when
    no asset has an image, Manifest.DoesNotExist when the manifest is deleted.
    """
    for _ in range(OPTIMISTIC_RENDERS):
        current = Manifest.objects.get(pk=manifest.pk)
        with reading(f"the images of manifest {current.pk}"):
            sheet = _render(current)
        if on_rendered is not None:
            on_rendered()
        with new_files() as stored, manifest_change(manifest.pk) as change:
            if change.manifest.version == current.version:
                return _store(change, sheet, stored)
    with new_files() as stored, manifest_change(manifest.pk) as change:
        with reading(f"the images of manifest {manifest.pk}"):
            sheet = _render(change.manifest)
        return _store(change, sheet, stored)


def _render(manifest: Manifest) -> RenderedImage:
    assets = list(Asset.all_objects.filter(manifest=manifest).exclude(reference_image="").ordered())
    if not assets:
        raise ValidationError(
            "The manifest has no asset with an image; upload one before rendering a contact sheet."
        )
    tiles = [
        SheetTile(
            tag=asset.manifest_tag,
            name=asset.name,
            open=partial(
                asset.reference_image.storage.open,
                asset.thumbnail.name or asset.reference_image.name,
                "rb",
            ),
        )
        for asset in assets
    ]
    return render_contact_sheet(title=manifest.name, tiles=tiles)


def _store(change: ManifestChange, sheet: RenderedImage, stored: list[str]) -> Manifest:
    locked = change.manifest
    previous = locked.contact_sheet.name
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    stored.append(
        save_file(
            locked.contact_sheet,
            f"contact_sheet_v{locked.version}_{stamp}.{sheet.extension}",
            ContentFile(sheet.content),
        )
    )
    # A derived file, not a change of content: neither version nor updated_at move.
    change.state(contact_sheet=locked.contact_sheet.name)
    delete_files_on_commit([previous])
    return locked
