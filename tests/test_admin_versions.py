"""Frozen versions in the admin: the manifest page's list, the read-only version page with
its thumbnails and the history image beside image, the freeze button and action, and a
project's pin with its "Upgrade to vN" (button and action), each page submitted as rendered."""

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from manifests import services
from manifests.models import Manifest, ManifestVersion, Project
from tests.admin_forms import (
    MANIFEST_CHANGELIST,
    form_of,
    form_with_button,
    manifest_url,
    messages_on,
    press,
)
from tests.conftest import image_upload
from tests.queries import assert_same_query_count, count_queries

PROJECT_CHANGELIST = "/admin/manifests/project/"
FREEZE = "Freeze the current version"


@pytest.fixture
def cast(make_manifest, make_asset):
    """“Villains”: CHAR_01 “Count” with an image, OBJ_01 “Dagger” without."""
    manifest = make_manifest("Villains", category="CHARACTERS", tags=["noir"])
    count = make_asset(manifest, "Count")
    services.asset_attach_image(asset=count, file=image_upload("count.png"))
    make_asset(manifest, "Dagger", asset_type="OBJECT", description="A sharp one")
    return Manifest.objects.get(pk=manifest.pk)


def fresh(manifest: Manifest) -> Manifest:
    return Manifest.all_objects.get(pk=manifest.pk)


def version_page_url(manifest, number) -> str:
    return reverse("admin:manifests_manifest_version", args=[manifest.pk, number])


def project_url(project, page: str = "change") -> str:
    return reverse(f"admin:manifests_project_{page}", args=[project.pk])


def image_src(row) -> str | None:
    img = row.select_one("img")
    return img["src"] if img else None


def row_of(page, table_id_or_class: str, tag: str):
    table = page.html.select_one(f"#{table_id_or_class}, .{table_id_or_class}")
    assert table is not None, f"no table {table_id_or_class}"
    row = table.select_one(f'tr[data-tag="{tag}"]')
    assert row is not None, f"no row {tag} in {table_id_or_class}"
    return row


def cells(row) -> list[str]:
    return [td.get_text(" ", strip=True) for td in row.select("td")]


def thumbnail_url(asset: dict) -> str:
    return default_storage.url(asset["thumbnail"])


def history(cast) -> tuple[ManifestVersion, Manifest]:
    """Freeze the cast, then change it: CHAR_01 gets a new image and a new name, OBJ_01 is
    deleted, ENV_01 is added."""
    frozen = services.manifest_freeze(manifest=cast)
    count, dagger = cast.assets.order_by("sort_order", "created_at")
    services.asset_attach_image(asset=count, file=image_upload("count2.png", color="blue"))
    services.asset_update(asset=count, name="Count Orlok")
    services.asset_delete(asset=dagger)
    services.asset_create(manifest=cast, name="Castle", asset_type="ENVIRONMENT")
    return frozen, fresh(cast)


# --- the manifest page's list -------------------------------------------------------------


def test_manifest_page_lists_frozen_versions_with_their_pins(curator, cast):
    first = services.manifest_freeze(manifest=cast)
    services.project_create(name="Trailer", manifest=cast)
    services.manifest_update(manifest=cast, description="Season 2")
    second = services.manifest_freeze(manifest=fresh(cast))

    page = curator.get(manifest_url(cast))

    rows = page.html.select("#frozen-versions tbody tr")
    assert [cells(row)[0] for row in rows] == [f"v{second.number} (current)", f"v{first.number}"]
    assert [cells(row)[2:] for row in rows] == [["2", "0"], ["2", "1"]]
    links = [row.select_one("a")["href"] for row in rows]
    assert links == [version_page_url(cast, second.number), version_page_url(cast, first.number)]
    assert "is not frozen" not in page.text


def test_manifest_page_offers_to_freeze_an_unfrozen_current_version(curator, cast):
    page = curator.get(manifest_url(cast))

    note = page.html.select_one(".vidpipe-frozen-versions").get_text(" ", strip=True)
    assert "None yet." in note
    assert f"The current version, v{cast.version}, is not frozen" in note


# --- the version page ---------------------------------------------------------------------


