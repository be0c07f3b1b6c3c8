"""Projects pin a manifest's version and count as a use of it."""

import uuid

import pytest

from manifests import services
from manifests.models import Manifest, Project


def test_linking_on_create_pins_version_and_counts_the_use(api, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)  # version 2

    response = api.post("/api/projects", {"name": "Trailer", "manifest_id": str(manifest.pk)})

    assert response.status_code == 201, response.data
    assert response.json()["manifest_version"] == 2
    manifest.refresh_from_db()
    assert manifest.times_used == 1
    assert manifest.last_used_at is not None
    assert manifest.version == 2  # usage is not a content change


def test_relinking_on_update_pins_the_new_manifest(api, make_manifest):
    first, second = make_manifest("first"), make_manifest("second")
    services.manifest_update(manifest=second, description="v2")
    project = api.post("/api/projects", {"name": "P", "manifest_id": str(first.pk)}).json()

    response = api.patch(f"/api/projects/{project['id']}", {"manifest_id": str(second.pk)})

    assert response.status_code == 200, response.data
    assert response.json()["manifest_version"] == 2
    assert Manifest.objects.get(pk=second.pk).times_used == 1
    assert Manifest.objects.get(pk=first.pk).times_used == 1


def test_saving_a_project_without_changing_its_manifest_counts_nothing(api, make_manifest):
    manifest = make_manifest()
    project = api.post("/api/projects", {"name": "P", "manifest_id": str(manifest.pk)}).json()

    api.patch(f"/api/projects/{project['id']}", {"name": "Q", "manifest_id": str(manifest.pk)})
    api.patch(f"/api/projects/{project['id']}", {"name": "R"})

    assert Manifest.objects.get(pk=manifest.pk).times_used == 1


def test_unlinking_clears_the_pin_and_frees_the_manifest_for_deletion(api, make_manifest):
    manifest = make_manifest()
    project = api.post("/api/projects", {"name": "P", "manifest_id": str(manifest.pk)}).json()

    response = api.patch(f"/api/projects/{project['id']}", {"manifest_id": None})

    assert response.json()["manifest_version"] is None
    assert api.delete(f"/api/manifests/{manifest.pk}").status_code == 204


def test_project_with_unknown_or_malformed_manifest_is_400(api):
    for value in ["00000000-0000-0000-0000-000000000000", "not-a-uuid", 12]:
        response = api.post("/api/projects", {"name": "P", "manifest_id": value})
        assert response.status_code == 400, value
        assert "manifest_id" in response.json()


@pytest.mark.parametrize("value", [True, 1, ["x"], {"id": "x"}])
def test_a_manifest_id_must_be_a_uuid_string(api, make_manifest, value):
    # A manifest whose id is the integer 1 as a UUID: DRF's own field would link it.
    Manifest.all_objects.filter(pk=make_manifest().pk).update(id=uuid.UUID(int=1))

    response = api.post("/api/projects", {"name": "p", "manifest_id": value})

    assert response.status_code == 400
    assert "manifest_id" in response.json()
    assert not Project.objects.exists()


def test_linking_a_deleted_manifest_says_so(api, make_manifest):
    manifest = make_manifest()
    services.manifest_soft_delete(manifest=manifest)

    response = api.post("/api/projects", {"name": "p", "manifest_id": str(manifest.pk)})

    assert response.status_code == 400
    assert response.json()["manifest_id"] == [
        f"No live manifest has the id {manifest.pk}: it is unknown or deleted."
    ]
