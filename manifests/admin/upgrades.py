"""A project's pin in the admin: the pinned version (a link to its page) and how much has
changed since, and "Upgrade to vN", which shows the diff before it calls
`services.project_upgrade`, for one project (a button) or several (a changelist action).
`ProjectUpgradesMixin` goes before `admin.ModelAdmin` in `ProjectAdmin`'s bases.
"""

from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from manifests import services
from manifests.admin.common import DOMAIN_ERRORS
from manifests.admin.versions import DiffView, diff_view, version_url
from manifests.exceptions import domain_error_message
from manifests.models import Manifest, ManifestVersion, Project


@dataclass(frozen=True)
class Pin:
    """Where a project's pin stands: its frozen version (None for a pin made before
    versions were frozen), the manifest's current version, and the diff between them."""

    project: Project
    manifest: Manifest | None
    pinned: ManifestVersion | None
    diff: DiffView | None

    @property
    def target(self) -> int | None:
        """The version an upgrade pins: the manifest's current one."""
        return None if self.manifest is None else self.manifest.version

    @property
    def refusal(self) -> str | None:
        """Why the project cannot be upgraded, or None."""
        name = self.project.name
        if self.manifest is None:
            return f"“{name}” is linked to no manifest: there is nothing to upgrade."
        if self.manifest.is_deleted:
            return (
                f"“{name}” pins “{self.manifest.name}”, which is deleted: its versions can be "
                "read, and no new one pinned."
            )
        if self.pinned is not None and self.pinned.number == self.target:
            return f"“{name}” pins v{self.target}, the manifest's current version already."
        return None


def pin_of(project: Project) -> Pin:
    """The project's pin against its manifest's current content (a few queries, whatever
    the number of assets)."""
    manifest = project.manifest  # a deleted one too: relations see every row
    if manifest is None:
        return Pin(project=project, manifest=None, pinned=None, diff=None)
    pinned = ManifestVersion.objects.filter(
        manifest=manifest, number=project.manifest_version
    ).first()
    diff = None
    if pinned is not None:
        diff = diff_view(
            pinned.content,
            services.manifest_content(manifest),
            before_label=f"v{pinned.number} (pinned)",
            after_label=f"v{manifest.version} (current)",
        )
    return Pin(project=project, manifest=manifest, pinned=pinned, diff=diff)


def target_field(project: Project) -> str:
    """The confirmation form's field holding the version the curator saw for a project."""
    return f"to_version_{project.pk}"


