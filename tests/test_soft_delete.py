"""Soft delete and restore: managers, querysets, the API, and the 409 on referenced ones."""

import pytest

from manifests import services
from manifests.exceptions import ManifestInUse
from manifests.models import Asset, Manifest, Project


def test_default_manager_hides_deleted_and_all_objects_sees_them(make_manifest):
    live = make_manifest("live")
    gone = make_manifest("gone")
    services.manifest_soft_delete(manifest=gone)

    assert list(Manifest.objects.all()) == [live]
    assert set(Manifest.all_objects.all()) == {live, gone}
    assert list(Manifest.deleted_objects.all()) == [gone]
    assert list(Manifest.all_objects.deleted()) == [gone]


def test_bulk_queryset_delete_is_soft(make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)

    Manifest.objects.all().delete()

    assert Manifest.objects.count() == 0
    assert Manifest.all_objects.count() == 1
    assert Asset.all_objects.count() == 1
    assert Asset.objects.count() == 0  # assets of deleted manifests are hidden too


def test_instance_delete_is_soft(make_manifest):
    manifest = make_manifest()
    manifest.delete()
    assert manifest.deleted_at is not None
    assert Manifest.all_objects.filter(pk=manifest.pk).exists()


def test_restore_brings_a_manifest_back(make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)
    services.manifest_soft_delete(manifest=manifest)

    services.manifest_restore(manifest=manifest)

    assert Manifest.objects.get(pk=manifest.pk).assets.count() == 1


def test_delete_of_a_referenced_manifest_is_refused_and_changes_nothing(make_manifest):
    manifest = make_manifest()
    services.project_create(name="Trailer", manifest=manifest)

    with pytest.raises(ManifestInUse) as refused:
        Manifest.objects.filter(pk=manifest.pk).delete()

    assert refused.value.projects[0]["name"] == "Trailer"
    assert Manifest.objects.filter(pk=manifest.pk).exists()


def test_api_delete_of_referenced_manifest_is_409_naming_the_projects(api, make_manifest):
    manifest = make_manifest()
    project = services.project_create(name="Trailer", manifest=manifest)
    before = Manifest.objects.values().get(pk=manifest.pk)

    response = api.delete(f"/api/manifests/{manifest.pk}")

    assert response.status_code == 409
    body = response.json()
    assert body["projects"] == [{"id": str(project.pk), "name": "Trailer"}]
    assert "Trailer" in body["detail"]
    assert Manifest.objects.values().get(pk=manifest.pk) == before


def test_deleted_manifest_is_invisible_on_every_route(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    api.delete(f"/api/manifests/{manifest.pk}")
    m, a = manifest.pk, asset.pk

    assert api.get("/api/manifests").json()["count"] == 0
    assert api.get("/api/assets").json()["count"] == 0
    for method, url in [
        ("get", f"/api/manifests/{m}"),
        ("patch", f"/api/manifests/{m}"),
        ("delete", f"/api/manifests/{m}"),
        ("post", f"/api/manifests/{m}/duplicate"),
        ("get", f"/api/manifests/{m}/assets"),
        ("post", f"/api/manifests/{m}/assets"),
        ("get", f"/api/manifests/{m}/assets/{a}"),
        ("get", f"/api/assets/{a}"),
        ("patch", f"/api/assets/{a}"),
        ("delete", f"/api/assets/{a}"),
        ("post", f"/api/assets/{a}/upload"),
    ]:
        response = getattr(api, method)(url, {"name": "x", "asset_type": "OBJECT"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert Asset.all_objects.filter(pk=a).exists()


def test_restore_through_the_api(api, make_manifest):
    manifest = make_manifest()
    api.delete(f"/api/manifests/{manifest.pk}")

    response = api.post(f"/api/manifests/{manifest.pk}/restore")

    assert response.status_code == 200
    assert response.json()["id"] == str(manifest.pk)
    assert api.get(f"/api/manifests/{manifest.pk}").status_code == 200


def test_restore_of_a_live_manifest_is_harmless_and_unknown_is_404(api, make_manifest):
    manifest = make_manifest()
    assert api.post(f"/api/manifests/{manifest.pk}/restore").status_code == 200
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api.post(f"/api/manifests/{unknown}/restore").status_code == 404


def test_projects_can_only_link_live_manifests(api, make_manifest):
    manifest = make_manifest()
    services.manifest_soft_delete(manifest=manifest)

    response = api.post("/api/projects", {"name": "P", "manifest_id": str(manifest.pk)})

    assert response.status_code == 400
    assert "manifest_id" in response.json()
    assert Project.objects.count() == 0
