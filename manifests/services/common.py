"""What the operations share (package-internal): label normalisation, field validation and
the manifest row lock for reading (changes lock it through `services.changes`)."""

import math
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from manifests.models import Asset, Manifest, Project

MAX_LABELS = 50
MAX_LABEL_LENGTH = 64
MAX_JSON_DEPTH = 32


def refuse_unstorable_json(value: Any, *, field: str) -> None:
    """Refuse what a JSON value could be stored with but not read back or shown again.

    - NUL characters: PostgreSQL cannot store them (in text or jsonb); refused everywhere.
    - Lone UTF-16 surrogates ("\\ud800"): valid JSON escapes, but not text; every response
      naming them would fail to encode.
    - NaN and infinities: not JSON; PostgreSQL refuses them and so does the API's renderer.
    - Nesting deeper than MAX_JSON_DEPTH: every reader (the admin's form, clients) walks it.
    """
    pending = [(value, 1)]
    while pending:  # a loop, not recursion: the value may be nested arbitrarily deep
        item, depth = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValidationError({field: "Null characters (\\u0000) are not allowed."})
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValidationError(
                        {field: "Unpaired surrogate characters (\\ud800-\\udfff) are not allowed."}
                    ) from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationError({field: "NaN and infinite numbers are not allowed."})
        elif isinstance(item, dict | list | tuple):
            if depth > MAX_JSON_DEPTH:
                raise ValidationError(
                    {field: f"Nested deeper than {MAX_JSON_DEPTH} levels; flatten it."}
                )
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def normalize_labels(value: Any, *, field: str) -> list[str]:
    """Strip, drop blanks and duplicates, keep the order; refuse anything but strings."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValidationError({field: "Must be a list of strings."})
    refuse_unstorable_json(value, field=field)
    labels: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ValidationError({field: f"Every item must be a string, not {item!r}."})
        label = item.strip()
        if len(label) > MAX_LABEL_LENGTH:
            raise ValidationError(
                {field: f"'{label[:20]}…' is longer than {MAX_LABEL_LENGTH} characters."}
            )
        if label and label not in labels:
            labels.append(label)
    if len(labels) > MAX_LABELS:
        raise ValidationError({field: f"At most {MAX_LABELS} distinct items are allowed."})
    return labels


def asset_label(asset: Asset) -> str:
    """How messages name an asset: `CHAR_01 “Hero”`."""
    return f"{asset.manifest_tag} “{asset.name}”"


def validate_fields(
    instance: Manifest | Asset | Project, *, exclude: list[str] | None = None
) -> None:
    """Field-level validation (choices, lengths, blanks); constraints are the database's."""
    instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)


def lock_manifest(manifest_id: Any) -> Manifest:
    """The live manifest, with its row locked until the transaction ends, for an operation
    that reads it without changing it (duplicate); changes go through manifest_change."""
    return Manifest.objects.select_for_update().get(pk=manifest_id)


def thumbnail_name(asset: Asset, sha256: str, extension: str) -> str:
    """`<asset_id>_<hash>.<ext>`: a new name for each image, so caches never go stale."""
    return f"{asset.id}_{sha256[:16]}.{extension}"


def changed_fields(instance: Any, changes: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in changes.items() if getattr(instance, field) != value}


def clean_changes(
    changes: dict[str, Any], *, allowed: frozenset[str], labels_field: str
) -> dict[str, Any]:
    """Refuse fields that are not editable; normalise labels and names as on create."""
    unknown = set(changes) - allowed
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}.")
    cleaned = dict(changes)
    if labels_field in cleaned:
        cleaned[labels_field] = normalize_labels(cleaned[labels_field], field=labels_field)
    if isinstance(cleaned.get("name"), str):
        cleaned["name"] = cleaned["name"].strip()
    return cleaned


def keyset_chunks(queryset: QuerySet, size: int) -> Iterator[list[Any]]:
    """The rows of `queryset` in primary-key order, `size` at a time: model instances, or
    the keys themselves for a flat `values_list("pk", flat=True)`.

    Each chunk is a fresh query for the rows after the last key seen (keyset pagination),
    so memory holds one chunk and rows the caller changes or deletes between chunks never
    shift the walk.
    """
    queryset = queryset.order_by("pk")
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        chunk = list(page[:size])
        if not chunk:
            return
        yield chunk
        last = getattr(chunk[-1], "pk", chunk[-1])


def keyset_beyond(key: tuple[str, ...], position: tuple, *, after: bool) -> Q:
    """Rows whose `key` tuple is above (`after`) or below `position`, as Q objects:
    (a, b) > (x, y)  is  a >= x AND (a > x OR (a = x AND b > y)).

    The redundant `a >= x` is what an index on (a, b) can start its scan at; without it
    PostgreSQL reads the index from its start and filters, a cost growing with the depth.
    """
    lookup = "gt" if after else "lt"
    beyond = Q()
    for depth, field in enumerate(key):
        equal = {prefix: value for prefix, value in zip(key[:depth], position, strict=False)}
        beyond |= Q(**equal, **{f"{field}__{lookup}": position[depth]})
    return Q(**{f"{key[0]}__{lookup}e": position[0]}) & beyond
