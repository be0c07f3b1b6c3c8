"""The nested and flat asset routes."""

import pytest

from manifests import services
from manifests.models import SORT_ORDER_MAX, Asset, Manifest


@pytest.fixture
def manifest(make_manifest):
    return make_manifest()


def test_create_returns_the_generated_tag_and_ignores_a_client_tag(api, manifest):
    response = api.post(
        f"/api/manifests/{manifest.pk}/assets",
        {"name": "Hero", "asset_type": "CHARACTER", "manifest_tag": "CHAR_99", "user_tags": ["a"]},
    )
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["manifest_tag"] == "CHAR_01"
    assert body["manifest_id"] == str(manifest.pk)
    assert body["source"] == "UPLOAD"
    assert body["reference_image_url"] is None


def test_nested_list_is_ordered_and_scoped(api, manifest, make_manifest, make_asset):
    make_asset(manifest, name="second", sort_order=2)
    make_asset(manifest, name="first", sort_order=1)
    make_asset(make_manifest("other"), name="elsewhere")

    body = api.get(f"/api/manifests/{manifest.pk}/assets").json()

    assert [a["name"] for a in body["results"]] == ["first", "second"]


def test_flat_list_filters_by_type_and_tag(api, manifest, make_asset):
    make_asset(manifest, name="Hero", user_tags=["lead"])
    make_asset(manifest, name="Car", asset_type="VEHICLE")
    assert [a["name"] for a in api.get("/api/assets?asset_type=VEHICLE").json()["results"]] == [
        "Car"
    ]
    assert [a["name"] for a in api.get("/api/assets?tag=lead").json()["results"]] == ["Hero"]
    assert [a["name"] for a in api.get("/api/assets?search=CHAR_01").json()["results"]] == ["Hero"]


def test_empty_uuid_filter_means_no_filter_and_unknown_id_matches_nothing(api, make_manifest):
    make_manifest()
    assert api.get("/api/assets?manifest=").status_code == 200
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/assets?manifest={unknown}").json()["count"] == 0
    assert api.get("/api/assets?manifest=nope").status_code == 400


def test_update_through_both_routes(api, manifest, make_asset):
    asset = make_asset(manifest)
    flat = api.patch(f"/api/assets/{asset.pk}", {"name": "Renamed", "asset_type": "OBJECT"})
    nested = api.put(
        f"/api/manifests/{manifest.pk}/assets/{asset.pk}/",
        {"name": "Again", "asset_type": "OBJECT", "sort_order": 7},
    )
    assert flat.status_code == 200 and flat.json()["manifest_tag"] == "OBJ_01"
    assert nested.status_code == 200, nested.data
    assert nested.json()["manifest_tag"] == "OBJ_01"  # same type: tag kept
    assert nested.json()["sort_order"] == 7
    assert Manifest.objects.get(pk=manifest.pk).version == 4


def test_read_only_fields_sent_back_are_ignored(api, make_manifest, make_asset):
    """A body read from the API can be sent back as it is (GET, edit, PUT)."""
    manifest = make_manifest()
    asset = make_asset(manifest)
    body = api.get(f"/api/assets/{asset.pk}").json()
    body.update(name="Renamed", id="00000000-0000-0000-0000-000000000000", manifest_tag="X_99")

    response = api.put(f"/api/assets/{asset.pk}", body)

    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(asset.pk)
    assert response.json()["manifest_tag"] == "CHAR_01"
    assert response.json()["name"] == "Renamed"


def test_flat_route_cannot_create(api, manifest):
    response = api.post("/api/assets", {"name": "x", "asset_type": "OBJECT"})
    assert response.status_code == 405


@pytest.mark.parametrize("state", ["unknown", "deleted"])
def test_creating_an_asset_under_a_missing_manifest_is_404_whatever_the_body(
    api, make_manifest, state
):
    manifest_id = "00000000-0000-0000-0000-000000000000"
    if state == "deleted":
        manifest = make_manifest()
        services.manifest_soft_delete(manifest=manifest)
        manifest_id = manifest.pk
    for body in [{}, {"name": "x", "asset_type": "OBJECT"}]:
        response = api.post(f"/api/manifests/{manifest_id}/assets", body)
        assert response.status_code == 404
    assert Asset.all_objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "asset_type": "ROBOT"}, "asset_type"),
        ({"name": "x"}, "asset_type"),
        ({"asset_type": "OBJECT"}, "name"),
        ({"name": " ", "asset_type": "OBJECT"}, "name"),
        ({"name": "x", "asset_type": "OBJECT", "source": "STOLEN"}, "source"),
        ({"name": "x", "asset_type": "OBJECT", "user_tags": "a,b"}, "user_tags"),
        ({"name": "x", "asset_type": "OBJECT", "sort_order": 2**40}, "sort_order"),
        ({"name": "x", "asset_type": "OBJECT", "sort_order": "first"}, "sort_order"),
    ],
)
def test_bad_asset_input_is_400_and_creates_nothing(api, manifest, payload, field):
    response = api.post(f"/api/manifests/{manifest.pk}/assets", payload)
    assert response.status_code == 400, response.data
    assert field in response.json()
    manifest.refresh_from_db()
    assert (manifest.asset_count, manifest.version, manifest.tag_sequences) == (0, 1, {})
    assert Asset.all_objects.count() == 0


def test_default_sort_order_after_the_largest_is_a_clear_400(api, make_manifest):
    manifest = make_manifest()
    url = f"/api/manifests/{manifest.pk}/assets"
    last = api.post(url, {"name": "Last", "asset_type": "OBJECT", "sort_order": SORT_ORDER_MAX})
    assert last.status_code == 201

    response = api.post(url, {"name": "Next", "asset_type": "OBJECT"})

    assert response.status_code == 400
    assert "largest sort_order" in response.json()["sort_order"][0]
    manifest.refresh_from_db()
    assert manifest.asset_count == 1 and manifest.tag_sequences == {"OBJ": 1}


def test_bad_update_changes_nothing(api, manifest, make_asset):
    asset = make_asset(manifest)
    before = Asset.objects.values().get(pk=asset.pk)
    response = api.patch(f"/api/assets/{asset.pk}", {"asset_type": "ROBOT", "name": "Z"})
    assert response.status_code == 400
    assert Asset.objects.values().get(pk=asset.pk) == before
