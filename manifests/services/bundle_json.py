"""`manifest.json`, the heart of a bundle (`services.bundles`): its format, written from a
manifest's content, and read back from a hostile zip field by field.

Reading checks everything before anything is kept: the `format` (BUNDLE_FORMAT), unknown or
missing fields, types, lengths and choices (through the models' own validation), labels as
the services normalise them, each tag against its asset type's prefix (`CHAR_01`, in the
canonical form `format_tag` gives), duplicate tags, and each image's entry name and sha256.
It yields unsaved rows (`Manifest`, `PlannedAsset`) that `services.bundles` stores.
"""

import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from manifests.exceptions import BundleRefused
from manifests.images import ACCEPTED_FORMATS
from manifests.models import MAX_DESCRIPTION_LENGTH, Asset, Manifest
from manifests.services.common import normalize_labels, refuse_unstorable_json, validate_fields
from manifests.tagging import TAG_PREFIXES, format_tag
from manifests.zips import ExpansionBudget, read_entry

BUNDLE_FORMAT = 1
MANIFEST_ENTRY = "manifest.json"
IMAGES_FOLDER = "images/"
# manifest.json of the largest bundle: 5,000 assets with long descriptions fit well within.
MAX_MANIFEST_JSON_BYTES = 64 * 1024 * 1024
# Entry names: `images/<tag>.<ext>`, the tag `<PREFIX>_<NN>` (manifests.tagging).
TAG_PATTERN = re.compile(r"(?P<prefix>[A-Z]+)_(?P<number>[0-9]{2,9})")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
EXTENSIONS = frozenset(ACCEPTED_FORMATS.values())
# What manifest.json holds, and which of it import requires.
TOP_KEYS = {"format": True, "manifest": True, "assets": True, "exported_at": False, "source": False}
MANIFEST_KEYS = {
    "name": True,
    "description": False,
    "category": False,
    "tags": False,
    "status": False,
}
ASSET_KEYS = {
    "tag": True,
    "name": True,
    "asset_type": True,
    "description": False,
    "user_tags": False,
    "source": False,
    "image": False,
}
IMAGE_KEYS = {"entry": True, "sha256": True}


