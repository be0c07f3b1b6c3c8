import django_filters

from manifests.models import Asset, Manifest, Project


class ManifestFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(
        field_name="tags", lookup_expr="has_label", help_text="Manifests carrying this tag."
    )

    class Meta:
        model = Manifest
        fields = ["category", "status", "tag"]


class AssetFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(
        field_name="user_tags", lookup_expr="has_label", help_text="Assets carrying this tag."
    )
    manifest_tag = django_filters.CharFilter(help_text="Exact tag, e.g. CHAR_01.")

    class Meta:
        model = Asset
        fields = ["manifest", "asset_type", "source", "tag", "manifest_tag"]


class ProjectFilter(django_filters.FilterSet):
    class Meta:
        model = Project
        fields = ["manifest"]
