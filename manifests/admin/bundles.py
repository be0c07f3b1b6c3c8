"""Bundles in the admin: "Export bundle" on the manifest page and as a changelist action
for one manifest, and "Import bundle", an upload page linked from the changelist. Each is a
call to `manifests.services.bundles`. `ManifestBundlesMixin` goes before `admin.ModelAdmin`
in `ManifestAdmin`'s bases.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from manifests import services
from manifests.admin.common import DOMAIN_ERRORS
from manifests.admin.filters import DeletedFilter
from manifests.exceptions import domain_error_message
from manifests.models import Manifest
from manifests.upload_handlers import accept_bundle_upload
from manifests.views.bundles import bundle_response


class BundleImportForm(forms.Form):
    bundle = forms.FileField(
        help_text="A zip made by “Export bundle” (or the API's export): manifest.json and "
        "the images. It becomes a new DRAFT manifest; a bundle that fails any check is "
        "refused as a whole.",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    name = forms.CharField(
        max_length=Manifest._meta.get_field("name").max_length,
        required=False,
        help_text="Name of the new manifest; blank: the bundle's.",
        widget=forms.TextInput(attrs={"size": 50}),
    )


class ManifestBundlesMixin:
    """ModelAdmin mixin: export (a download) and import (an upload page) of bundles."""

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "import-bundle/",
                # CSRF is checked in the view, once the upload's size limit is the bundle's.
                self.admin_site.admin_view(csrf_exempt(self.import_bundle_view)),
                name=f"{info}_import_bundle",
            ),
            path(
                "<path:object_id>/export-bundle/",
                self.admin_site.admin_view(self.export_bundle_view),
                name=f"{info}_export_bundle",
            ),
            *super().get_urls(),
        ]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if request.GET.get(DeletedFilter.parameter_name) == DeletedFilter.DELETED:
            actions.pop("export_bundle", None)  # a deleted manifest is restored first
        return actions

    def _export(self, request, manifest: Manifest):
        """The bundle as a download, or (a missing image) a message and None."""
        try:
            chunks = services.manifest_export(manifest=manifest)
        except DOMAIN_ERRORS as exc:
            self.message_user(
                request,
                f"“{manifest.name}” cannot be exported: {domain_error_message(exc)}",
                messages.ERROR,
            )
            return None
        return bundle_response(chunks, manifest.name, manifest.version)

    def export_bundle_view(self, request, object_id):
        manifest = self._get_manifest_or_404(request, object_id)
        if not self.has_view_permission(request, manifest):
            raise PermissionDenied
        change_url = reverse("admin:manifests_manifest_change", args=[manifest.pk])
        if manifest.is_deleted:
            self.message_user(
                request, f"“{manifest.name}” is deleted: restore it to export it.", messages.ERROR
            )
            return HttpResponseRedirect(change_url)
        return self._export(request, manifest) or HttpResponseRedirect(change_url)

    @admin.action(description="Export the selected manifest as a bundle", permissions=["view"])
    def export_bundle(self, request, queryset):
        manifests = list(queryset.alive()[:2])
        if len(manifests) != 1 or queryset.count() != 1:
            self.message_user(
                request,
                "Select exactly one live manifest to export as a bundle (one zip each).",
                messages.WARNING,
            )
            return None
        return self._export(request, manifests[0])

    @method_decorator(csrf_protect)
    def _import_bundle_page(self, request):
        form = BundleImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        if form.is_bound and form.is_valid():
            try:
                manifest = services.manifest_import(
                    bundle=form.cleaned_data["bundle"], name=form.cleaned_data["name"]
                )
            except DOMAIN_ERRORS as exc:
                form.add_error("bundle", domain_error_message(exc))
            else:
                self.log_addition(request, manifest, "Imported from a bundle.")
                self.message_user(
                    request,
                    format_html(
                        "Imported “{}” with {} assets, a new DRAFT manifest.",
                        manifest.name,
                        manifest.asset_count,
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:manifests_manifest_change", args=[manifest.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Import a bundle",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/manifests/manifest/import_bundle.html", context)

    def import_bundle_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        accept_bundle_upload(request)  # before the CSRF check reads the body
        return self._import_bundle_page(request)
