"""The asset and project admins, through Django's test client."""

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from manifests import services
from manifests.models import Asset, Manifest, Project
from tests.conftest import image_upload, stored_files

ASSETS = reverse("admin:manifests_asset_changelist")
PROJECTS = reverse("admin:manifests_project_changelist")


def asset_fields(asset=None, **changes) -> dict:
    fields = {
        "name": "",
        "asset_type": "",
        "description": "",
        "user_tags": "",
        "source": "UPLOAD",
        "sort_order": "",
    }
    if asset is not None:
        fields.update(
            name=asset.name,
            asset_type=asset.asset_type,
            description=asset.description,
            user_tags=", ".join(asset.user_tags),
            source=asset.source,
            sort_order=str(asset.sort_order),
        )
    return {**fields, **changes}


def results(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- assets ------------------------------------------------------------------------------


def test_asset_list_shows_preview_tag_type_and_manifest(admin_client, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    hero = make_asset(manifest, "Hero")
    services.asset_attach_image(asset=hero, file=image_upload("hero.png"))

    response = admin_client.get(ASSETS)

    page = response.content.decode()
    assert results(response) == [hero]
    assert f"/media/manifests/{manifest.pk}/uploads/{hero.pk}_hero.png" in page
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
        admin_client.get(ASSETS)
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(ASSETS).status_code == 200
        return len(queries)

    make_asset(make_manifest("First"))
    few = cost()
    for number in range(10):
        make_asset(make_manifest(f"Set {number}"))

    assert cost() == few


def test_add_asset_allocates_its_tag_and_counts_it(admin_client, make_manifest, media_root):
    manifest = make_manifest()
    services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")

    response = admin_client.post(
        reverse("admin:manifests_asset_add"),
        asset_fields(
            manifest=str(manifest.pk),
            name="Sidekick",
            asset_type="CHARACTER",
            manifest_tag="CHAR_99",  # read-only: ignored
            image=image_upload("sidekick.png"),
        ),
    )

    assert response.status_code == 302
    sidekick = Asset.objects.get(name="Sidekick")
    assert (sidekick.manifest_tag, sidekick.sort_order) == ("CHAR_02", 1)
    manifest.refresh_from_db()
    assert manifest.asset_count == 2
    assert stored_files(media_root) == [
        f"manifests/{manifest.pk}/uploads/{sidekick.pk}_sidekick.png"
    ]


def test_change_asset_type_renumbers_and_keeps_its_manifest(
    admin_client, make_manifest, make_asset
):
    manifest, other = make_manifest("Heroes"), make_manifest("Others")
    hero = make_asset(manifest)
    url = reverse("admin:manifests_asset_change", args=[hero.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url, asset_fields(hero, asset_type="VEHICLE", manifest=str(other.pk), sort_order="")
    )

    assert "manifest_tag" not in page.context["adminform"].form.fields
    assert "manifest" not in page.context["adminform"].form.fields
    assert response.status_code == 302
    hero.refresh_from_db()
    assert (hero.manifest_tag, hero.manifest_id, hero.sort_order) == ("VEH_01", manifest.pk, 0)
    assert Manifest.objects.get(pk=manifest.pk).version == 3


def test_delete_asset_through_the_admin_updates_the_count(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest)
    make_asset(manifest, "Sidekick")

    response = admin_client.post(
        reverse("admin:manifests_asset_delete", args=[hero.pk]), {"post": "yes"}
    )
    bulk = admin_client.post(
        ASSETS,
        {
            "action": "delete_selected",
            "_selected_action": [str(a.pk) for a in Asset.objects.all()],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert bulk.status_code == 302
    assert not Asset.all_objects.exists()
    manifest.refresh_from_db()
    assert manifest.asset_count == 0
    assert manifest.tag_sequences == {"CHAR": 2}  # numbers are never handed out again


# --- projects ----------------------------------------------------------------------------


def test_linking_a_project_pins_the_version_and_counts_the_use(admin_client, make_manifest):
    manifest = make_manifest()
    services.manifest_update(manifest=manifest, description="v2")

    response = admin_client.post(
        reverse("admin:manifests_project_add"), {"name": "Pilot", "manifest": str(manifest.pk)}
    )

    assert response.status_code == 302
    project = Project.objects.get()
    manifest.refresh_from_db()
    assert (project.manifest_id, project.manifest_version) == (manifest.pk, 2)
    assert manifest.times_used == 1
    assert manifest.last_used_at is not None


def test_relinking_a_project_counts_only_a_real_change(admin_client, make_manifest):
    first, second = make_manifest("First"), make_manifest("Second")
    project = services.project_create(name="Pilot", manifest=first)
    url = reverse("admin:manifests_project_change", args=[project.pk])

    renamed = admin_client.post(url, {"name": "Pilot 2", "manifest": str(first.pk)})
    relinked = admin_client.post(url, {"name": "Pilot 2", "manifest": str(second.pk)})

    assert renamed.status_code == relinked.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.manifest_id) == ("Pilot 2", second.pk)
    assert Manifest.objects.get(pk=first.pk).times_used == 1
    assert Manifest.objects.get(pk=second.pk).times_used == 1


def test_a_project_cannot_link_a_deleted_manifest(admin_client, make_manifest):
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)

    response = admin_client.post(
        reverse("admin:manifests_project_add"), {"name": "Pilot", "manifest": str(gone.pk)}
    )

    assert response.status_code == 200
    assert "manifest" in response.context["adminform"].form.errors
    assert not Project.objects.exists()


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


def test_an_asset_of_a_deleted_manifest_opens_read_only(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest)
    services.manifest_soft_delete(manifest=manifest)
    url = reverse("admin:manifests_asset_change", args=[hero.pk])

    page = admin_client.get(url)
    edit = admin_client.post(url, asset_fields(hero, name="Changed"))

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert edit.status_code == 403
    assert Asset.all_objects.get(pk=hero.pk).name == "Hero"
