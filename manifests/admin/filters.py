"""The manifest changelist's own filters: deletion (live by default) and tag (its counts
bounded: sampled and cached, see TagFilter)."""

from django.conf import settings
from django.contrib import admin
from django.core.cache import cache

from manifests.models import Manifest


class DeletedFilter(admin.SimpleListFilter):
    """Live manifests by default; the deleted ones, or all, on request."""

    title = "deletion"
    parameter_name = "deleted"
    DELETED, ALL = "yes", "all"

    def lookups(self, request, model_admin):
        return [(self.DELETED, "Deleted"), (self.ALL, "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live",
        }
        for value, title in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    @classmethod
    def view(cls, value: str | None) -> str | None:
        """The view a `deleted` parameter names: DELETED, ALL, or None (the live ones, for
        any other value)."""
        return value if value in (cls.DELETED, cls.ALL) else None

    @classmethod
    def select(cls, queryset, value: str | None):
        """The manifests a view shows, `value` being its `deleted` parameter."""
        view = cls.view(value)
        if view == cls.DELETED:
            return queryset.deleted()
        if view == cls.ALL:
            return queryset
        return queryset.alive()

    def queryset(self, request, queryset):
        return self.select(queryset, self.value())


class TagFilter(admin.SimpleListFilter):
    """The most used tags of the manifests the deletion filter shows (live ones by default),
    with their counts, at a cost that does not grow with the library:

    - counted over the latest `VIDPIPE_ADMIN_TAG_SAMPLE` manifests of the view (by creation,
      on the `(created_at, id)` index); when the view holds more, the title says so;
    - kept in the default cache (shared by every worker with CACHE_URL) for
      `VIDPIPE_ADMIN_TAG_COUNTS_SECONDS`, per view: the counting query runs at most once per
      view and period, and counts are never older than that period.

    The selected tag is always offered, counted or not.
    """

    title = "tag"
    parameter_name = "tag"
    MOST_USED = 25
    CACHE_KEY = "admin:manifest-tag-counts:{view}:{sample}:{most_used}"

    def lookups(self, request, model_admin):
        view = DeletedFilter.view(request.GET.get(DeletedFilter.parameter_name))
        counts, sample = self.cached_counts(model_admin, request, view)
        if sample is not None:
            self.title = f"tag (latest {sample:,} manifests)"
        choices = [(label, f"{label} ({uses})") for label, uses in counts]
        selected = self.value()
        if selected and selected not in dict(counts):
            choices.append((selected, selected))  # keep the current choice visible
        return choices

    def cached_counts(self, model_admin, request, view: str | None):
        """The view's (label, uses) pairs, most used first, and the sample size they were
        counted over (None: over every manifest of the view); from the cache when fresh."""
        sample = settings.VIDPIPE_ADMIN_TAG_SAMPLE
        seconds = settings.VIDPIPE_ADMIN_TAG_COUNTS_SECONDS
        key = self.CACHE_KEY.format(view=view or "live", sample=sample, most_used=self.MOST_USED)
        cached = cache.get(key) if seconds else None
        if cached is not None:
            return cached
        shown = DeletedFilter.select(model_admin.get_queryset(request), view)
        newest = shown.order_by("-created_at", "-pk").values("pk")
        if newest[sample : sample + 1].exists():
            counted = Manifest.all_objects.filter(pk__in=newest[:sample]).tag_counts(self.MOST_USED)
            result = (counted, sample)
        else:
            result = (shown.tag_counts(self.MOST_USED), None)
        if seconds:
            cache.set(key, result, seconds)
        return result

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__has_label=self.value())
        return queryset
