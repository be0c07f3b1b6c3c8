"""What staff do to manifests beyond editing one: the changelist's actions (duplicate,
contact sheets, soft delete, restore) and the pages of one manifest (duplicate, restore,
lineage). `ManifestActionsMixin` goes before `admin.ModelAdmin` in `ManifestAdmin`'s bases.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from manifests import services
from manifests.admin.common import DOMAIN_ERRORS
from manifests.admin.filters import DeletedFilter
from manifests.exceptions import ManifestInUse, domain_error_message
from manifests.models import Manifest


class DuplicateForm(forms.Form):
    """One name per manifest to copy; blank means the proposed name shown as placeholder."""

    def __init__(self, manifests, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.manifests = manifests
        proposed: list[str] = []
        for manifest in manifests:
            # Copies are made in this order: each proposal leaves the earlier ones taken.
            proposed.append(services.manifest_copy_name(manifest=manifest, reserved=proposed))
            self.fields[self.field_name(manifest)] = forms.CharField(
                label=f"Name of the copy of {manifest.name}",
                max_length=Manifest._meta.get_field("name").max_length,
                required=False,
                widget=forms.TextInput(attrs={"size": 50, "placeholder": proposed[-1]}),
            )

    @staticmethod
    def field_name(manifest: Manifest) -> str:
        return f"name_{manifest.pk}"

    def rows(self):
        return [(m, self[self.field_name(m)]) for m in self.manifests]

    def name_for(self, manifest: Manifest) -> str:
        return self.cleaned_data[self.field_name(manifest)]


class ManifestActionsMixin:
    """ModelAdmin mixin: the manifest actions and the pages behind the object-tool buttons,
    each a call to a domain function in `manifests.services`."""

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
        context = {
            **self.admin_site.each_context(request),
            "title": f"Lineage of “{manifest.name}”",
            "opts": self.opts,
            "original": manifest,
            "ancestors": manifest.ancestors(),
            "copies": Manifest.all_objects.copies_of(manifest),
        }
        return TemplateResponse(request, "admin/manifests/manifest/lineage.html", context)