def bundle_document(
    content: dict[str, Any], source: dict[str, Any], images: dict[str, dict], stamp: datetime
) -> bytes:
    fields = content["manifest"]
    document = {
        "format": BUNDLE_FORMAT,
        "exported_at": stamp.isoformat(),
        "source": source,
        "manifest": {name: fields[name] for name in MANIFEST_KEYS},
        "assets": [
            {
                "tag": asset["manifest_tag"],
                "name": asset["name"],
                "asset_type": asset["asset_type"],
                "description": asset["description"],
                "user_tags": asset["user_tags"],
                "source": asset["source"],
                "image": images.get(asset["manifest_tag"]),
            }
            for asset in content["assets"]
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


@dataclass
class PlannedAsset:
    asset: Asset
    entry: str | None
    sha256: str | None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ValueError(f"the key {key!r} appears twice in one object")
    return dict(pairs)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def read_document(archive: zipfile.ZipFile, files: dict, budget: ExpansionBudget) -> dict[str, Any]:
    info = files.get(MANIFEST_ENTRY)
    if info is None:
        raise BundleRefused(MANIFEST_ENTRY, "it is missing; every bundle has one at its top.")
    raw = b"".join(
        read_entry(archive, info, budget, limit=MAX_MANIFEST_JSON_BYTES, over="the limit")
    )
    try:
        document = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_json_object, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError:
        raise BundleRefused(MANIFEST_ENTRY, "it is not UTF-8 text.") from None
    except RecursionError:
        raise BundleRefused(MANIFEST_ENTRY, "it is not valid JSON (nested too deep).") from None
    except ValueError as exc:
        raise BundleRefused(MANIFEST_ENTRY, f"it is not valid JSON ({exc}).") from None
    return document


def _refuse(where: str, reason: str) -> BundleRefused:
    return BundleRefused(MANIFEST_ENTRY, f"{where}: {reason}")


def _check_keys(value: Any, keys: dict[str, bool], where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _refuse(where, f"must be a JSON object, not {type(value).__name__}.")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise _refuse(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(keys)}.")
    missing = [key for key, required in keys.items() if required and key not in value]
    if missing:
        raise _refuse(where, f"missing field(s) {', '.join(missing)}.")
    return value


def _string(value: Any, where: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise _refuse(where, f"must be a string, not {type(value).__name__}.")
    if max_length is not None and len(value) > max_length:
        raise _refuse(where, f"at most {max_length} characters (it has {len(value)}).")
    return value


def _choice(value: Any, choices, where: str) -> str:
    value = _string(value, where)
    allowed = [choice.value for choice in choices]
    if value not in allowed:
        raise _refuse(where, f"{value[:40]!r} is not one of {', '.join(allowed)}.")
    return value


def _validated(instance: Manifest | Asset, where: str, exclude: list[str] | None = None) -> None:
    try:
        validate_fields(instance, exclude=exclude)
    except ValidationError as exc:
        details = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
        raise _refuse(where, details) from None


def _labels(value: Any, field: str, where: str) -> list[str]:
    try:
        return normalize_labels(value, field=field)
    except ValidationError as exc:
        raise _refuse(f"{where}.{field}", " ".join(exc.messages)) from None


def plan_manifest(document: Any, name: str | None) -> Manifest:
    if not isinstance(document, dict):
        raise _refuse("the document", f"must be a JSON object, not {type(document).__name__}.")
    version = document.get("format")
    if type(version) is not int or version != BUNDLE_FORMAT:
        raise _refuse(
            "format",
            f"unknown format {str(version)[:20]!r}; this installation reads {BUNDLE_FORMAT}.",
        )
    _check_keys(document, TOP_KEYS, "the document")
    try:
        refuse_unstorable_json(document, field="manifest.json")
    except ValidationError as exc:
        raise _refuse("the document", " ".join(exc.messages)) from None
    fields = _check_keys(document["manifest"], MANIFEST_KEYS, "manifest")
    manifest = Manifest(
        name=(name or "").strip() or _string(fields["name"], "manifest.name").strip(),
        description=_string(
            fields.get("description", ""), "manifest.description", MAX_DESCRIPTION_LENGTH
        ),
        category=_choice(
            fields.get("category", Manifest.Category.CUSTOM), Manifest.Category, "manifest.category"
        ),
        tags=_labels(fields.get("tags", []), "tags", "manifest"),
        status=Manifest.Status.DRAFT,
    )
    _choice(fields.get("status", Manifest.Status.DRAFT), Manifest.Status, "manifest.status")
    _validated(manifest, "manifest")
    return manifest


def plan_assets(document: dict[str, Any], manifest: Manifest) -> list[PlannedAsset]:
    assets = document["assets"]
    if not isinstance(assets, list):
        raise _refuse("assets", f"must be a JSON list, not {type(assets).__name__}.")
    most = settings.VIDPIPE_BUNDLE_MAX_ASSETS
    if len(assets) > most:
        raise _refuse(
            "assets", f"{len(assets)} assets; the limit is {most} (VIDPIPE_BUNDLE_MAX_ASSETS)."
        )
    now = timezone.now()
    planned: list[PlannedAsset] = []
    tags: set[str] = set()
    for position, value in enumerate(assets):
        where = f"assets[{position}]"
        fields = _check_keys(value, ASSET_KEYS, where)
        asset_type = _choice(fields["asset_type"], Asset.AssetType, f"{where}.asset_type")
        tag = _string(fields["tag"], f"{where}.tag")
        where = f"{where} ({tag[:40]})"
        prefix = TAG_PREFIXES[asset_type]
        match = TAG_PATTERN.fullmatch(tag)
        if (
            not match
            or match["prefix"] != prefix
            or tag != format_tag(prefix, int(match["number"]))
        ):
            raise _refuse(
                f"{where}.tag",
                f"{tag[:40]!r} is not a tag of a {asset_type} asset; expected {prefix}_<number> "
                f"(e.g. {format_tag(prefix, 1)}, no extra leading zeros).",
            )
        if int(match["number"]) < 1:
            raise _refuse(f"{where}.tag", "tag numbers start at 1.")
        if tag in tags:
            raise _refuse(f"{where}.tag", f"{tag} is given to two assets.")
        tags.add(tag)
        asset = Asset(
            manifest=manifest,
            manifest_tag=tag,
            asset_type=asset_type,
            name=_string(fields["name"], f"{where}.name").strip(),
            description=_string(
                fields.get("description", ""), f"{where}.description", MAX_DESCRIPTION_LENGTH
            ),
            user_tags=_labels(fields.get("user_tags", []), "user_tags", where),
            source=_choice(
                fields.get("source", Asset.Source.UPLOAD), Asset.Source, f"{where}.source"
            ),
            sort_order=position,
            # Equal sort orders are ordered by created_at; these keep the bundle's order.
            created_at=now + timedelta(microseconds=position),
        )
        _validated(asset, where, exclude=["manifest"])
        entry = sha256 = None
        image = fields.get("image")
        if image is not None:
            image = _check_keys(image, IMAGE_KEYS, f"{where}.image")
            entry = _string(image["entry"], f"{where}.image.entry")
            extension = entry.rsplit(".", 1)[-1]
            if entry != f"{IMAGES_FOLDER}{tag}.{extension}" or extension not in EXTENSIONS:
                raise _refuse(
                    f"{where}.image.entry",
                    f"{entry[:60]!r} must be {IMAGES_FOLDER}{tag}.<ext>, the ext one of "
                    f"{', '.join(sorted(EXTENSIONS))}.",
                )
            sha256 = _string(image["sha256"], f"{where}.image.sha256")
            if not SHA256_PATTERN.fullmatch(sha256):
                raise _refuse(f"{where}.image.sha256", "must be 64 lowercase hexadecimal digits.")
        planned.append(PlannedAsset(asset, entry, sha256))
    return planned


def tag_sequences(planned: list[PlannedAsset]) -> dict[str, int]:
    """Per prefix, the highest number imported: new tags continue after it."""
    sequences: dict[str, int] = {}
    for item in planned:
        prefix, number = item.asset.manifest_tag.rsplit("_", 1)
        sequences[prefix] = max(sequences.get(prefix, 0), int(number))
    return sequences
