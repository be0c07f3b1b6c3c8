"""Manifest tags: `<PREFIX>_<NN>`, numbered per asset type inside one manifest.

A manifest keeps, per prefix, the highest number it ever handed out (`tag_sequences`), so a
number is never reused even after the asset that held it is deleted: an old storyboard that
cites `CHAR_02` never silently points at another character. Callers allocate while holding
the manifest's row lock; the unique constraint on (manifest, manifest_tag) is the last line
of defence.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from manifests.models import Manifest

TAG_PREFIXES: dict[str, str] = {
    "CHARACTER": "CHAR",
    "OBJECT": "OBJ",
    "ENVIRONMENT": "ENV",
    "STYLE": "STYLE",
    "VEHICLE": "VEH",
    "OTHER": "OTHER",
}


def tag_prefix(asset_type: str) -> str:
    """The tag prefix of an asset type (`CHARACTER` -> `CHAR`)."""
    return TAG_PREFIXES[asset_type]


def format_tag(prefix: str, number: int) -> str:
    """`CHAR`, 1 -> `CHAR_01`; at least two digits, more when needed (`CHAR_100`)."""
    return f"{prefix}_{number:02d}"


def allocate_tag(manifest: "Manifest", asset_type: str) -> str:
    """Take the next unused tag of `asset_type` in `manifest`.

    The caller must hold the manifest's row lock and persist `manifest.tag_sequences`
    in the same transaction as the asset that receives the tag.
    """
    prefix = tag_prefix(asset_type)
    number = int(manifest.tag_sequences.get(prefix, 0)) + 1
    manifest.tag_sequences = {**manifest.tag_sequences, prefix: number}
    return format_tag(prefix, number)
