"""Admin template tags of our own.

`bounded_date_hierarchy`: the changelist's date drill-down (`ModelAdmin.date_hierarchy`) at
a cost that does not grow with the table. Django's own tag lists the years (months, days)
that hold rows with `SELECT DISTINCT date_trunc(...)` over every row the changelist shows:
a scan of the whole table (90 ms at 100,000 manifests on PostgreSQL). This one lists every
period between the first and the last date shown, which `MIN`/`MAX` find in two index
lookups; a period in between may hold no rows (its page then says so). Links, titles and
levels are Django's: its tag runs as is, over a stand-in for the queryset.
"""

import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db.models import Max, Min
from django.utils import timezone

register = template.Library()


def _periods(first: datetime.datetime, last: datetime.datetime, kind: str):
    """The starts of every `kind` ("year", "month", "day") from `first`'s to `last`'s."""
    if kind == "year":
        return [
            first.replace(year=year, month=1, day=1) for year in range(first.year, last.year + 1)
        ]
    if kind == "month":
        months = range(first.year * 12 + first.month - 1, last.year * 12 + last.month)
        return [first.replace(year=m // 12, month=m % 12 + 1, day=1) for m in months]
    start, end = first.date(), last.date()
    return [first.replace(year=d.year, month=d.month, day=d.day) for d in _days(start, end)]


def _days(start: datetime.date, end: datetime.date):
    day = start
    while day <= end:
        yield day
        day += datetime.timedelta(days=1)


class _PeriodsBetweenBounds:
    """Stands for the changelist's queryset in Django's `date_hierarchy`: `aggregate` is the
    queryset's own; `dates`/`datetimes` list the periods between its first and last dates."""

    def __init__(self, queryset):
        self._queryset = queryset
        self._aggregated: dict = {}

    def aggregate(self, *args, **kwargs):
        # Django's tag asks for first=Min(field), last=Max(field); kept for _bounds.
        result = self._queryset.aggregate(*args, **kwargs)
        self._aggregated[repr(sorted(kwargs.items()))] = result
        return result

    def _bounds(self, field_name: str):
        key = repr(sorted({"first": Min(field_name), "last": Max(field_name)}.items()))
        bounds = self._aggregated.get(key) or self.aggregate(
            first=Min(field_name), last=Max(field_name)
        )
        if bounds["first"] is None or bounds["last"] is None:
            return None
        return bounds["first"], bounds["last"]

    def datetimes(self, field_name: str, kind: str):
        bounds = self._bounds(field_name)
        if bounds is None:
            return []
        first, last = (timezone.localtime(v) if timezone.is_aware(v) else v for v in bounds)
        first = first.replace(hour=0, minute=0, second=0, microsecond=0)
        return _periods(first, last, kind)

    def dates(self, field_name: str, kind: str):
        bounds = self._bounds(field_name)
        if bounds is None:
            return []
        first, last = (datetime.datetime.combine(v, datetime.time()) for v in bounds)
        return [period.date() for period in _periods(first, last, kind)]


class _BoundedChangeList:
    """The changelist as Django's tag sees it, with the stand-in queryset."""

    def __init__(self, changelist):
        self._changelist = changelist
        self.queryset = _PeriodsBetweenBounds(changelist.queryset)

    def __getattr__(self, name):
        return getattr(self._changelist, name)


@register.inclusion_tag("admin/date_hierarchy.html")
def bounded_date_hierarchy(changelist):
    return date_hierarchy(_BoundedChangeList(changelist))
