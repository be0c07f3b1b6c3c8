"""The manifest changelist's own filters: deletion (live by default) and tag."""

from collections import Counter

from django.contrib import admin

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

    def queryset(self, request, queryset):
        if self.value() == self.DELETED:
            return queryset.deleted()
        if self.value() == self.ALL:
            return queryset
        return queryset.alive()


class TagFilter(admin.SimpleListFilter):
    """The most common manifest tags (one query, whatever the page shows)."""

    title = "tag"
    parameter_name = "tag"
    MOST_COMMON = 25

    def lookups(self, request, model_admin):
        counts: Counter[str] = Counter()
        for tags in Manifest.all_objects.order_by().values_list("tags", flat=True).iterator():
            counts.update(tags or [])
        common = sorted(counts.most_common(self.MOST_COMMON), key=lambda item: item[0].lower())
        labels = [label for label, _ in common]
        if self.value() and self.value() not in labels:
            labels.append(self.value())
        return [(label, label) for label in labels]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__has_label=self.value())
        return queryset
