import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from manifests.counting import BoundedPaginator
from manifests.services.common import keyset_beyond


class StandardPagination(PageNumberPagination):
    """`?page=N`, REST_FRAMEWORK["PAGE_SIZE"] (50) per page by default; clients may ask for up
    to 200 with `?page_size=`.

    A page size that is not a positive whole number is refused (400) rather than silently
    replaced by the default; sizes above 200 are capped.
    """

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


COUNT_MODES = ("exact", "estimate")
PAGINATION_MODES = ("page", "cursor")
MAX_CURSOR_LENGTH = 200
# A stable order: `updated_at` moves on every edit, `created_at` never does; `id` breaks ties
# between rows created at the same instant. (The partial index manifest_live_created_id
# serves it on PostgreSQL.)
CURSOR_KEY = ("created_at", "id")


class LibraryPagination(StandardPagination):
    """The manifest and asset lists: StandardPagination, plus two opt-ins for big libraries.

    - `?count=estimate`: nothing is counted past the page read: the count is exact when
      the rows end on it (or number at most VIDPIPE_EXACT_COUNT_LIMIT), else estimated
      (`manifests.counting`); the body says which in `count_is_estimate`.
    - `?pagination=cursor` (or any `?cursor=`): a keyset walk over CURSOR_KEY
      (`created_at`, then `id` to break ties), `{next, previous, results}` without a count;
      each page costs the same however deep it is.
    """

    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.count_mode = self._choice(request, "count", COUNT_MODES)
        mode = self._choice(request, "pagination", PAGINATION_MODES)
        self.cursor_mode = mode == "cursor" or self.cursor_query_param in request.query_params
        if self.cursor_mode:
            if request.query_params.get("pagination") == "page":
                raise ValidationError(
                    {self.cursor_query_param: ["Only with pagination=cursor, not page."]}
                )
            self.walk = KeysetWalk.start(queryset, request, view, self.get_page_size(request))
            return self.walk.rows
        if self.count_mode == "estimate":
            self.django_paginator_class = partial(
                BoundedPaginator, limit=settings.VIDPIPE_EXACT_COUNT_LIMIT
            )
        return super().paginate_queryset(queryset, request, view)

    def get_page_number(self, request, paginator):
        number = request.query_params.get(self.page_query_param) or 1
        if self.count_mode == "estimate" and number in self.last_page_strings:
            # The last page by an estimate may be empty or not the last: refused whatever
            # the count, so a client does not break when its library outgrows the limit.
            raise ValidationError(
                {
                    self.page_query_param: [
                        f"{number!r} needs an exact count: not with count=estimate "
                        "(follow next to the page whose next is null)."
                    ]
                }
            )
        return super().get_page_number(request, paginator)

    @staticmethod
    def _choice(request, name: str, allowed: tuple[str, ...]) -> str:
        value = request.query_params.get(name) or allowed[0]
        if value not in allowed:
            raise ValidationError({name: [f"Must be one of: {', '.join(allowed)}; not {value!r}."]})
        return value

    def get_paginated_response(self, data):
        if self.cursor_mode:
            return Response(
                {
                    "next": self.walk.link(self.request, forward=True),
                    "previous": self.walk.link(self.request, forward=False),
                    "results": data,
                }
            )
        if self.count_mode != "estimate":
            return super().get_paginated_response(data)
        return Response(
            {
                "count": self.page.paginator.count,
                "count_is_estimate": self.page.paginator.count_is_estimate,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        page = super().get_paginated_response_schema(schema)
        page["title"] = "Page"
        page["properties"]["count"]["nullable"] = True
        page["properties"]["count"]["description"] = (
            "Rows matching. With count=estimate, exact when the rows end on this page (or "
            "number at most VIDPIPE_EXACT_COUNT_LIMIT); otherwise PostgreSQL's planner "
            "estimate, or null on SQLite (follow `next`)."
        )
        page["properties"] = {
            "count": page["properties"].pop("count"),
            "count_is_estimate": {
                "type": "boolean",
                "description": "Only with count=estimate: whether `count` is not exact.",
            },
            **page["properties"],
        }
        cursor = {
            "type": "object",
            "title": "Cursor page",
            "description": "With pagination=cursor or cursor=: no count.",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The following page; null on the last."},
                "previous": {**link, "description": "The page before; null on the first."},
                "results": schema,
            },
        }
        return {"anyOf": [page, cursor]}

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": "count",
                "required": False,
                "in": "query",
                "description": "`estimate`: count nothing past the page read: exact when the "
                "rows end on it (or number at most VIDPIPE_EXACT_COUNT_LIMIT), else the "
                "planner's estimate (`count_is_estimate` in the body). Default `exact`.",
                "schema": {"type": "string", "enum": list(COUNT_MODES)},
            },
            {
                "name": "pagination",
                "required": False,
                "in": "query",
                "description": "`cursor`: walk by `created_at` then `id` with `next`/`previous` "
                "cursors and no count; `ordering` may then only be `created_at` or "
                "`-created_at`. Default `page`.",
                "schema": {"type": "string", "enum": list(PAGINATION_MODES)},
            },
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The opaque position a `next` or `previous` link carries "
                "(implies pagination=cursor).",
                "schema": {"type": "string"},
            },
        ]


