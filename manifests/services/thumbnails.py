"""Making thumbnails again for stored images, in bulk.

For images whose thumbnail is missing (lost from storage, or skipped by a duplicate whose
original had lost it) and, with `missing_only=False`, for every image after the thumbnail
settings changed. Each asset is its own small transaction (`asset_render_thumbnail`), so a
long run holds no lock for long and an interruption loses nothing done so far.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from manifests.exceptions import InvalidImage, StorageUnavailable, StoredFileMissing
from manifests.files import STORAGE_ERRORS
from manifests.models import Asset, Manifest
from manifests.services.assets import asset_render_thumbnail
from manifests.services.common import keyset_chunks

# Outcomes that are not failures: the asset changed under the run.
SKIPPED = frozenset({"deleted meanwhile", "image removed meanwhile"})
# Asset ids read per query while walking the assets: memory stays flat.
CHUNK_SIZE = 500


@dataclass(frozen=True)
class ThumbnailOutcome:
    asset_id: uuid.UUID
    manifest_id: uuid.UUID
    tag: str
    # "rebuilt", "would rebuild", one of SKIPPED, or why it could not be rebuilt:
    # "image missing", "not decodable", "storage error".
    result: str
    detail: str = ""


@dataclass
class ThumbnailReport:
    dry_run: bool
    rebuilt: int = 0
    skipped: int = 0
    failed: list[ThumbnailOutcome] = field(default_factory=list)


def _thumbnail_missing(asset: Asset) -> bool:
    return not asset.thumbnail or not asset.thumbnail.storage.exists(asset.thumbnail.name)


def thumbnails_rebuild(
    *,
    manifest_id: uuid.UUID | None = None,
    missing_only: bool = True,
    dry_run: bool = False,
    on_asset: Callable[[ThumbnailOutcome], None] | None = None,
) -> ThumbnailReport:
    """Render the thumbnails of assets that have an image, in live manifests (one, or all);
    only those whose thumbnail is missing unless `missing_only` is false. Failures are
    reported, never raised; an asset or manifest deleted meanwhile is skipped. Raises
    Manifest.DoesNotExist when `manifest_id` names no live manifest."""
    if manifest_id is not None and not Manifest.objects.filter(pk=manifest_id).exists():
        raise Manifest.DoesNotExist(f"No live manifest has the id {manifest_id}.")
    report = ThumbnailReport(dry_run=dry_run)
    assets = Asset.objects.exclude(reference_image="")
    if manifest_id is not None:
        assets = assets.filter(manifest_id=manifest_id)
    for chunk in keyset_chunks(assets, CHUNK_SIZE):
        for asset in chunk:
            if missing_only and not _thumbnail_missing(asset):
                continue
            outcome = _rebuild_one(asset, dry_run=dry_run)
            if outcome.result in {"rebuilt", "would rebuild"}:
                report.rebuilt += 1
            elif outcome.result in SKIPPED:
                report.skipped += 1
            else:
                report.failed.append(outcome)
            if on_asset is not None:
                on_asset(outcome)
    return report


def _rebuild_one(asset: Asset, *, dry_run: bool) -> ThumbnailOutcome:
    def outcome(result: str, detail: str = "") -> ThumbnailOutcome:
        return ThumbnailOutcome(asset.pk, asset.manifest_id, asset.manifest_tag, result, detail)

    if dry_run:
        if not asset.reference_image.storage.exists(asset.reference_image.name):
            return outcome("image missing", asset.reference_image.name)
        return outcome("would rebuild")
    try:
        asset_render_thumbnail(asset=asset)
    except StoredFileMissing:
        return outcome("image missing", asset.reference_image.name)
    except InvalidImage as exc:
        return outcome("not decodable", str(exc))
    except (Asset.DoesNotExist, Manifest.DoesNotExist):
        return outcome("deleted meanwhile")
    except ValidationError:  # its image was removed meanwhile: nothing to render
        return outcome("image removed meanwhile")
    # The storage failed (permissions, disk full, network): writing, or reading the image.
    except (StorageUnavailable, *STORAGE_ERRORS) as exc:
        return outcome("storage error", str(exc))
    return outcome("rebuilt")
