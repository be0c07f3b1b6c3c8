"""The asset and project admins. Pages a curator saves are submitted as they were rendered
(tests/admin_forms.py); lists and hostile requests go through Django's test client."""

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from manifests import services
from manifests.models import Asset, Manifest, Project
from tests.admin_forms import (
    assert_saved,
    form_of,
    form_with_button,
    image_file,
    messages_on,
    press,
    save,
)
from tests.conftest import image_upload, stored_files
from tests.queries import assert_same_query_count, count_queries

ASSETS = reverse("admin:manifests_asset_changelist")
PROJECTS = reverse("admin:manifests_project_changelist")
YES_SURE = "Yes, I\N{RIGHT SINGLE QUOTATION MARK}m sure"  # the stock delete pages' button


def results(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- assets ------------------------------------------------------------------------------


def test_asset_list_shows_preview_tag_type_and_manifest(admin_client, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    hero = make_asset(manifest, "Hero")
    hero = services.asset_attach_image(asset=hero, file=image_upload("hero.png"))

    response = admin_client.get(ASSETS)

    page = response.content.decode()
    assert results(response) == [hero]
    assert f"/media/{hero.thumbnail.name}" in page
    for text in ["CHAR_01", "Character", "Heroes"]:
        assert text in page


def test_asset_list_filters_and_searches(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest, "Hero")
    sword = make_asset(manifest, "Sword", asset_type="OBJECT", source="GENERATED")

    assert results(admin_client.get(ASSETS, {"asset_type__exact": "OBJECT"})) == [sword]
    assert results(admin_client.get(ASSETS, {"source__exact": "GENERATED"})) == [sword]
    assert results(admin_client.get(ASSETS, {"q": "hero"})) == [hero]
    assert results(admin_client.get(ASSETS, {"q": "OBJ_01"})) == [sword]


def test_asset_list_hides_assets_of_deleted_manifests(admin_client, make_manifest, make_asset):
    gone = make_manifest("Old set")
    make_asset(gone)
    services.manifest_soft_delete(manifest=gone)

    assert results(admin_client.get(ASSETS)) == []


def test_asset_list_costs_constant_queries(admin_client, make_manifest, make_asset):
    def cost():
        assert admin_client.get(ASSETS).status_code == 200
        return count_queries(lambda: admin_client.get(ASSETS))

    make_asset(make_manifest("First"))
    few = cost()
    for number in range(10):
        make_asset(make_manifest(f"Set {number}"))

    assert_same_query_count(few, cost())


def test_add_asset_allocates_its_tag_and_counts_it(curator, make_manifest, media_root):
    manifest = make_manifest()
    services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")
    form = form_of(curator.get(reverse("admin:manifests_asset_add")))
    form["manifest"].force_value(str(manifest.pk))  # what the autocomplete picks

    response = press(
        form,
        "_save",
        name="Sidekick",
        asset_type="CHARACTER",
        image=image_file("sidekick.png"),
    )

    assert_saved(response, then=["was added successfully"])
    sidekick = Asset.objects.get(name="Sidekick")
    assert (sidekick.manifest_tag, sidekick.sort_order, sidekick.source) == ("CHAR_02", 1, "UPLOAD")
    manifest.refresh_from_db()
    assert manifest.asset_count == 2
    assert stored_files(media_root) == sorted(
        [f"manifests/{manifest.pk}/uploads/{sidekick.pk}_sidekick.png", sidekick.thumbnail.name]
    )


def test_a_forged_tag_on_the_add_page_is_ignored(admin_client, make_manifest):
    manifest = make_manifest()

    response = admin_client.post(
        reverse("admin:manifests_asset_add"),
        {
            "manifest": str(manifest.pk),
            "name": "Sidekick",
            "asset_type": "CHARACTER",
            "source": "UPLOAD",
            "manifest_tag": "CHAR_99",  # read-only: not a field of the form
        },
    )

    assert response.status_code == 302
    assert Asset.objects.get().manifest_tag == "CHAR_01"


@pytest.mark.parametrize("field, value", [("description", "A knight"), ("name", "Hero II")])
def test_asset_page_saves_one_edited_field(curator, make_manifest, make_asset, field, value):
    manifest = make_manifest()
    hero = make_asset(manifest, user_tags=["brave"])
    services.asset_attach_image(asset=hero, file=image_upload("hero.png"))

    response = save(
        curator.get(reverse("admin:manifests_asset_change", args=[hero.pk])), **{field: value}
    )

    assert_saved(response, then=["was changed successfully"])
    hero.refresh_from_db()
    assert getattr(hero, field) == value
    assert (hero.user_tags, hero.manifest_tag, hero.image_format) == (["brave"], "CHAR_01", "PNG")
    assert Manifest.objects.get().version == 4  # created, asset, image, this change
    # Only the edited field counts as changed: the others came back as they were rendered.
    assert LogEntry.objects.get().get_change_message() == f"Changed {field.capitalize()}."


def test_change_asset_type_renumbers_and_keeps_its_manifest(curator, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    hero = make_asset(manifest)
    page = curator.get(reverse("admin:manifests_asset_change", args=[hero.pk]))

    response = save(page, asset_type="VEHICLE", sort_order="")

    assert "manifest_tag" not in page.context["adminform"].form.fields
    assert "manifest" not in form_of(page).fields  # read-only once created
    assert_saved(response)
    hero.refresh_from_db()
    assert (hero.manifest_tag, hero.manifest_id, hero.sort_order) == ("VEH_01", manifest.pk, 0)
    assert Manifest.objects.get(pk=manifest.pk).version == 3


def test_a_forged_manifest_on_the_asset_page_is_ignored(admin_client, make_manifest, make_asset):
    manifest, other = make_manifest("Heroes"), make_manifest("Others")
    hero = make_asset(manifest)

    response = admin_client.post(
        reverse("admin:manifests_asset_change", args=[hero.pk]),
        {"name": "Hero", "asset_type": "CHARACTER", "source": "UPLOAD", "manifest": str(other.pk)},
    )

    assert response.status_code == 302
    assert Asset.objects.get().manifest_id == manifest.pk


def test_delete_asset_through_the_admin_updates_the_count(curator, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest)
    make_asset(manifest, "Sidekick")

    page = curator.get(reverse("admin:manifests_asset_change", args=[hero.pk]))
    confirm = page.click("Delete", href="delete")
    assert_saved(press(form_with_button(confirm, YES_SURE)), then=["was deleted successfully"])
    listing = form_of(curator.get(ASSETS), "changelist-form")
    listing["_selected_action"] = [str(a.pk) for a in Asset.objects.all()]
    listing["action"] = "delete_selected"
    confirm_bulk = listing.submit("index")
    assert_saved(press(form_with_button(confirm_bulk, YES_SURE)), then=["Successfully deleted 1"])

    assert not Asset.all_objects.exists()
    manifest.refresh_from_db()
    assert manifest.asset_count == 0
    assert manifest.tag_sequences == {"CHAR": 2}  # numbers are never handed out again


# --- projects ----------------------------------------------------------------------------


def test_linking_a_project_pins_the_version_and_counts_the_use(curator, make_manifest):
    manifest = make_manifest()
    services.manifest_update(manifest=manifest, description="v2")
    form = form_of(curator.get(reverse("admin:manifests_project_add")))
    form["manifest"].force_value(str(manifest.pk))  # what the autocomplete picks

    assert_saved(press(form, "_save", name="Pilot"), then=["was added successfully"])

    project = Project.objects.get()
    manifest.refresh_from_db()
    assert (project.manifest_id, project.manifest_version) == (manifest.pk, 2)
    assert manifest.times_used == 1
    assert manifest.last_used_at is not None


def test_relinking_a_project_counts_only_a_real_change(curator, make_manifest):
    first, second = make_manifest("First"), make_manifest("Second")
    project = services.project_create(name="Pilot", manifest=first)
    url = reverse("admin:manifests_project_change", args=[project.pk])

    renamed = save(curator.get(url), name="Pilot 2")
    relink = form_of(curator.get(url))
    relink["manifest"].force_value(str(second.pk))
    relinked = press(relink, "_save")

    assert_saved(renamed)
    assert_saved(relinked)
    project.refresh_from_db()
    assert (project.name, project.manifest_id) == ("Pilot 2", second.pk)
    assert Manifest.objects.get(pk=first.pk).times_used == 1
    assert Manifest.objects.get(pk=second.pk).times_used == 1


def test_a_project_cannot_link_a_deleted_manifest(curator, make_manifest):
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)
    form = form_of(curator.get(reverse("admin:manifests_project_add")))
    form["manifest"].force_value(str(gone.pk))  # picked before it was deleted

    response = press(form, "_save", name="Pilot")

    assert response.status_code == 200
    assert "manifest" in response.context["adminform"].form.errors
    assert not Project.objects.exists()
    assert messages_on(response) == []


def test_manifest_autocomplete_offers_live_manifests_only(admin_client, make_manifest):
    make_manifest("Heroes")
    gone = make_manifest("Heroes, old")
    services.manifest_soft_delete(manifest=gone)

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "manifests",
            "model_name": "project",
            "field_name": "manifest",
            "term": "hero",
        },
    )

    assert response.status_code == 200
    assert [r["text"] for r in json.loads(response.content)["results"]] == ["Heroes"]


def test_project_list_links_its_manifest(admin_client, make_manifest):
    services.project_create(name="Pilot", manifest=make_manifest("Heroes"))

    response = admin_client.get(PROJECTS)

    assert [p.name for p in results(response)] == ["Pilot"]
    assert "Heroes" in response.content.decode()


def test_an_asset_of_a_deleted_manifest_opens_read_only(
    curator, admin_client, make_manifest, make_asset
):
    manifest = make_manifest()
    hero = make_asset(manifest)
    services.manifest_soft_delete(manifest=manifest)
    url = reverse("admin:manifests_asset_change", args=[hero.pk])

    page = curator.get(url)
    edit = admin_client.post(url, {"name": "Changed", "asset_type": "CHARACTER"})

    assert not page.context["has_change_permission"]
    assert not page.html.select("input[name=_save]")
    assert edit.status_code == 403
    assert Asset.all_objects.get(pk=hero.pk).name == "Hero"
