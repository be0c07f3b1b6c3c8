"""Manifests in the admin: the curation page staff live in.

Every change goes through `manifests.services`, like the API: the form saves with
`manifest_create`/`manifest_update`, the asset inline with `asset_create`/`asset_update`/
`asset_delete`/`asset_attach_image`, and deleting is the domain's soft delete.
"""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from manifests import services
from manifests.admin.assets import AssetInline
from manifests.admin.common import (
    DOMAIN_ERRORS,
    FORM_PREVIEW_PX,
    LIST_PREVIEW_PX,
    DomainErrorsAsMessages,
    LabelListField,
    adopt,
    domain_error_message,
    image_preview,
    save_asset_form,
)
from manifests.exceptions import ManifestInUse
from manifests.models import Asset, Manifest, Project

DELETED_BADGE = (
    '<span class="vidpipe-deleted" style="color:var(--error-fg);font-weight:bold">deleted {}</span>'
)


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

    class Meta:
        model = Manifest
        fields = sorted(services.MANIFEST_EDITABLE_FIELDS)
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
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

    def clean_processing_progress(self):
        value = self.cleaned_data.get("processing_progress")
        if value is not None and not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object, or empty.")
        return value


class DuplicateForm(forms.Form):
    """One name per manifest to copy; blank means "<original> (copy)"."""

    def __init__(self, manifests, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manifests = manifests
        for manifest in manifests:
            self.fields[self.field_name(manifest)] = forms.CharField(
                label=f"Name of the copy of {manifest.name}",
                max_length=Manifest._meta.get_field("name").max_length,
                required=False,
                widget=forms.TextInput(
                    attrs={"size": 50, "placeholder": f"{manifest.name}{services.COPY_SUFFIX}"}
                ),
            )

    @staticmethod
    def field_name(manifest: Manifest) -> str:
        return f"name_{manifest.pk}"

    def rows(self):
        return [(m, self[self.field_name(m)]) for m in self.manifests]

    def name_for(self, manifest: Manifest) -> str:
        return self.cleaned_data[self.field_name(manifest)]


@admin.register(Manifest)
class ManifestAdmin(DomainErrorsAsMessages, admin.ModelAdmin):
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
    search_fields = ["name", "description", "tags"]
    search_help_text = "Name, description or tag."
    date_hierarchy = "updated_at"
    # The total would count deleted rows too, with one more query on a big table.
    show_full_result_count = False
    readonly_fields = [
        "thumbnail_preview",
        "contact_sheet_preview",
        "asset_count",
        "version",
        "times_used",
        "last_used_at",
        "parent_manifest",
        "lineage",
        "created_at",
        "updated_at",
        "deleted_at",
    ]
    actions = [
        "duplicate_selected",
        "render_contact_sheets",
        "soft_delete_selected",
        "restore_selected",
    ]

    def get_fieldsets(self, request, obj=None):
        identity = ("Identity", {"fields": ["name", "description", "category", "tags"]})
        processing = ["status", "processing_progress", "total_processing_cost"]
        if obj is None:
            return [identity, ("Processing", {"fields": processing})]
        return [
            identity,
            (
                "Processing",
                {"fields": [*processing, ("thumbnail_preview", "contact_sheet_preview")]},
            ),
            ("Usage", {"fields": [("asset_count", "version", "times_used", "last_used_at")]}),
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
        copies = Manifest.all_objects.filter(parent_manifest=manifest).count()
        url = reverse("admin:manifests_manifest_lineage", args=[manifest.pk])
        return format_html('{} — <a href="{}">see the lineage</a>', copies, url)

    # --- saving through the domain ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = {f: form.cleaned_data[f] for f in services.MANIFEST_EDITABLE_FIELDS}
        if change:
            changes = {f: data[f] for f in form.changed_data if f in data}
            saved = services.manifest_update(manifest=obj, **changes) if changes else None
        else:
            saved = services.manifest_create(**data)
        if saved is not None:
            adopt(obj, saved)

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

    def delete_model(self, request, obj):
        services.manifest_soft_delete(manifest=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for manifest in queryset:
                services.manifest_soft_delete(manifest=manifest)

    def get_deleted_objects(self, objs, request):
        """What the delete page lists: the manifests themselves (their assets stay with
        them, restorable), or the projects that keep them from being deleted."""
        protected = [
            format_html(
                '<a href="{}">{}</a> (uses “{}”)',
                reverse("admin:manifests_project_change", args=[project.pk]),
                project.name,
                project.manifest.name,
            )
            for project in Project.objects.filter(manifest__in=objs).select_related("manifest")
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

    # --- actions ---------------------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # replaced by the soft delete below
        view = request.GET.get(DeletedFilter.parameter_name)
        if view == DeletedFilter.DELETED:
            actions.pop("duplicate_selected", None)
            actions.pop("render_contact_sheets", None)
            actions.pop("soft_delete_selected", None)
        elif view != DeletedFilter.ALL:
            actions.pop("restore_selected", None)
        return actions

    @admin.action(description="Duplicate selected manifests…", permissions=["add"])
    def duplicate_selected(self, request, queryset):
        manifests = list(queryset.alive())
        if not manifests:
            self.message_user(request, "Deleted manifests cannot be copied.", messages.WARNING)
            return None
        form = DuplicateForm(manifests, request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            copies = [self._duplicate(request, m, form.name_for(m)) for m in manifests]
            copies = [copy for copy in copies if copy is not None]
            if copies:
                self.message_user(
                    request,
                    format_html(
                        "Created {} cop{}: {}",
                        len(copies),
                        "y" if len(copies) == 1 else "ies",
                        format_html_join(", ", '<a href="{}">{}</a>', self._links(copies)),
                    ),
                    messages.SUCCESS,
                )
            return None
        return self._duplicate_page(request, form, selected=manifests)

    @admin.action(description="Render contact sheets of selected manifests", permissions=["change"])
    def render_contact_sheets(self, request, queryset):
        rendered = []
        for manifest in queryset.alive():
            try:
                services.manifest_render_contact_sheet(manifest=manifest)
            except (*DOMAIN_ERRORS, Manifest.DoesNotExist) as exc:
                message = domain_error_message(exc)
                self.message_user(
                    request, f"“{manifest.name}”: no contact sheet: {message}", messages.ERROR
                )
                continue
            self.log_change(request, manifest, "Rendered a new contact sheet.")
            rendered.append(manifest)
        if rendered:
            self.message_user(
                request,
                format_html(
                    "Rendered {} contact sheet(s): {}",
                    len(rendered),
                    format_html_join(", ", '<a href="{}">{}</a>', self._links(rendered)),
                ),
                messages.SUCCESS,
            )

    @admin.action(description="Delete selected manifests (restorable)", permissions=["delete"])
    def soft_delete_selected(self, request, queryset):
        deleted = []
        for manifest in queryset.alive():
            try:
                services.manifest_soft_delete(manifest=manifest)
            except ManifestInUse as exc:
                names = ", ".join(p["name"] for p in exc.projects)
                self.message_user(
                    request,
                    f"“{manifest.name}” was not deleted: projects use it ({names}). "
                    "Unlink those projects first.",
                    messages.ERROR,
                )
                continue
            self.log_change(request, manifest, "Deleted (soft; restorable).")
            deleted.append(manifest)
        if deleted:
            self.message_user(
                request,
                format_html(
                    'Deleted {} manifest(s). They can be restored from the <a href="{}">'
                    "deleted manifests</a>.",
                    len(deleted),
                    reverse("admin:manifests_manifest_changelist") + "?deleted=yes",
                ),
                messages.SUCCESS,
            )

    @admin.action(description="Restore selected manifests", permissions=["delete"])
    def restore_selected(self, request, queryset):
        restored = []
        for manifest in queryset.deleted():
            services.manifest_restore(manifest=manifest)
            self.log_change(request, manifest, "Restored.")
            restored.append(manifest)
        if restored:
            self.message_user(
                request,
                format_html(
                    "Restored {} manifest(s): {}",
                    len(restored),
                    format_html_join(", ", '<a href="{}">{}</a>', self._links(restored)),
                ),
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "None of those manifests was deleted.", messages.WARNING)

    def _duplicate(self, request, manifest: Manifest, name: str) -> Manifest | None:
        try:
            copy = services.manifest_duplicate(manifest=manifest, name=name)
        except (*DOMAIN_ERRORS, Manifest.DoesNotExist) as exc:
            message = domain_error_message(exc)
            self.message_user(request, f"“{manifest.name}” was not copied: {message}", "error")
            return None
        self.log_addition(request, copy, f"Duplicated from “{manifest.name}” ({manifest.pk}).")
        return copy

    @staticmethod
    def _links(manifests):
        return (
            (reverse("admin:manifests_manifest_change", args=[m.pk]), m.name) for m in manifests
        )

    def _duplicate_page(self, request, form: DuplicateForm, *, selected=None, manifest=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Duplicate manifests" if selected else f"Duplicate “{manifest.name}”",
            "opts": self.opts,
            "form": form,
            "selected": selected,
            "original": manifest,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(
            request, "admin/manifests/manifest/duplicate_confirmation.html", context
        )

    # --- pages of one manifest: duplicate, restore, lineage ----------------------------------

    def get_urls(self):
        def view(func):
            return self.admin_site.admin_view(func)

        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/duplicate/",
                view(self.duplicate_view),
                name=f"{info}_duplicate",
            ),
            path(
                "<path:object_id>/restore/",
                view(self.restore_view),
                name=f"{info}_restore",
            ),
            path(
                "<path:object_id>/lineage/",
                view(self.lineage_view),
                name=f"{info}_lineage",
            ),
            *super().get_urls(),
        ]

    def _get_manifest_or_404(self, request, object_id: str) -> Manifest:
        manifest = self.get_object(request, unquote(object_id))
        if manifest is None:
            raise Http404("No manifest matches the given id.")
        return manifest

    def duplicate_view(self, request, object_id):
        manifest = self._get_manifest_or_404(request, object_id)
        if not self.has_add_permission(request) or manifest.is_deleted:
            raise PermissionDenied
        form = DuplicateForm([manifest], request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            copy = self._duplicate(request, manifest, form.name_for(manifest))
            if copy is not None:
                self.message_user(
                    request,
                    f"Created “{copy.name}”, a copy of “{manifest.name}” with its "
                    f"{copy.asset_count} assets.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:manifests_manifest_change", args=[copy.pk])
                )
        return self._duplicate_page(request, form, manifest=manifest)

    @method_decorator(require_POST)
    def restore_view(self, request, object_id):
        manifest = self._get_manifest_or_404(request, object_id)
        if not self.has_delete_permission(request):
            raise PermissionDenied
        if manifest.is_deleted:
            services.manifest_restore(manifest=manifest)
            self.log_change(request, manifest, "Restored.")
            self.message_user(request, f"Restored “{manifest.name}”.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:manifests_manifest_change", args=[manifest.pk]))

    def lineage_view(self, request, object_id):
        manifest = self._get_manifest_or_404(request, object_id)
        if not self.has_view_permission(request, manifest):
            raise PermissionDenied
        ancestors = []
        parent_id, seen = manifest.parent_manifest_id, {manifest.pk}
        while parent_id is not None and parent_id not in seen:
            parent = Manifest.all_objects.filter(pk=parent_id).first()
            if parent is None:
                break
            ancestors.insert(0, parent)
            seen.add(parent.pk)
            parent_id = parent.parent_manifest_id
        copies = Manifest.all_objects.filter(parent_manifest=manifest).order_by("created_at")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lineage of “{manifest.name}”",
            "opts": self.opts,
            "original": manifest,
            "ancestors": ancestors,
            "copies": copies,
        }
        return TemplateResponse(request, "admin/manifests/manifest/lineage.html", context)
