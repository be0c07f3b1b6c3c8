"""Many images at once on the manifest page: a drop zone (and, without JavaScript, a plain
multiple-file form) that posts to one admin view calling `services.assets_bulk_create`.

The drop zone sits after the page's own form (a form inside a form is not valid HTML).
Without JavaScript the view redirects back to the manifest page with messages; the
script (`manifests/admin/bulk_upload.js`) asks for JSON instead, to show each file's
result, and reloads the page so the inline shows the new assets. `ManifestBulkUploadMixin`
goes before `admin.ModelAdmin` in `ManifestAdmin`'s bases.
"""

from dataclasses import asdict

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from manifests import services
from manifests.admin.common import DOMAIN_ERRORS
from manifests.exceptions import BulkUploadRefused, domain_error_message
from manifests.models import Asset, Manifest
from manifests.services.bulk import RefusedFile

# Messages list at most this many created assets by name (the inline shows them all).
LISTED_ASSETS = 20


class BulkUploadForm(forms.Form):
    asset_type = forms.ChoiceField(choices=Asset.AssetType.choices)


class ManifestBulkUploadMixin:
    """ModelAdmin mixin: the drop zone on the manifest page, and the view it posts to."""

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/bulk-upload/",
                self.admin_site.admin_view(self.bulk_upload_view),
                name=f"{info}_bulk_upload",
            ),
            *super().get_urls(),
        ]

    def can_bulk_upload(self, request, manifest: Manifest) -> bool:
        """Adding assets to a live manifest: the rights to change it and to add assets."""
        add_asset = f"{Asset._meta.app_label}.add_{Asset._meta.model_name}"
        return (
            not manifest.is_deleted
            and self.has_change_permission(request, manifest)
            and request.user.has_perm(add_asset)
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add and self.can_bulk_upload(request, obj):
            context["bulk_upload"] = {
                "url": reverse("admin:manifests_manifest_bulk_upload", args=[obj.pk]),
                "form": BulkUploadForm(auto_id="id_bulk_%s"),
                "max_files": settings.VIDPIPE_BULK_MAX_FILES,
                "max_bytes": settings.VIDPIPE_MAX_UPLOAD_BYTES,
                "max_megabytes": round(settings.VIDPIPE_MAX_UPLOAD_BYTES / 1024 / 1024, 1),
            }
        return super().render_change_form(request, context, add, change, form_url, obj)

    @method_decorator(require_POST)
    def bulk_upload_view(self, request, object_id):
        manifest = self.get_object(request, unquote(object_id))
        if manifest is None:
            raise Http404("No manifest matches the given id.")
        if not self.can_bulk_upload(request, manifest):
            raise PermissionDenied
        wants_json = "application/json" in request.headers.get("Accept", "")
        files = request.FILES.getlist("files")
        form = BulkUploadForm(request.POST)
        created: list[Asset] = []
        refused: list[RefusedFile] = []
        error = None
        if not files:
            error = "Choose one or more images to add."
        elif not form.is_valid():
            error = f"Choose an asset type: {' '.join(form.errors.get('asset_type', []))}"
        else:
            try:
                result = services.assets_bulk_create(
                    manifest=manifest, files=files, asset_type=form.cleaned_data["asset_type"]
                )
            except BulkUploadRefused as refusal:
                refused = refusal.refused
            except (*DOMAIN_ERRORS, Manifest.DoesNotExist) as exc:
                error = domain_error_message(exc)
            else:
                created, refused = result.created, result.refused
        if created or not wants_json:  # the script reloads the page only when it added some
            self._report(request, manifest, created, refused, error)
        if not wants_json:
            return HttpResponseRedirect(
                reverse("admin:manifests_manifest_change", args=[manifest.pk])
            )
        refused_at = {r.index for r in refused}
        created_at = [index for index in range(len(files)) if index not in refused_at]
        return JsonResponse(
            {
                "created": [
                    {"index": index, "tag": asset.manifest_tag, "name": asset.name}
                    for index, asset in zip(created_at, created, strict=False)
                ],
                "refused": [asdict(r) for r in refused],
                "error": error,
            },
            status=201 if created else 400,
        )

    def _report(self, request, manifest, created, refused, error) -> None:
        """The outcome as admin messages (shown after the redirect, or the script's reload)
        and, when assets were added, a history entry."""
        if error:
            self.message_user(request, f"No images were added: {error}", messages.ERROR)
        if created:
            tags = ", ".join(f"{a.manifest_tag} “{a.name}”" for a in created[:LISTED_ASSETS])
            if len(created) > LISTED_ASSETS:
                tags += f" and {len(created) - LISTED_ASSETS} more"
            count = f"{len(created)} asset{'s' if len(created) != 1 else ''}"
            self.message_user(request, f"Added {count} from images: {tags}.", messages.SUCCESS)
            self.log_change(request, manifest, f"Added {count} by bulk upload.")
        elif refused:
            self.message_user(request, "No images were added.", messages.ERROR)
        for refusal in refused:
            self.message_user(
                request, f"“{refusal.file}” was not added: {refusal.reason}", messages.ERROR
            )
