"""Counting rows at a cost bounded by what is read: exact while the rows read show the
count, the planner's estimate past them (PostgreSQL), no count at all where there is no
planner estimate (SQLite).

`COUNT(*)` reads every matching row: 12 ms at 100,000 manifests on PostgreSQL and linear.
Reading at most `limit + 1` keys (`probe`), or a page and one row more
(`BoundedPaginator.page`), costs the same whatever the size of the table; past them the
caller gets the row estimate PostgreSQL's planner makes for the queryset's own SQL
(`EXPLAIN`, no rows read), flagged as not exact.
"""

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from math import ceil

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet

# The deepest row a page with an estimated or unknown count may start at: a bigger `page`
# is an EmptyPage (404), as a page past the count is in exact mode, rather than an OFFSET
# the database refuses (PostgreSQL's bigint) or spends minutes walking to.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True)
class Probe:
    """What a bounded count found: `count` (None: unknown), whether it is `exact`, and
    `keys`, the primary keys of the queryset's first rows in its own order (all of them
    when the count is exact, else `limit + 1`; empty when the queryset has no order)."""

    count: int | None
    exact: bool
    keys: list = field(default_factory=list)


def probe(queryset: QuerySet, limit: int) -> Probe:
    """`bounded_count`, keeping the keys it read so that a page among them can be fetched
    by key instead of running the queryset's filters and ordering a second time."""
    # Only the key, in the queryset's own order: the probe then walks the index that serves
    # the page itself (an index-only scan of the first `limit + 1` entries on PostgreSQL),
    # where an unordered probe lets the planner read the table from its start. Without an
    # order the keys say nothing about a page: counted only.
    if not queryset.ordered:
        counted = queryset.values("pk")[: limit + 1].count()
        keys = []
    else:
        keys = list(queryset.values_list("pk", flat=True)[: limit + 1])
        counted = len(keys)
    if counted <= limit:
        return Probe(counted, True, keys)
    return estimated(queryset, at_least=limit + 1, keys=keys)


def estimated(queryset: QuerySet, *, at_least: int, keys: list | None = None) -> Probe:
    """The planner's estimate of `queryset`'s rows, where at least `at_least` were seen:
    never below that; unknown (None) where there is no estimate."""
    estimate = planner_estimate(queryset)
    count = None if estimate is None else max(estimate, at_least)
    return Probe(count, False, keys or [])


def bounded_count(queryset: QuerySet, limit: int) -> tuple[int | None, bool]:
    """`(count, exact)`: the exact count when it is at most `limit`; past it the planner's
    estimate on PostgreSQL (never below `limit + 1`), or `None` on other databases."""
    found = probe(queryset, limit)
    return found.count, found.exact


def has_planner_estimates(alias: str) -> bool:
    """Whether `planner_estimate` can answer on this database (PostgreSQL only)."""
    return connections[alias].vendor == "postgresql"


# Estimates this process made lately, by database and SQL: {key: (good until, estimate)}.
# An estimate follows the table's statistics, which only ANALYZE (autovacuum: after a tenth
# of the table changed) renews; keeping one VIDPIPE_COUNT_ESTIMATE_SECONDS spares the pages
# read most (a list's first page, the pages of one search) the planning of their query a
# second time, about a millisecond for a search. At most ESTIMATES_KEPT, the least recently
# used dropped first.
ESTIMATES_KEPT = 1024
_estimates: OrderedDict[bytes, tuple[float, int]] = OrderedDict()
_estimates_lock = threading.Lock()


def forget_estimates() -> None:
    """Drop the estimates kept (tests: each starts with none)."""
    with _estimates_lock:
        _estimates.clear()


def planner_estimate(queryset: QuerySet) -> int | None:
    """The number of rows PostgreSQL's planner expects `queryset` to return (None elsewhere).

    As good as the table's statistics: ANALYZE (or autovacuum) keeps them current. Kept
    VIDPIPE_COUNT_ESTIMATE_SECONDS by this process (0: asked every time).
    """
    if not has_planner_estimates(queryset.db):
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    seconds = settings.VIDPIPE_COUNT_ESTIMATE_SECONDS
    key = hashlib.blake2b(f"{queryset.db}\0{sql}\0{params!r}".encode()).digest()
    now = time.monotonic()
    if seconds:
        with _estimates_lock:
            kept = _estimates.get(key)
            if kept is not None and kept[0] > now:
                _estimates.move_to_end(key)
                return kept[1]
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        (plan,) = cursor.fetchone()
    if isinstance(plan, str):  # psycopg decodes json columns; other drivers may not
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if seconds:
        with _estimates_lock:
            _estimates[key] = (now + seconds, estimate)
            _estimates.move_to_end(key)
            while len(_estimates) > ESTIMATES_KEPT:
                _estimates.popitem(last=False)
    return estimate


