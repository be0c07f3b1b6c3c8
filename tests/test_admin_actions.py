"""What curators do to manifests beyond editing one: the changelist's actions, and the
duplicate, delete, restore and lineage pages, each submitted as rendered."""

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from manifests import services
from manifests.models import Asset, Manifest
from tests.admin_forms import (
    MANIFEST_CHANGELIST,
    assert_saved,
    change_page,
    form_of,
    form_with_button,
    manifest_url,
    messages_on,
    press,
)
from tests.conftest import image_upload

# --- actions and the pages behind them ------------------------------------------------------


def run_action(curator, name, manifests, view=None):
    """Tick `manifests` on the changelist, pick the action `name` and press Go."""
    page = curator.get(MANIFEST_CHANGELIST + (f"?deleted={view}" if view else ""))
    form = form_of(page, "changelist-form")
    form["_selected_action"] = [str(m.pk) for m in manifests]
    form["action"] = name
    return form.submit("index")


def test_actions_depend_on_the_view(curator, make_manifest):
    make_manifest()

    def offered(view=None):
        page = curator.get(MANIFEST_CHANGELIST, {"deleted": view} if view else {})
        return [value for value, *_ in form_of(page, "changelist-form")["action"].options][1:]

    live = [
        "duplicate_selected",
        "render_contact_sheets",
        "freeze_selected",
        "export_bundle",
        "soft_delete_selected",
    ]
    assert offered() == live
    assert offered("yes") == ["restore_selected"]
    assert offered("all") == [*live, "restore_selected"]


def test_duplicate_action_asks_for_names_then_copies(curator, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes, "Hero")
    forests = make_manifest("Forests")

    page = run_action(curator, "duplicate_selected", [heroes, forests])
    assert not Manifest.objects.filter(parent_manifest__isnull=False).exists()
    field = form_of(page, "duplicate-form")[f"name_{heroes.pk}"]
    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "Heroes v2"})

    assert "Name of the copy" in page.text
    assert field.attrs["placeholder"] == "Heroes (copy)"
    copies = {m.name: m for m in Manifest.objects.filter(parent_manifest__isnull=False)}
    assert set(copies) == {"Heroes v2", "Forests (copy)"}
    assert copies["Heroes v2"].parent_manifest == heroes
    assert copies["Heroes v2"].asset_count == 1
    assert Asset.objects.get(manifest=copies["Heroes v2"]).manifest_tag == "CHAR_01"
    assert any("Created 2 copies" in m for m in messages_on(response.follow()))


def test_duplicate_page_shows_the_name_the_copy_will_get(curator, make_manifest):
    villains = make_manifest("Villains")
    services.manifest_duplicate(manifest=villains)

    page = curator.get(reverse("admin:manifests_manifest_duplicate", args=[villains.pk]))
    form = form_with_button(page, "Duplicate")
    response = press(form)  # the name left blank

    assert form[f"name_{villains.pk}"].attrs["placeholder"] == "Villains (copy 2)"
    assert response.location.endswith(manifest_url(Manifest.objects.get(name="Villains (copy 2)")))


def test_duplicate_action_proposes_distinct_names_for_copies_of_one_original(
    curator, make_manifest
):
    villains = make_manifest("Villains")
    first_copy = services.manifest_duplicate(manifest=villains)
    selected = [villains, first_copy]

    page = run_action(curator, "duplicate_selected", selected)
    form = form_with_button(page, "Duplicate")
    shown = {m.pk: form[f"name_{m.pk}"].attrs["placeholder"] for m in selected}
    press(form)  # every name left blank

    assert sorted(shown.values()) == ["Villains (copy 2)", "Villains (copy 3)"]
    made = dict(
        Manifest.objects.filter(name__in=shown.values()).values_list("parent_manifest", "name")
    )
    assert made == shown


def test_duplicate_action_refuses_a_too_long_name(curator, make_manifest):
    heroes = make_manifest("Heroes")
    page = run_action(curator, "duplicate_selected", [heroes])

    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "x" * 201})

    assert "at most 200 characters" in response.text
    assert Manifest.objects.count() == 1


def test_duplicate_button_on_the_change_form(curator, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes)

    page = change_page(curator, heroes).click("Duplicate", href="duplicate")
    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "Heroes, night"})

    copy = Manifest.objects.get(name="Heroes, night")
    assert_saved(response, then=["a copy of “Heroes” with its 1 assets"])
    assert response.location.endswith(manifest_url(copy))
    assert (copy.parent_manifest_id, copy.asset_count, copy.version) == (heroes.pk, 1, 1)


def test_duplicate_page_submitted_blank_uses_the_default_name(curator, make_manifest):
    heroes = make_manifest("Heroes")
    page = curator.get(reverse("admin:manifests_manifest_duplicate", args=[heroes.pk]))

    assert_saved(press(form_with_button(page, "Duplicate")))

    assert Manifest.objects.filter(name="Heroes (copy)", parent_manifest=heroes).exists()


def test_soft_delete_action_deletes_free_manifests_and_refuses_used_ones(curator, make_manifest):
    free = make_manifest("Free")
    used = make_manifest("Used")
    services.project_create(name="Pilot episode", manifest=used)

    response = run_action(curator, "soft_delete_selected", [free, used]).follow()

    assert Manifest.deleted_objects.get() == free
    assert Manifest.objects.get() == used
    texts = messages_on(response)
    assert any("Deleted 1 manifest" in m for m in texts)
    assert any("“Used” was not deleted" in m and "Pilot episode" in m for m in texts)