@dataclass
class KeysetWalk:
    """One page of a keyset walk: the rows after (or before) a position in the order of
    `key` (ascending, or descending with `ordering=-created_at`), without OFFSET."""

    key: tuple[str, ...]
    descending: bool
    rows: list
    position: tuple | None  # where the request's cursor pointed; None: the first page
    forward: bool  # the request's direction
    has_more: bool  # a row follows the page in the request's direction

    @classmethod
    def start(cls, queryset, request, view, size: int) -> "KeysetWalk":
        key = CURSOR_KEY
        descending = cls._descending(request, key[0])
        position, forward = decode_cursor(request.query_params.get("cursor"))
        after = forward != descending  # the rows wanted have keys above the position
        if position is not None:
            queryset = queryset.filter(keyset_beyond(key, position, after=after))
        order = list(key) if after else [f"-{field}" for field in key]
        rows = list(queryset.order_by(*order)[: size + 1])
        has_more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        return cls(key, descending, rows, position, forward, has_more)

    @staticmethod
    def _descending(request, first: str) -> bool:
        ordering = request.query_params.get("ordering") or first
        if ordering not in (first, f"-{first}"):
            raise ValidationError(
                {"ordering": [f"With pagination=cursor: {first} or -{first}, not {ordering!r}."]}
            )
        return ordering.startswith("-")

    def link(self, request, *, forward: bool) -> str | None:
        """The `next` (forward) or `previous` link: a cursor at this page's edge that way."""
        url = remove_query_param(request.build_absolute_uri(), "page")
        if forward == self.forward:
            more = self.has_more  # rows were seen beyond this page
        elif self.position is None:
            more = False  # before the first page
        elif not self.rows and forward:
            # Nothing before the position: the walk's first page.
            return replace_query_param(remove_query_param(url, "cursor"), "pagination", "cursor")
        else:
            more = bool(self.rows)  # at least the row the request's cursor named
        if not more:
            return None
        edge = self.rows[-1] if forward else self.rows[0]
        return replace_query_param(url, "cursor", encode_cursor(self._values(edge), forward))

    def _values(self, row) -> tuple:
        if isinstance(row, dict):
            return tuple(row[field] for field in self.key)
        return tuple(getattr(row, field) for field in self.key)


def encode_cursor(values: tuple, forward: bool) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else str(value) for value in values]
    raw = json.dumps([*plain, "f" if forward else "b"], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, fields: int = len(CURSOR_KEY)) -> tuple[tuple | None, bool]:
    """The position and direction a cursor names: (None, True) for none (the first page);
    400 naming `cursor` for anything this module did not write."""
    if not cursor:
        return None, True
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        *plain, direction = json.loads(raw)
        if len(plain) != fields or direction not in ("f", "b"):
            raise ValueError
        created = datetime.fromisoformat(plain[0])
        if created.tzinfo is None:
            raise ValueError
        # In UTC, as encode_cursor writes it: a time that has none (year 0 or 10000 once
        # its offset is applied) is refused here, not by the database driver (500).
        created = created.astimezone(UTC)
        position = (created, *(uuid.UUID(value) for value in plain[1:]))
    except (
        ValueError,
        TypeError,
        OverflowError,
        binascii.Error,
        UnicodeDecodeError,
        AttributeError,
    ):
        raise ValidationError(
            {"cursor": ["Not a cursor this API gave: use the next or previous link as is."]}
        ) from None
    return position, direction == "f"
