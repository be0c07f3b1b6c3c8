"""Frozen versions in the admin: the manifest page's list of them, one read-only page per
version (its assets with the thumbnails it froze, and what changed since, image beside
image), and "Freeze the current version" as a button and a changelist action, each a call to
`manifests.services`. `ManifestVersionsMixin` goes before `admin.ModelAdmin` in
`ManifestAdmin`'s bases; the diff pieces here serve the project upgrade pages too.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from manifests import services
from manifests.admin.common import DOMAIN_ERRORS, image_tag
from manifests.admin.filters import DeletedFilter
from manifests.exceptions import domain_error_message
from manifests.files import files_storage
from manifests.models import Asset, Manifest, ManifestVersion, Project

VERSION_PREVIEW_PX = 96
PINNING_PROJECTS_SHOWN = 50

ASSET_TYPES = dict(Asset.AssetType.choices)
STATUSES = dict(Manifest.Status.choices)
CATEGORIES = dict(Manifest.Category.choices)


def frozen_preview(asset: dict[str, Any] | None, *, size: int = VERSION_PREVIEW_PX) -> str:
    """An <img> of the thumbnail a frozen (or current) asset record names, else of its
    reference image; a dash without either. The files are the stored ones, by name."""
    if asset is None:
        return "—"
    name = asset.get("thumbnail") or asset.get("reference_image")
    if not name:
        return "—"
    return image_tag(files_storage().url(name), size=size, alt=asset.get("name", ""))


def shown_value(field: str, value: Any) -> str:
    """A field's value as a curator reads it: labels for choices, lists joined, a short
    sha256 (an image change shows as one)."""
    if value is None or value == "" or value == []:
        return "—"
    if field == "image_sha256":
        return f"{value[:12]}…"
    if field == "asset_type":
        return ASSET_TYPES.get(value, value)
    if field == "status":
        return STATUSES.get(value, value)
    if field == "category":
        return CATEGORIES.get(value, value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def field_label(model, field: str) -> str:
    """The field's label; its name when the model no longer has it (old frozen content)."""
    try:
        return str(model._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return field


def asset_row(asset: dict[str, Any]) -> dict[str, Any]:
    """One asset of a content, ready for a template."""
    return {
        "tag": asset["manifest_tag"],
        "name": asset["name"],
        "type": ASSET_TYPES.get(asset["asset_type"], asset["asset_type"]),
        "description": asset["description"],
        "user_tags": ", ".join(asset["user_tags"]),
        "preview": frozen_preview(asset),
    }


@dataclass(frozen=True)
class DiffView:
    """`services.versions_diff` of two contents, laid out for the admin's templates: the
    changed assets carry the image before beside the image after."""

    before_label: str
    after_label: str
    manifest_fields: list[dict[str, str]]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]]

    @property
    def asset_changes(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    @property
    def is_empty(self) -> bool:
        return not (self.asset_changes or self.manifest_fields)

    @property
    def summary(self) -> str:
        return diff_summary(
            self.asset_changes, len(self.added), len(self.removed), len(self.changed)
        )


def diff_summary(total: int, added: int, removed: int, changed: int) -> str:
    noun = "asset" if total == 1 else "assets"
    return f"{total} {noun} changed ({added} added, {removed} removed, {changed} changed)"


def diff_view(
    before: dict[str, Any], after: dict[str, Any], *, before_label: str, after_label: str
) -> DiffView:
    """What changed from the content `before` to `after`, by tag, with their thumbnails."""
    diff = services.versions_diff(before, after)
    old_assets = {asset["manifest_tag"]: asset for asset in before["assets"]}
    new_assets = {asset["manifest_tag"]: asset for asset in after["assets"]}
    changed = [
        {
            "tag": change["tag"],
            "name": change["name"],
            "before": frozen_preview(old_assets[change["tag"]]),
            "after": frozen_preview(new_assets[change["tag"]]),
            "fields": [
                {
                    "label": field_label(Asset, name),
                    "from": shown_value(name, values["from"]),
                    "to": shown_value(name, values["to"]),
                }
                for name, values in change["fields"].items()
            ],
        }
        for change in diff["changed"]
    ]
    return DiffView(
        before_label=before_label,
        after_label=after_label,
        manifest_fields=[
            {
                "label": field_label(Manifest, name),
                "from": shown_value(name, values["from"]),
                "to": shown_value(name, values["to"]),
            }
            for name, values in diff["manifest"].items()
        ],
        added=[asset_row(new_assets[tag]) for tag in diff["added"]],
        removed=[asset_row(old_assets[tag]) for tag in diff["removed"]],
        changed=changed,
    )


def version_url(manifest_id: Any, number: int) -> str:
    return reverse("admin:manifests_manifest_version", args=[manifest_id, number])


def pins_by_number(manifest: Manifest) -> dict[int, int]:
    """How many projects pin each version number of the manifest (one query)."""
    rows = (
        Project.objects.filter(manifest=manifest)
        .order_by()
        .values("manifest_version")
        .annotate(projects=Count("pk"))
    )
    return {row["manifest_version"]: row["projects"] for row in rows}


class ManifestVersionsMixin:
    """ModelAdmin mixin for manifests: the frozen versions' list (a read-only field), the
    version pages, and the freeze button and action."""

    # --- the list on the manifest page -----------------------------------------------------

    @admin.display(description="Frozen versions")
    def frozen_versions(self, manifest: Manifest) -> SafeString:
        versions = ManifestVersion.objects.filter(manifest=manifest).only(
            "manifest_id", "number", "frozen_at", "asset_count"
        )
        pins = pins_by_number(manifest)
        rows = [
            {
                "number": version.number,
                "url": version_url(manifest.pk, version.number),
                "frozen_at": version.frozen_at,
                "asset_count": version.asset_count,
                "projects": pins.get(version.number, 0),
            }
            for version in versions
        ]
        context = {
            "manifest": manifest,
            "rows": rows,
            "current_frozen": any(row["number"] == manifest.version for row in rows),
            "freeze_url": reverse("admin:manifests_manifest_freeze", args=[manifest.pk]),
        }
        return render_to_string("admin/manifests/manifest/frozen_versions.html", context)

    # --- the freeze action -----------------------------------------------------------------

    def get_actions(self, request):
        actions = super().get_actions(request)
        if request.GET.get(DeletedFilter.parameter_name) == DeletedFilter.DELETED:
            actions.pop("freeze_selected", None)
        return actions

    @admin.action(
        description="Freeze the current version of selected manifests", permissions=["change"]
    )
    def freeze_selected(self, request, queryset):
        frozen = []
        skipped = queryset.deleted().count()
        for manifest in queryset.alive():
            version, created = self._freeze(request, manifest)
            if version is not None:
                url = version_url(manifest.pk, version.number)
                note = "" if created else " (frozen already)"
                frozen.append((url, manifest.name, version.number, note))
        if frozen:
            self.message_user(
                request,
                format_html(
                    "Frozen: {}.",
                    format_html_join(", ", '<a href="{}">{} v{}</a>{}', frozen),
                ),
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} deleted manifest(s) skipped: a deleted manifest gets no new version.",
                messages.WARNING,
            )

    def _freeze(self, request, manifest: Manifest) -> tuple[ManifestVersion | None, bool]:
        """Freeze through the domain: the record and whether this call made it (freezing a
        frozen number returns its record); a refusal, e.g. the manifest deleted meanwhile,
        becomes a message and (None, False)."""
        frozen_before = ManifestVersion.objects.filter(
            manifest=manifest, number=manifest.version
        ).exists()
        try:
            version = services.manifest_freeze(manifest=manifest)
        except (*DOMAIN_ERRORS, Manifest.DoesNotExist) as exc:
            message = domain_error_message(exc)
            self.message_user(
                request, f"“{manifest.name}” was not frozen: {message}", messages.ERROR
            )
            return None, False
        created = version.number != manifest.version or not frozen_before
        if created:
            self.log_change(request, manifest, f"Froze version {version.number}.")
        return version, created

    def _get_manifest(self, request, object_id: str) -> Manifest:
        manifest = self.get_object(request, unquote(object_id))
        if manifest is None:
            raise Http404("No manifest matches the given id.")
        return manifest

    # --- pages: one version, and the freeze confirmation -----------------------------------

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/versions/<int:number>/",
                self.admin_site.admin_view(self.version_view),
                name=f"{info}_version",
            ),
            path(
                "<path:object_id>/freeze/",
                self.admin_site.admin_view(self.freeze_view),
                name=f"{info}_freeze",
            ),
            *super().get_urls(),
        ]

    def version_view(self, request, object_id, number):
        """One frozen version, read-only, whatever has happened to the manifest since."""
        manifest = self._get_manifest(request, object_id)
        if not self.has_view_permission(request, manifest):
            raise PermissionDenied
        version = ManifestVersion.objects.filter(manifest=manifest, number=number).first()
        if version is None:
            raise Http404(f"Version {number} of this manifest was never frozen.")
        pinning = Project.objects.filter(manifest=manifest, manifest_version=number)
        current_label = f"now (v{manifest.version}{', deleted' if manifest.is_deleted else ''})"
        context = {
            **self.admin_site.each_context(request),
            "title": f"“{version.fields['name']}”, version {number}",
            "opts": self.opts,
            "original": manifest,
            "version": version,
            "fields": [
                {"label": field_label(Manifest, name), "value": shown_value(name, value)}
                for name, value in version.fields.items()
            ],
            "assets": [asset_row(asset) for asset in version.assets],
            "pinning": list(pinning.only("pk", "name")[:PINNING_PROJECTS_SHOWN]),
            "pinning_count": pinning.count(),
            "diff": diff_view(
                version.content,
                services.manifest_content(manifest),
                before_label=f"v{number} (frozen)",
                after_label=current_label,
            ),
        }
        return TemplateResponse(request, "admin/manifests/manifest/version.html", context)

    def freeze_view(self, request, object_id):
        """GET: what freezing keeps; POST: freeze (idempotent), then back to the manifest."""
        manifest = self._get_manifest(request, object_id)
        change_url = reverse("admin:manifests_manifest_change", args=[manifest.pk])
        if not self.has_change_permission(request):
            raise PermissionDenied
        if manifest.is_deleted:
            self.message_user(
                request,
                f"“{manifest.name}” is deleted: its frozen versions can be read, no new one made.",
                messages.ERROR,
            )
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            version, created = self._freeze(request, manifest)
            if version is not None:
                if created:
                    text = "Froze version {} of “{}”."
                else:
                    text = "Version {} of “{}” was frozen already: nothing changed."
                url = version_url(manifest.pk, version.number)
                self.message_user(
                    request,
                    format_html(
                        text + ' <a href="{}">See it</a>.', version.number, manifest.name, url
                    ),
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(change_url)
        existing = ManifestVersion.objects.filter(
            manifest=manifest, number=manifest.version
        ).first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Freeze version {manifest.version} of “{manifest.name}”",
            "opts": self.opts,
            "original": manifest,
            "existing": existing,
            "existing_url": existing and version_url(manifest.pk, existing.number),
        }
        return TemplateResponse(
            request, "admin/manifests/manifest/freeze_confirmation.html", context
        )
