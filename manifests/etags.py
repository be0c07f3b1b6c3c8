"""Entity tags of manifests and assets, and the If-Match / If-None-Match a client sends.

An ETag names the state a client read; sent back in `If-Match` with a change, it lets the
services refuse the change (VersionConflict, 412 in the API) when the resource moved on
since, under the same row lock as the change itself, so no update is lost.

- A manifest's ETag is `"<id>-r<revision>"`. `revision` moves with every change its
  representations show (content, assets, usage, contact sheet, thumbnails, deletion; see
  `services.changes`), where `version` moves with content only.
- An asset has no revision of its own: its ETag is `"<id>-<digest>"`, a digest of every
  concrete field of its row, so anything that changes the row (a rebuilt thumbnail
  included) changes it. Computed from the row as read: no column to keep up to date.

Both are strong: for one request address and media type, equal tags mean equal bodies.
The JSON answer carries the tag itself; another rendering of the same state (the browsable
API's HTML) is another representation and carries the tag with its format appended
(`for_representation`). `If-Match` compares with the JSON tag, which is what clients hold.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models.fields.files import FieldFile
from django.http import HttpResponseNotModified

from manifests.exceptions import MalformedETag

# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, a comma-separated list.
ENTITY_TAG = re.compile(r'\s*((?:W/)?"[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')
DIGEST_CHARS = 32


def manifest_etag(manifest: Any) -> str:
    """The manifest's ETag: its id and revision."""
    return f'"{manifest.pk}-r{manifest.revision}"'


def _plain(value: Any) -> Any:
    """A field value as JSON can hold it, exactly (datetimes to the microsecond)."""
    if isinstance(value, FieldFile):
        return value.name or ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(f"no ETag form for {type(value).__name__}")


def asset_etag(asset: Any) -> str:
    """The asset's ETag: a digest of every concrete field of its row."""
    values = [(f.attname, getattr(asset, f.attname)) for f in asset._meta.concrete_fields]
    encoded = json.dumps(values, default=_plain, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:DIGEST_CHARS]
    return f'"{asset.pk}-{digest}"'


def parse_etags(header: str) -> list[str]:
    """The entity tags of an If-Match or If-None-Match list; MalformedETag when the header
    is not `*` or a comma-separated list of quoted tags."""
    text = header.strip()
    if text == "*":
        return ["*"]
    tags, position = [], 0
    while position < len(text):
        match = ENTITY_TAG.match(text, position)
        if match is None or match.end() == position:
            raise MalformedETag(header)
        tags.append(match.group(1))
        position = match.end()
    if not tags:
        raise MalformedETag(header)
    return tags


@dataclass(frozen=True)
class IfMatch:
    """What a client expects a resource to be before it changes it: any existing state
    (`*`) or one of the ETags it read. Compared strongly (RFC 9110 §13.1.1): a weak tag
    (`W/"…"`) never matches."""

    etags: tuple[str, ...]

    @classmethod
    def parse(cls, header: str) -> "IfMatch":
        return cls(tuple(parse_etags(header)))

    def matches(self, current_etag: str) -> bool:
        return "*" in self.etags or current_etag in self.etags

    def __str__(self) -> str:
        return ", ".join(self.etags)


def none_match(header: str | None, current_etag: str) -> bool:
    """Whether an If-None-Match header is satisfied (the client's copy is stale or it has
    none): false when it names the current ETag (compared weakly) or is `*`. A malformed
    header is ignored: it only asks to save a download."""
    if header is None:
        return True
    try:
        tags = parse_etags(header)
    except MalformedETag:
        return True
    if "*" in tags:
        return False
    opaque = current_etag.removeprefix("W/")
    return all(tag.removeprefix("W/") != opaque for tag in tags)


def for_representation(request: Any, etag: str) -> str:
    """The ETag of the answer `request` gets: `etag` for JSON, else `etag` with the format
    appended inside the quotes (a strong tag names one representation only)."""
    renderer = getattr(request, "accepted_renderer", None)
    media = getattr(renderer, "format", None) or "json"
    return etag if media == "json" else f'{etag[:-1]}.{media}"'


def not_modified(etag: str, **headers: str) -> HttpResponseNotModified:
    """A 304: no body at all, the ETag (and caching headers) of what the client holds."""
    response = HttpResponseNotModified()
    response["ETag"] = etag
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
