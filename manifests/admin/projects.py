"""Projects in the admin: linking one to a manifest pins its version and counts the use;
the pinned version and its upgrade are in `manifests.admin.upgrades`."""

from django.contrib import admin

from manifests import services
from manifests.admin.common import BoundedCounts, BoundedSearch, DomainErrorsAsMessages, adopt
from manifests.admin.upgrades import ProjectUpgradesMixin
from manifests.models import Project


@admin.register(Project)
class ProjectAdmin(
    BoundedCounts, DomainErrorsAsMessages, BoundedSearch, ProjectUpgradesMixin, admin.ModelAdmin
):
    list_display = ["name", "manifest", "manifest_version", "created_at"]
    list_select_related = ["manifest"]
    search_fields = ["name", "manifest__name"]
    date_hierarchy = "created_at"
    # The autocomplete offers live manifests only (see ManifestAdmin.get_queryset).
    autocomplete_fields = ["manifest"]
    fields = ["name", "manifest", "manifest_version", "pinned_version", "created_at"]
    readonly_fields = ["manifest_version", "pinned_version", "created_at"]
    actions = ["upgrade_selected"]

    def save_model(self, request, obj, form, change):
        name = form.cleaned_data["name"]
        manifest = form.cleaned_data.get("manifest")
        if not change:
            saved = services.project_create(name=name, manifest=manifest)
        elif "manifest" in form.changed_data:
            saved = services.project_update(project=obj, name=name, manifest=manifest)
        else:
            saved = services.project_update(project=obj, name=name)
        adopt(obj, saved)
