"""Manifests in the admin: the curation page staff live in.

Every change goes through `manifests.services`, like the API: the form saves with
`manifest_create`/`manifest_update`, the asset inline with `asset_create`/`asset_update`/
`asset_delete`/`asset_attach_image`, and deleting is the domain's soft delete. The
changelist's filters are in `manifests.admin.filters`; its actions and the duplicate,
restore and lineage pages in `manifests.admin.manifest_actions`; frozen versions (their list,
pages and the freeze button) in `manifests.admin.versions`; the drop zone that adds many
images at once in `manifests.admin.bulk`; bundles (the export button and action, the import
page) in `manifests.admin.bundles`.
"""

from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseBadRequest, QueryDict
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from manifests import search, services
from manifests.admin.assets import AssetInline, AssetPageRefused
from manifests.admin.bulk import ManifestBulkUploadMixin
from manifests.admin.bundles import ManifestBundlesMixin
from manifests.admin.common import (
    FORM_PREVIEW_PX,
    LIST_PER_PAGE,
    LIST_PREVIEW_PX,
    BoundedSearch,
    DomainErrorsAsMessages,
    FastChangeListRows,
    FilesToChooseAgain,
    LabelListField,
    adopt,
    image_preview,
    save_asset_form,
)
from manifests.admin.filters import DeletedFilter, TagFilter
from manifests.admin.manifest_actions import ManifestActionsMixin
from manifests.admin.versions import ManifestVersionsMixin
from manifests.exceptions import VersionConflict
from manifests.models import Asset, Manifest

DELETED_BADGE = (
    '<span class="vidpipe-deleted" style="color:var(--error-fg);font-weight:bold">deleted {}</span>'
)