def test_version_page_shows_what_was_frozen_with_its_thumbnails(curator, cast):
    frozen, _ = history(cast)
    services.project_create(name="Trailer", manifest=fresh(cast))  # pins the new version

    page = curator.get(version_page_url(cast, frozen.number))

    assert page.status_code == 200
    fields = {
        row.th.get_text(strip=True): row.td.get_text(strip=True)
        for row in page.html.select("#version-fields tr")
    }
    assert fields == {
        "Name": "Villains",
        "Description": "—",
        "Category": "Characters",
        "Tags": "noir",
        "Status": "Draft",
    }
    assets = page.html.select("#version-assets tbody tr")
    assert [cells(row)[1:5] for row in assets] == [
        ["CHAR_01", "Count", "Character", ""],
        ["OBJ_01", "Dagger", "Object", "A sharp one"],
    ]
    count = frozen.assets[0]
    assert image_src(assets[0]) == thumbnail_url(count)
    assert image_src(assets[1]) is None  # the dagger never had an image
    # the frozen thumbnail is still stored, though CHAR_01 has a new image since
    assert default_storage.exists(count["thumbnail"])
    assert "Projects pinning it (0)" in page.text


def test_version_page_shows_the_history_image_beside_image(curator, cast):
    frozen, now = history(cast)
    current = services.manifest_content(now)

    page = curator.get(version_page_url(cast, frozen.number))

    changed = row_of(page, "vidpipe-diff-changed", "CHAR_01")
    before, after = changed.select_one(".vidpipe-before"), changed.select_one(".vidpipe-after")
    assert image_src(before) == thumbnail_url(frozen.assets[0])
    assert image_src(after) == thumbnail_url(current["assets"][0])
    assert image_src(before) != image_src(after)
    what = cells(changed)[3]
    assert "Name: Count → Count Orlok" in what
    assert "Image sha256" in what
    assert cells(row_of(page, "vidpipe-diff-added", "ENV_01"))[2] == "Castle"
    removed = row_of(page, "vidpipe-diff-removed", "OBJ_01")
    assert cells(removed)[2] == "Dagger"
    summary = page.html.select_one(".vidpipe-diff-summary").get_text(" ", strip=True)
    assert "3 assets changed (1 added, 1 removed, 1 changed)" in summary


def test_version_page_of_the_current_content_says_nothing_changed(curator, cast):
    frozen = services.manifest_freeze(manifest=cast)

    page = curator.get(version_page_url(cast, frozen.number))

    assert page.html.select_one(".vidpipe-diff-empty") is not None
    assert page.html.select(".vidpipe-diff-changed") == []


def test_a_version_never_frozen_is_a_404(curator, cast):
    services.manifest_freeze(manifest=cast)

    assert (
        curator.get(version_page_url(cast, cast.version + 5), expect_errors=True).status_code == 404
    )