def test_the_stock_bulk_delete_is_not_offered(admin_client, make_manifest):
    manifest = make_manifest()

    response = admin_client.post(
        MANIFEST_CHANGELIST,
        {"action": "delete_selected", helpers.ACTION_CHECKBOX_NAME: [str(manifest.pk)]},
        follow=True,
    )

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert "No action selected" in str([str(m) for m in response.context["messages"]])


def test_delete_button_soft_deletes(curator, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    make_asset(manifest)

    page = change_page(curator, manifest).click("Delete", href="delete")
    response = press(form_with_button(page, "Yes, delete it"))

    assert "can be" in page.text and "restored" in page.text
    gone = Manifest.all_objects.get(pk=manifest.pk)
    assert gone.deleted_at is not None
    assert Asset.all_objects.filter(manifest=gone).count() == 1  # nothing removed
    assert any("restored" in m for m in messages_on(response.follow()))


def test_delete_button_refuses_a_manifest_that_projects_use(curator, make_manifest):
    manifest = make_manifest("Heroes")
    services.project_create(name="Pilot episode", manifest=manifest)

    page = curator.get(reverse("admin:manifests_manifest_delete", args=[manifest.pk]))

    assert "cannot be deleted" in page.text
    assert "Pilot episode" in page.text
    assert not page.html.select("#content form input[type=submit]")
    assert Manifest.objects.filter(pk=manifest.pk).exists()


def test_restore_action_in_the_deleted_view(curator, make_manifest):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)

    response = run_action(curator, "restore_selected", [manifest], view="yes").follow()

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert any("Restored 1 manifest" in m for m in messages_on(response))


def test_deleted_manifest_opens_read_only_with_a_restore_button(
    curator, admin_client, make_manifest
):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)
    restore = reverse("admin:manifests_manifest_restore", args=[manifest.pk])

    page = change_page(curator, manifest)
    forged_edit = admin_client.post(manifest_url(manifest), {"name": "Changed"})
    by_get = admin_client.get(restore)
    restored = press(form_with_button(page, "Restore this manifest"), "_restore")

    assert "This manifest was deleted" in page.text
    assert not page.context["has_change_permission"]
    assert not page.html.select("input[name=_save]")
    assert forged_edit.status_code == 403
    assert by_get.status_code == 405
    assert_saved(restored, then=["Restored “Heroes”"])
    manifest.refresh_from_db()
    assert (manifest.deleted_at, manifest.name) == (None, "Heroes")


def test_lineage_page_shows_parent_and_copies(curator, make_manifest):
    original = make_manifest("Heroes")
    copy = services.manifest_duplicate(manifest=original)
    grandchild = services.manifest_duplicate(manifest=copy, name="Heroes v3")
    services.manifest_soft_delete(manifest=grandchild)

    response = change_page(curator, copy).click("Lineage", href="lineage")

    assert list(response.context["ancestors"]) == [original]
    assert list(response.context["copies"]) == [grandchild]
    assert response.click("Heroes v3").status_code == 200
    assert manifest_url(original) in response.text
    assert "deleted" in response.text


@pytest.mark.parametrize("view", ["duplicate", "lineage", "restore"])
def test_pages_of_an_unknown_manifest_are_404(admin_client, view):
    url = reverse(f"admin:manifests_manifest_{view}", args=["00000000-0000-0000-0000-000000000000"])

    response = admin_client.post(url) if view == "restore" else admin_client.get(url)

    assert response.status_code == 404


def test_a_viewer_cannot_duplicate_delete_or_restore(client, make_manifest):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_manifest"))
    client.force_login(viewer)
    live, gone = make_manifest("Live"), make_manifest("Gone")
    services.manifest_soft_delete(manifest=gone)

    offered = client.get(MANIFEST_CHANGELIST, {"deleted": "all"}).context["action_form"]
    duplicate = client.post(reverse("admin:manifests_manifest_duplicate", args=[live.pk]))
    restore = client.post(reverse("admin:manifests_manifest_restore", args=[gone.pk]))
    client.post(
        MANIFEST_CHANGELIST,
        {"action": "soft_delete_selected", helpers.ACTION_CHECKBOX_NAME: [str(live.pk)]},
    )

    # Exporting a bundle is reading: the one action a viewer is offered.
    assert [value for value, _ in offered.fields["action"].choices][1:] == ["export_bundle"]
    assert (duplicate.status_code, restore.status_code) == (403, 403)
    assert Manifest.objects.filter(pk=live.pk).exists()
    assert Manifest.deleted_objects.filter(pk=gone.pk).exists()


def test_render_contact_sheets_action(curator, make_manifest, make_asset):
    with_image = make_manifest("Cast")
    services.asset_attach_image(asset=make_asset(with_image), file=image_upload())
    without = make_manifest("Empty")

    response = run_action(curator, "render_contact_sheets", [with_image, without]).follow()

    texts = messages_on(response)
    assert any("Rendered 1 contact sheet" in t for t in texts)
    assert any("“Empty”: no contact sheet" in t for t in texts)
    with_image.refresh_from_db()
    assert with_image.contact_sheet.name.startswith(f"manifests/{with_image.pk}/contact_sheets/")
    assert not Manifest.objects.get(pk=without.pk).contact_sheet