class OptionalJSONField(forms.JSONField):
    """JSON in a textarea that shows nothing, rather than `null`, when there is none."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class ManifestForm(forms.ModelForm):
    tags = LabelListField()
    processing_progress = OptionalJSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="A JSON object written by the processing stage.",
    )
    total_processing_cost = forms.DecimalField(
        max_digits=10, decimal_places=4, min_value=0, initial=0
    )
    # The version the page was opened at: saving over a newer one is refused (see clean).
    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Manifest
        fields = Manifest.EDITABLE_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            # Without it the lost-update check could not run: a page that lacks it (an old
            # tab, a forged post) is refused rather than saved unchecked.
            expected = self.fields["expected_version"]
            expected.initial = self.instance.version
            expected.required = True
            expected.error_messages["required"] = (
                "This page does not say which version it was opened at; open it again."
            )
        status = self.fields.get("status")
        if status is not None:
            # Offer only what the domain allows: a new manifest's first statuses, or the
            # moves from the current one.
            if self.instance._state.adding:
                allowed = services.CREATE_STATUSES
            else:
                current = self.instance.status
                allowed = {current, *Manifest.STATUS_TRANSITIONS.get(current, ())}
            status.choices = [c for c in Manifest.Status.choices if c[0] in allowed]

    def clean(self):
        """Refuse a page opened at an older version than the manifest's, before anything is
        saved, keeping what the curator typed on the page. The manifest stays locked until
        the admin's transaction (the whole page: form and inline rows) ends, so no other
        change can come in between this check and the save."""
        cleaned = super().clean()
        expected = cleaned.get("expected_version")
        if expected is None or self.instance._state.adding:
            return cleaned
        try:
            services.manifest_lock(manifest=self.instance, expected_version=expected)
        except VersionConflict as conflict:
            raise ValidationError(
                "“%(name)s” was changed by someone else since you opened it "
                "(v%(opened)s → v%(current)s); nothing was saved. What you typed is still "
                "below: open the page again to see their changes, then apply yours.",
                code="version_conflict",
                params={
                    "name": self.instance.name,
                    "opened": expected,
                    "current": conflict.current_version,
                },
            ) from None
        except Manifest.DoesNotExist:
            raise ValidationError(
                "This manifest was deleted by someone else since you opened it; nothing was saved.",
                code="deleted",
            ) from None
        return cleaned

    def clean_processing_progress(self):
        value = self.cleaned_data.get("processing_progress")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object, or empty.")
        return value


@admin.register(Manifest)
class ManifestAdmin(
    FastChangeListRows,
    DomainErrorsAsMessages,
    FilesToChooseAgain,
    BoundedSearch,
    ManifestActionsMixin,
    ManifestVersionsMixin,
    ManifestBulkUploadMixin,
    ManifestBundlesMixin,
    admin.ModelAdmin,
):
    form = ManifestForm
    inlines = [AssetInline]
    list_display = [
        "list_preview",
        "name_and_state",
        "category",
        "status",
        "asset_count",
        "times_used",
        "version",
        "updated_at",
    ]
    list_display_links = ["list_preview", "name_and_state"]
    list_filter = [DeletedFilter, "category", "status", TagFilter]
    search_fields = search.search_fields(Manifest)
    search_help_text = "Name, description or tag."
    date_hierarchy = "updated_at"
    list_per_page = LIST_PER_PAGE
    readonly_fields = [
        "thumbnail_preview",
        "contact_sheet_preview",
        "asset_count",
        "version",
        "times_used",
        "last_used_at",
        "parent_manifest",
        "lineage",
        "frozen_versions",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    actions = [
        "duplicate_selected",
        "render_contact_sheets",
        "freeze_selected",
        "export_bundle",
        "soft_delete_selected",
        "restore_selected",
    ]

    def get_fieldsets(self, request, obj=None):
        identity = ("Identity", {"fields": ["name", "description", "category", "tags"]})
        processing = ["status", "processing_progress", "total_processing_cost"]
        if obj is None:
            return [identity, ("Processing", {"fields": processing})]
        opened_at = ("Identity", {"fields": [*identity[1]["fields"], "expected_version"]})
        return [
            opened_at,
            (
                "Processing",
                {"fields": [*processing, ("thumbnail_preview", "contact_sheet_preview")]},
            ),
            ("Usage", {"fields": [("asset_count", "version", "times_used", "last_used_at")]}),
            ("Frozen versions", {"fields": ["frozen_versions"]}),
            (
                "Lineage",
                {
                    "fields": [
                        ("parent_manifest", "lineage"),
                        ("created_at", "updated_at", "deleted_at"),
                    ]
                },
            ),
        ]

    # --- which rows ------------------------------------------------------------------------

    def get_queryset(self, request):
        """Every manifest, deleted ones included: the `deleted` filter picks the live ones by
        default, and a deleted manifest can still be opened (read-only) and restored."""
        queryset = Manifest.all_objects.all()
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            queryset = queryset.alive()  # projects may only link live manifests
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def has_change_permission(self, request, obj=None):
        # A deleted manifest is read-only until it is restored.
        if obj is not None and obj.is_deleted:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_deleted:
            return False
        return super().has_delete_permission(request, obj)

    # --- columns and read-only fields -------------------------------------------------------

    @admin.display(description="Preview")
    def list_preview(self, manifest: Manifest) -> str:
        # The domain keeps the manifest's thumbnail = its first asset's thumbnail.
        return image_preview(manifest.thumbnail, size=LIST_PREVIEW_PX, alt=manifest.name)

    @admin.display(description="Name", ordering="name")
    def name_and_state(self, manifest: Manifest) -> str:
        parts = [format_html("<strong>{}</strong>", manifest.name)]
        if manifest.is_deleted:
            parts.append(format_html(DELETED_BADGE, manifest.deleted_at.date()))
        if manifest.tags:
            parts.append(
                format_html(
                    '<br><span class="quiet">{}</span>',
                    ", ".join(manifest.tags),
                )
            )
        return format_html_join(" ", "{}", ((part,) for part in parts))

    @admin.display(description="Thumbnail")
    def thumbnail_preview(self, manifest: Manifest) -> str:
        return image_preview(manifest.thumbnail, size=FORM_PREVIEW_PX, alt=manifest.name)

    @admin.display(description="Contact sheet")
    def contact_sheet_preview(self, manifest: Manifest) -> str:
        return image_preview(manifest.contact_sheet, size=FORM_PREVIEW_PX * 2, alt=manifest.name)

    @admin.display(description="Copies")
    def lineage(self, manifest: Manifest) -> str:
        copies = Manifest.all_objects.copies_of(manifest).count()
        url = reverse("admin:manifests_manifest_lineage", args=[manifest.pk])
        return format_html('{} — <a href="{}">see the lineage</a>', copies, url)

    # --- saving through the domain ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in Manifest.EDITABLE_FIELDS}
        if change:
            changes = {f: data[f] for f in form.changed_data if f in data}
            # A new status is applied after the asset rows (save_related): a manifest made
            # READY on this page is frozen with the page's assets, not the ones before it.
            form.deferred_status = changes.pop("status", None)
            # The form's check locked the manifest at the version the page was opened at.
            expected = form.cleaned_data.get("expected_version")
            saved = (
                services.manifest_update(manifest=obj, expected_version=expected, **changes)
                if changes
                else None
            )
        else:
            saved = services.manifest_create(**data)
        if saved is not None:
            adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        status = getattr(form, "deferred_status", None)
        if status is not None:
            adopt(form.instance, services.manifest_update(manifest=form.instance, status=status))

    def save_formset(self, request, form, formset, change):
        """Asset rows: delete, update and create each through the domain functions, so
        tags are allocated, counts kept and versions bumped exactly as the API does."""
        if formset.model is not Asset:
            return super().save_formset(request, form, formset, change)
        # What Django's formset.save() would record, for the change message and history.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        deleted_forms = formset.deleted_forms
        for asset_form in formset.initial_forms:
            if asset_form in deleted_forms:
                services.asset_delete(asset=asset_form.instance)
                formset.deleted_objects.append(asset_form.instance)
            elif asset_form.has_changed():
                asset = save_asset_form(asset_form, manifest=form.instance)
                formset.changed_objects.append((asset, asset_form.changed_data))
        for asset_form in formset.extra_forms:
            if asset_form.has_changed() and asset_form not in deleted_forms:
                formset.new_objects.append(save_asset_form(asset_form, manifest=form.instance))
        return None

    def change_view(self, request, object_id, form_url="", extra_context=None):
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        except AssetPageRefused as refusal:  # Django's own 400 page would not say why
            return HttpResponseBadRequest(str(refusal), content_type="text/plain; charset=utf-8")

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        page = request.GET.get(AssetInline.page_parameter)
        if "_continue" in request.POST and page and response.status_code == 302:
            # Back to the page of assets the curator was on, not the first one.
            location = urlsplit(response["Location"])
            query = QueryDict(location.query, mutable=True)
            query[AssetInline.page_parameter] = page
            response["Location"] = location._replace(query=query.urlencode()).geturl()
        return response

    def delete_model(self, request, obj):
        services.manifest_soft_delete(manifest=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for manifest in queryset:
                services.manifest_soft_delete(manifest=manifest)

    def get_deleted_objects(self, objs, request):
        """What the delete page lists: the manifests themselves (their assets stay with
        them, restorable), or the projects that keep them from being deleted."""
        projects = (
            Manifest.all_objects.filter(pk__in=[obj.pk for obj in objs])
            .referencing_projects()
            .select_related("manifest")
        )
        protected = [
            format_html(
                '<a href="{}">{}</a> (uses “{}”)',
                reverse("admin:manifests_project_change", args=[project.pk]),
                project.name,
                project.manifest.name,
            )
            for project in projects
        ]
        perms_needed = set() if self.has_delete_permission(request) else {"manifest"}
        to_delete = [f"{obj.name} ({obj.asset_count} assets)" for obj in objs]
        return to_delete, {self.opts.verbose_name_plural: len(objs)}, perms_needed, protected

    def response_delete(self, request, obj_display, obj_id):
        self.message_user(
            request,
            format_html(
                'It can be restored from the <a href="{}?deleted=yes">deleted manifests</a>.',
                reverse("admin:manifests_manifest_changelist"),
            ),
            messages.INFO,
        )
        return super().response_delete(request, obj_display, obj_id)