class BoundedPage(Page):
    """A page of a paginator whose count is not exact: whether a next page exists is known
    from one row fetched past the page, not from the count."""

    def __init__(self, object_list, number, paginator, *, has_more: bool):
        super().__init__(object_list, number, paginator)
        self.has_more = has_more

    def has_next(self) -> bool:
        return self.has_more

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self)


class BoundedPaginator(Paginator):
    """A Django paginator that never counts past what it reads (`count_is_estimate` says
    whether `count` is exact):

    - the count is exact when the rows end on the page read (no row follows it), or when
      they number at most `max(limit, per_page)`, which a probe of that many keys (plus one)
      tells: a probe runs when `count` is asked before a page (the admin), or when `limit`
      reaches past the page asked; its keys then serve the page by primary key, so the
      filters and the search run once;
    - otherwise it is the planner's estimate (PostgreSQL), never below the rows up to the
      page read plus one, or None where there is no estimate (SQLite).

    Any page number from 1 is accepted; a page is "last" when no row follows it; a page past
    the rows, or one starting past MAX_OFFSET rows, is empty (EmptyPage). `orphans` is not
    supported (DRF and the admin leave it 0).
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True, *, limit):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.limit = limit
        self._found: Probe | None = None
        self._pages_seen = 0

    @property
    def probe_size(self) -> int:
        """How many rows a probe counts exactly: a page, or the limit when bigger."""
        return max(self.limit, self.per_page)

    def _probe(self) -> Probe:
        return probe(self.object_list, self.probe_size)

    def _counted(self) -> Probe:
        if self._found is None:
            self._found = self._probe()
        return self._found

    @property
    def count_is_estimate(self) -> bool:
        return not self._counted().exact

    @property
    def count(self) -> int | None:
        return self._counted().count

    @property
    def num_pages(self) -> int:
        """Pages by the (estimated) count, 0 when the count is unknown; once a page is
        read, at least that page and the next when a row follows it, so page controls
        never end before the page shown (DRF's browsable API asserts it)."""
        count = self.count
        if count is None or (count == 0 and not self.allow_empty_first_page):
            pages = 0
        else:
            pages = ceil(max(1, count) / self.per_page)
        return max(pages, self._pages_seen)

    def validate_number(self, number):
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError, OverflowError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        if (number - 1) * self.per_page > MAX_OFFSET:
            raise EmptyPage("That page contains no results")
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        found = self._found
        counted_first = found is not None
        if found is None and self.limit > top:
            found = self._counted()  # counting up to the limit reads this page's keys too
        if found is not None and (top < len(found.keys) or (found.exact and found.keys)):
            # By key: a primary-key lookup, whatever the filters or the search cost. Whether
            # a row follows is the probe's to say (a row deleted since must not end the list).
            rows = list(self.object_list.filter(pk__in=found.keys[bottom:top]))
            has_more = len(found.keys) > top
        else:
            rows = list(self.object_list[bottom : top + 1])  # one row more: is there a next?
            has_more = len(rows) > self.per_page
            rows = rows[: self.per_page]
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        if not counted_first and (found is None or not found.exact):
            # What the page shows: the end of the rows (an exact count), or that more follow.
            if not has_more:
                self._found = Probe(bottom + len(rows), True)
            elif found is None:
                self._found = estimated(self.object_list, at_least=top + 1)
            elif found.count is not None and found.count <= top:
                self._found = Probe(top + 1, False, found.keys)
        self._pages_seen = max(self._pages_seen, number + has_more)
        return BoundedPage(rows, number, self, has_more=has_more)


class AdminPaginator(BoundedPaginator):
    """The admin changelist's paginator. Django's ChangeList asks for the count before the
    page: a probe of a page of keys plus one (or of VIDPIPE_EXACT_COUNT_LIMIT, when
    bigger) tells it exactly when the rows fit; past that, the planner's estimate (the
    page says "about N"), never below the rows the probe saw, so that the changelist pages
    them (it renders the whole queryset when the count fits one page). The first page is
    then read by key. The count read first is the one shown: a page read later does not
    change it (Django keeps it as `result_count`). With an estimate, the changelist must
    neither offer nor honour "Show all" (an estimate may be far below the rows):
    `manifests.admin.common.BoundedChangeList` sees to it. The page links need a total, so
    where the database has no estimate (SQLite) it counts them all."""

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True):
        super().__init__(
            object_list,
            per_page,
            orphans,
            allow_empty_first_page,
            limit=settings.VIDPIPE_EXACT_COUNT_LIMIT,
        )

    def _probe(self) -> Probe:
        # The probe's estimate is never below the keys it read (`probe`).
        if not has_planner_estimates(self.object_list.db):
            return Probe(self.object_list.count(), True)
        return super()._probe()
