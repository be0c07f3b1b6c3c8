"""A manifest's contact sheet: one labelled image of all its assets, for generation stages."""

from functools import partial

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from manifests.files import delete_files_on_commit, new_files
from manifests.images import (
    SheetTile,
    render_contact_sheet,
)
from manifests.models import Asset, Manifest
from manifests.services.common import (
    lock_manifest,
)


def manifest_render_contact_sheet(*, manifest: Manifest) -> Manifest:
    """Render one image of every asset that has an image and make it the manifest's sheet.

    The manifest stays locked while the sheet is rendered, so the sheet always matches the
    assets it was made from; the previous sheet is removed once the new one is committed.
    Raises ValidationError when no asset has an image.
    """
    with new_files() as stored, transaction.atomic():
        locked = lock_manifest(manifest.pk)
        assets = list(
            Asset.all_objects.filter(manifest=locked).exclude(reference_image="").ordered()
        )
        if not assets:
            raise ValidationError(
                "The manifest has no asset with an image; upload one before rendering "
                "a contact sheet."
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
        sheet = render_contact_sheet(title=locked.name, tiles=tiles)
        previous = locked.contact_sheet.name
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        locked.contact_sheet.save(
            f"contact_sheet_v{locked.version}_{stamp}.{sheet.extension}",
            ContentFile(sheet.content),
            save=False,
        )
        stored.append(locked.contact_sheet.name)
        # A derived file, not a change of content: neither version nor updated_at move.
        Manifest.all_objects.filter(pk=locked.pk).update(contact_sheet=locked.contact_sheet.name)
        delete_files_on_commit([previous])
    return locked
