"""The manifest changelist's own filters: deletion (live by default) and tag."""

from django.contrib import admin


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
    def select(cls, queryset, value: str | None):
        """The manifests a view shows, `value` being its `deleted` parameter."""
        if value == cls.DELETED:
            return queryset.deleted()
        if value == cls.ALL:
            return queryset
        return queryset.alive()

    def queryset(self, request, queryset):
        return self.select(queryset, self.value())


class TagFilter(admin.SimpleListFilter):
    """The most used tags of the manifests the deletion filter shows (live ones by default),
    with their counts: one query, counted in the database, whatever the number of rows."""

    title = "tag"
    parameter_name = "tag"
    MOST_USED = 25

    def lookups(self, request, model_admin):
        view = request.GET.get(DeletedFilter.parameter_name)
        shown = DeletedFilter.select(model_admin.get_queryset(request), view)
        counts = shown.tag_counts(self.MOST_USED)
        choices = [(label, f"{label} ({uses})") for label, uses in counts]
        selected = self.value()
        if selected and selected not in dict(counts):
            choices.append((selected, selected))  # keep the current choice visible
        return choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tags__has_label=self.value())
        return queryset