def test_version_page_costs_constant_queries(curator, make_manifest, make_asset):
    def version_of(size: int) -> str:
        manifest = make_manifest(f"Cast of {size}")
        for number in range(size):
            asset = make_asset(manifest, f"Hero {number}")
            services.asset_attach_image(asset=asset, file=image_upload(f"h{number}.png"))
        frozen = services.manifest_freeze(manifest=fresh(manifest))
        for asset in manifest.assets.all()[: size // 2]:
            services.asset_update(asset=asset, name=f"{asset.name}, renamed")
        services.project_create(name=f"Pilot {size}", manifest=fresh(manifest))
        return version_page_url(manifest, frozen.number)

    small, large = version_of(2), version_of(12)
    curator.get(small)  # warm the session and the content types

    assert_same_query_count(
        count_queries(lambda: curator.get(small)), count_queries(lambda: curator.get(large))
    )


# --- freezing -------------------------------------------------------------------------------


def test_freeze_button_asks_then_freezes_and_is_idempotent(curator, cast):
    confirm = curator.get(manifest_url(cast)).click(description=FREEZE)
    assert f"Freeze version {cast.version} of “Villains”?" in confirm.text

    response = press(form_with_button(confirm, FREEZE))
    first = messages_on(response.follow())
    confirm_again = curator.get(manifest_url(cast)).click(description=FREEZE)
    again = messages_on(press(form_with_button(confirm_again, FREEZE)).follow())

    assert any(f"Froze version {cast.version} of “Villains”." in m for m in first)
    assert any("was frozen already: nothing changed" in m for m in again)
    assert list(ManifestVersion.objects.values_list("number", flat=True)) == [cast.version]


def test_freeze_page_of_a_frozen_version_says_so(curator, cast):
    frozen = services.manifest_freeze(manifest=cast)

    page = curator.get(manifest_url(cast, "freeze"))

    assert f"Version {frozen.number} of “Villains” is frozen already" in page.text
    assert page.html.select_one(f'a[href="{version_page_url(cast, frozen.number)}"]') is not None


def run_action(curator, changelist, name, objects, query=""):
    page = curator.get(changelist + query)
    form = form_of(page, "changelist-form")
    form["_selected_action"] = [str(obj.pk) for obj in objects]
    form["action"] = name
    return form.submit("index")


def test_freeze_action_freezes_each_selected_manifest(curator, cast, make_manifest):
    forests = make_manifest("Forests")
    services.manifest_freeze(manifest=forests)

    response = run_action(curator, MANIFEST_CHANGELIST, "freeze_selected", [cast, forests])

    assert response.status_code == 302
    [message] = messages_on(response.follow())
    assert message.startswith("Frozen:")
    assert f"Villains v{cast.version}" in message
    assert "Forests v1 (frozen already)" in message
    assert ManifestVersion.objects.filter(manifest=cast, number=cast.version).exists()
    assert ManifestVersion.objects.count() == 2


def test_a_deleted_manifest_keeps_readable_versions_and_no_freeze(curator, cast):
    frozen = services.manifest_freeze(manifest=cast)
    services.manifest_update(manifest=cast, description="Season 2")
    services.manifest_soft_delete(manifest=cast)

    version_page = curator.get(version_page_url(cast, frozen.number))
    change_page = curator.get(manifest_url(cast))
    refused = messages_on(curator.get(manifest_url(cast, "freeze")).follow())
    forced = curator.post(
        manifest_url(cast, "freeze"), {"csrfmiddlewaretoken": curator.cookies["csrftoken"]}
    )
    forced_messages = messages_on(forced.follow())
    offered = form_of(curator.get(MANIFEST_CHANGELIST + "?deleted=yes"), "changelist-form")

    assert version_page.status_code == 200
    assert "This manifest was deleted" in version_page.text
    assert [cells(row)[1] for row in version_page.html.select("#version-assets tbody tr")] == [
        "CHAR_01",
        "OBJ_01",
    ]
    assert FREEZE not in change_page.text
    assert "freeze it" not in change_page.text
    assert change_page.html.select_one(f'a[href="{version_page_url(cast, frozen.number)}"]')
    assert forced.status_code == 302
    for messages in (refused, forced_messages):
        assert any("is deleted: its frozen versions can be read" in m for m in messages)
    assert "freeze_selected" not in [value for value, *_ in offered["action"].options]
    assert ManifestVersion.objects.count() == 1


def test_freeze_action_skips_deleted_manifests_with_a_message(curator, cast, make_manifest):
    gone = make_manifest("Gone")
    services.manifest_soft_delete(manifest=gone)

    response = run_action(
        curator, MANIFEST_CHANGELIST, "freeze_selected", [cast, gone], query="?deleted=all"
    )

    messages = messages_on(response.follow())
    assert any(m.startswith("Frozen: Villains") for m in messages)
    assert any("1 deleted manifest(s) skipped" in m for m in messages)
    assert not ManifestVersion.objects.filter(manifest=gone).exists()


# --- a project's pin and its upgrade --------------------------------------------------------


def pinned_project(cast) -> tuple[Project, ManifestVersion, Manifest]:
    """A project pinning the cast, which then changes (see `history`)."""
    project = services.project_create(name="Trailer", manifest=cast)
    frozen = ManifestVersion.objects.get(manifest=cast, number=project.manifest_version)
    _, now = history(fresh(cast))
    return project, frozen, now


def test_project_page_shows_the_pin_and_what_changed_since(curator, cast):
    project, frozen, now = pinned_project(cast)

    page = curator.get(project_url(project))

    field = page.html.select_one(".field-pinned_version").get_text(" ", strip=True)
    assert f"v{frozen.number} , frozen" in field
    assert "3 assets changed (1 added, 1 removed, 1 changed)" in field
    assert f"the manifest is at v{now.version}" in field
    assert page.html.select_one(f'a[href="{version_page_url(cast, frozen.number)}"]')
    tools = page.html.select_one(".object-tools").get_text(" ", strip=True)
    assert f"Upgrade to v{now.version}" in tools


def test_an_up_to_date_project_offers_no_upgrade(curator, cast):
    project = services.project_create(name="Trailer", manifest=cast)

    page = curator.get(project_url(project))

    assert "0 assets changed" in page.html.select_one(".field-pinned_version").text
    assert "Upgrade to" not in page.text


def test_upgrade_button_shows_the_diff_then_repins(curator, cast):
    project, frozen, now = pinned_project(cast)
    label = f"Upgrade to v{now.version}"

    confirm = curator.get(project_url(project)).click(description=label, index=0)
    changed = row_of(confirm, "vidpipe-diff-changed", "CHAR_01")
    assert image_src(changed.select_one(".vidpipe-before")) == thumbnail_url(frozen.assets[0])
    assert row_of(confirm, "vidpipe-diff-added", "ENV_01")
    assert row_of(confirm, "vidpipe-diff-removed", "OBJ_01")
    assert Project.objects.get().manifest_version == frozen.number  # nothing yet

    response = press(form_with_button(confirm, label))

    assert response.status_code == 302
    assert messages_on(response.follow())[0] == (
        f"“Trailer” now pins v{now.version} (was v{frozen.number}): 1 added, 1 removed, 1 changed."
    )
    assert Project.objects.get().manifest_version == now.version
    assert ManifestVersion.objects.filter(manifest=cast, number=now.version).exists()


def test_upgrade_is_refused_when_the_manifest_moved_on_since_the_page(curator, cast):
    project, frozen, now = pinned_project(cast)
    confirm = curator.get(project_url(project, "upgrade"))
    services.manifest_update(manifest=now, description="Later still")

    response = press(form_with_button(confirm, f"Upgrade to v{now.version}"))

    assert response.status_code == 200  # the page again, with the newer diff
    assert any("changed since the page was shown" in m for m in messages_on(response))
    assert f"Upgrade to v{now.version + 1}" in response.text
    assert Project.objects.get().manifest_version == frozen.number


@pytest.mark.parametrize("case", ["no manifest", "deleted manifest", "up to date"])
def test_upgrade_refusals_are_messages(curator, cast, case):
    project = services.project_create(name="Trailer", manifest=cast)
    if case == "no manifest":
        project = services.project_update(project=project, manifest=None)
    elif case == "deleted manifest":
        services.manifest_update(manifest=cast, description="Season 2")
        # Deleted behind the domain's back (it refuses while projects use the manifest).
        Manifest.all_objects.filter(pk=cast.pk).update(deleted_at=timezone.now())
    pinned = Project.objects.get().manifest_version

    page = curator.get(project_url(project))
    response = curator.get(project_url(project, "upgrade"))

    assert page.status_code == 200
    assert "Upgrade to" not in page.text
    assert response.status_code == 302
    expected = {
        "no manifest": "linked to no manifest",
        "deleted manifest": "which is deleted",
        "up to date": "the manifest's current version already",
    }[case]
    assert any(expected in m for m in messages_on(response.follow()))
    assert Project.objects.get().manifest_version == pinned


def test_upgrade_action_confirms_each_projects_diff_then_repins(curator, cast, make_manifest):
    project, frozen, now = pinned_project(cast)
    loose = services.project_create(name="Loose")

    confirm = run_action(curator, PROJECT_CHANGELIST, "upgrade_selected", [project, loose])

    rows = {cells(row)[0]: cells(row) for row in confirm.html.select("#upgrade-projects tbody tr")}
    assert rows["Trailer"][2:] == [
        f"v{frozen.number}",
        f"v{now.version}",
        "3 assets changed (1 added, 1 removed, 1 changed)",
    ]
    assert "linked to no manifest" in rows["Loose"][4]
    assert Project.objects.get(pk=project.pk).manifest_version == frozen.number

    response = press(form_with_button(confirm, "Upgrade 1 project(s)"))

    assert response.status_code == 302
    messages = messages_on(response.follow())
    assert any(m.startswith(f"“Trailer” now pins v{now.version}") for m in messages)
    assert any("“Loose” is linked to no manifest" in m for m in messages)
    assert "Upgraded 1 project(s)." in messages
    assert Project.objects.get(pk=project.pk).manifest_version == now.version
    assert Project.objects.get(pk=loose.pk).manifest_version is None


def test_a_pin_made_before_versions_were_frozen_can_be_upgraded(curator, cast):
    project = services.project_create(name="Trailer", manifest=cast)
    # As a pin from before frozen versions existed: nothing behind its number.
    ManifestVersion.objects.all().delete()
    services.manifest_update(manifest=cast, description="Season 2")
    now = fresh(cast)

    page = curator.get(project_url(project))
    confirm = page.click(description=f"Upgrade to v{now.version}", index=0)
    response = press(form_with_button(confirm, f"Upgrade to v{now.version}"))

    assert "pinned before versions were frozen" in page.text
    assert "was never frozen" in confirm.text
    assert messages_on(response.follow())[0] == (
        f"“Trailer” now pins v{now.version} (was an unfrozen pin)."
    )
