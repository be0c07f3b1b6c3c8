import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.fields import CharField

from manifests import search
from manifests.models import Asset, Manifest, Project
from manifests.search import MAX_SEARCH_TERMS

# Refuses what no search can hold (a NUL character), as DRF's own SearchFilter does.
SEARCH_TEXT = CharField(allow_blank=True, trim_whitespace=False)


class SearchFilter(filters.SearchFilter):
    """`?search=`: the words `manifests.search` looks for (the admin's box means the same),
    with a bad term (e.g. a NUL character) reported as its parameter.

    The number of words is bounded: each one adds an OR of LIKEs to the query, and about
    a thousand of them exceed SQLite's expression depth (a 500).
    """

    search_description = f"Words that must all appear (at most {MAX_SEARCH_TERMS})."

    def get_search_terms(self, request):
        try:
            value = request.query_params.get(self.search_param, "")
            terms = search.search_words(SEARCH_TEXT.run_validation(value))
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None
        if len(terms) > MAX_SEARCH_TERMS:
            raise ValidationError(
                {self.search_param: [f"At most {MAX_SEARCH_TERMS} words, not {len(terms)}."]}
            )
        return terms

    def filter_queryset(self, request, queryset, view):
        if not search.searches(queryset.model):
            return super().filter_queryset(request, queryset, view)
        words = self.get_search_terms(request)
        return search.search(queryset, words) if words else queryset


class OrderingFilter(filters.OrderingFilter):
    """DRF's `?ordering=`, with `id` appended in the direction of the first key: rows with
    equal keys (names, counts) keep one order from page to page, and every ordering is
    the order of one index (migration 0006). Rows with distinct keys are ordered as before.
    """

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering or ordering[-1].lstrip("-") in {"id", "pk"}:
            return ordering
        return [*ordering, "-id" if ordering[0].startswith("-") else "id"]


class ManifestFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(
        field_name="tags", lookup_expr="has_label", help_text="Manifests carrying this tag."
    )

    class Meta:
        model = Manifest
        fields = ["category", "status", "tag"]


class AssetFilter(django_filters.FilterSet):
    # A UUID filter, not a choice of existing manifests: an unknown id simply matches nothing.
    manifest = django_filters.UUIDFilter(field_name="manifest_id", help_text="Manifest id.")
    tag = django_filters.CharFilter(
        field_name="user_tags", lookup_expr="has_label", help_text="Assets carrying this tag."
    )
    manifest_tag = django_filters.CharFilter(help_text="Exact tag, e.g. CHAR_01.")

    class Meta:
        model = Asset
        fields = ["manifest", "asset_type", "source", "tag", "manifest_tag"]


class ProjectFilter(django_filters.FilterSet):
    manifest = django_filters.UUIDFilter(field_name="manifest_id", help_text="Manifest id.")

    class Meta:
        model = Project
        fields = ["manifest"]


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, without its cost when a request names none of the filter
    set's parameters (a plain list page): django-filter then still builds and validates a
    form of every filter, and each filter passes over its empty value, so the queryset
    would come back as it went in. Only for filter sets and filters whose filtering is
    django-filter's own (an override may filter without a parameter): else as always."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and nothing_to_filter(filterset_class, request):
            return queryset
        return super().filter_queryset(request, queryset, view)


def nothing_to_filter(filterset_class: type[django_filters.FilterSet], request) -> bool:
    """Whether `filterset_class` would leave a queryset as it is for `request`: its filtering
    is django-filter's own and no parameter of its filters is in the query (each widget
    says, for multi-part ones such as ranges, too)."""
    own = django_filters.filterset.BaseFilterSet
    if (
        filterset_class.filter_queryset is not own.filter_queryset
        or filterset_class.qs is not own.qs
    ):
        return False
    params = request.query_params
    for name, declared in filterset_class.base_filters.items():
        if not type(declared).__module__.startswith("django_filters."):
            return False
        if not declared.field.widget.value_omitted_from_data(params, {}, name):
            return False
    return True