class ProjectUpgradesMixin:
    """ModelAdmin mixin for projects: the pinned version (a read-only field), the upgrade
    page behind the "Upgrade to vN" button, and the same as a changelist action."""

    @admin.display(description="Pinned version")
    def pinned_version(self, project: Project) -> SafeString | str:
        pin = pin_of(project)
        if pin.manifest is None:
            return "—"
        if pin.pinned is None:
            pinned = format_html(
                "v{} (pinned before versions were frozen)", project.manifest_version
            )
        else:
            pinned = format_html(
                '<a href="{}">v{}</a>, frozen {}',
                version_url(pin.manifest.pk, pin.pinned.number),
                pin.pinned.number,
                pin.pinned.frozen_at.date(),
            )
        if pin.diff is not None:
            since = format_html(
                "; since then {} (the manifest is at v{})", pin.diff.summary, pin.target
            )
        else:
            since = format_html("; the manifest is at v{}", pin.target)
        upgrade = ""
        if pin.refusal is None:
            upgrade = format_html(
                ' <a class="button" href="{}">Upgrade to v{}</a>',
                reverse("admin:manifests_project_upgrade", args=[project.pk]),
                pin.target,
            )
        elif pin.manifest.is_deleted:
            upgrade = " (the manifest is deleted)"
        return format_html("{}{}.{}", pinned, since, upgrade)

    # --- one project: the upgrade page -------------------------------------------------------

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/upgrade/",
                self.admin_site.admin_view(self.upgrade_view),
                name=f"{info}_upgrade",
            ),
            *super().get_urls(),
        ]

    def upgrade_view(self, request, object_id):
        """GET: the diff from the pinned version to the current one; POST: re-pin."""
        project = self.get_object(request, unquote(object_id))
        if project is None:
            raise Http404("No project matches the given id.")
        if not self.has_change_permission(request, project):
            raise PermissionDenied
        change_url = reverse("admin:manifests_project_change", args=[project.pk])
        pin = pin_of(project)
        if pin.refusal is not None:
            self.message_user(request, pin.refusal, messages.ERROR)
            return HttpResponseRedirect(change_url)
        if request.method == "POST" and self._seen_target(request, pin):
            self._upgrade(request, project, pin.target)
            return HttpResponseRedirect(change_url)
        return self._confirmation_page(request, [pin], single=True)

    # --- several projects: the changelist action --------------------------------------------

    @admin.action(
        description="Upgrade selected projects to their manifests' current versions…",
        permissions=["change"],
    )
    def upgrade_selected(self, request, queryset):
        pins = [pin_of(project) for project in queryset.select_related("manifest")]
        if "post" not in request.POST:
            return self._confirmation_page(request, pins, single=False)
        upgraded = 0
        for pin in pins:
            if pin.refusal is not None:
                self.message_user(request, pin.refusal, messages.WARNING)
            elif self._seen_target(request, pin):
                upgraded += self._upgrade(request, pin.project, pin.target) is not None
        if upgraded:
            self.message_user(request, f"Upgraded {upgraded} project(s).", messages.SUCCESS)
        return None

    # --- shared ------------------------------------------------------------------------------

    def _seen_target(self, request, pin: Pin) -> bool:
        """Whether the confirmation the curator saw pins the manifest's current version;
        when the manifest moved on meanwhile, say so (the page shows the new diff)."""
        seen = request.POST.get(target_field(pin.project), "")
        if seen == str(pin.target):
            return True
        self.message_user(
            request,
            f"“{pin.manifest.name}” changed since the page was shown (v{seen or '?'} → "
            f"v{pin.target}): “{pin.project.name}” was not upgraded. Check the changes again.",
            messages.WARNING,
        )
        return False

    def _upgrade(self, request, project: Project, seen: int):
        try:
            # `seen`: the version whose diff the curator confirmed; checked under the lock.
            upgrade = services.project_upgrade(project=project, expected_version=seen)
        except (*DOMAIN_ERRORS, Manifest.DoesNotExist) as exc:
            message = domain_error_message(exc)
            self.message_user(
                request, f"“{project.name}” was not upgraded: {message}", messages.ERROR
            )
            return None
        before = "an unfrozen pin" if upgrade.before is None else f"v{upgrade.before.number}"
        text = f"“{project.name}” now pins v{upgrade.after.number} (was {before})"
        if upgrade.diff is not None:
            added, removed = len(upgrade.diff["added"]), len(upgrade.diff["removed"])
            changed = len(upgrade.diff["changed"])
            text += f": {added} added, {removed} removed, {changed} changed"
        self.log_change(request, project, f"Upgraded to v{upgrade.after.number} (was {before}).")
        self.message_user(request, text + ".", messages.SUCCESS)
        return upgrade

    def _confirmation_page(self, request, pins: list[Pin], *, single: bool):
        project = pins[0].project if single else None
        context = {
            **self.admin_site.each_context(request),
            "title": (
                f"Upgrade “{project.name}” to v{pins[0].target}" if single else "Upgrade projects"
            ),
            "opts": self.opts,
            "original": project,
            "single": single,
            "rows": [
                {"pin": pin, "field": target_field(pin.project), "refusal": pin.refusal}
                for pin in pins
            ],
            "upgradable": [pin for pin in pins if pin.refusal is None],
            "diff": pins[0].diff if single else None,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/manifests/project/upgrade_confirmation.html", context
        )
