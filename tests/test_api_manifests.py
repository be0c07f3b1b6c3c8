"""The manifests API: listing, filters, ordering, pagination, updates and bad input."""

import pytest
from django.core.exceptions import ValidationError

from manifests import services
from manifests.models import Asset, Manifest


def ids(response) -> list[str]:
    return [m["name"] for m in response.json()["results"]]


@pytest.fixture
def library(make_manifest):
    a = make_manifest("Alpha", category="CHARACTERS", tags=["hero", "noir"])
    b = make_manifest("Bravo", category="ENVIRONMENTS", tags=["noir"], description="rainy city")
    c = make_manifest("Charlie", category="CHARACTERS", tags=["comedy"])
    services.manifest_update(manifest=c, status="PROCESSING")
    return a, b, c


def test_list_is_paginated_and_newest_first(api, library):
    body = api.get("/api/manifests").json()
    assert body["count"] == 3
    assert [m["name"] for m in body["results"]] == ["Charlie", "Bravo", "Alpha"]
    assert "assets" not in body["results"][0]


def test_filters(api, library):
    assert ids(api.get("/api/manifests?category=CHARACTERS")) == ["Charlie", "Alpha"]
    assert ids(api.get("/api/manifests?status=PROCESSING")) == ["Charlie"]
    assert ids(api.get("/api/manifests?tag=noir")) == ["Bravo", "Alpha"]
    assert ids(api.get("/api/manifests?tag=nothing")) == []
    assert ids(api.get("/api/manifests?search=rainy")) == ["Bravo"]
    assert ids(api.get("/api/manifests?search=alp")) == ["Alpha"]


def test_ordering(api, library, make_asset):
    make_asset(library[1])
    assert ids(api.get("/api/manifests?ordering=name")) == ["Alpha", "Bravo", "Charlie"]
    assert ids(api.get("/api/manifests?ordering=-name")) == ["Charlie", "Bravo", "Alpha"]
    assert ids(api.get("/api/manifests?ordering=-asset_count"))[0] == "Bravo"
    assert ids(api.get("/api/manifests?ordering=created_at")) == ["Alpha", "Bravo", "Charlie"]


def test_page_size_is_capped_at_200(api, make_manifest):
    Manifest.objects.bulk_create(Manifest(name=f"m{i}") for i in range(205))
    body = api.get("/api/manifests?page_size=1000").json()
    assert len(body["results"]) == 200 and body["next"]
    assert len(api.get("/api/manifests").json()["results"]) == 50


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("category=NOPE", 400, "category"),
        ("status=nope", 400, "status"),
        ("page=999", 404, "detail"),
        ("page=abc", 404, "detail"),
        ("ordering=secret", 200, "results"),  # unknown orderings are ignored, as DRF does
    ],
)
def test_bad_list_parameters_get_clear_answers(api, library, query, status, field):
    response = api.get(f"/api/manifests?{query}")
    assert response.status_code == status
    assert field in response.json()


def test_create_with_every_writable_field(api):
    payload = {
        "name": "  Cast ",
        "description": "Main cast",
        "category": "MIXED",
        "tags": ["a", " a", "b "],
        "processing_progress": {"step": 1},
        "total_processing_cost": "1.2500",
    }
    response = api.post("/api/manifests", payload)
    assert response.status_code == 201, response.data
    body = response.json()
    assert body["name"] == "Cast"
    assert body["tags"] == ["a", "b"]
    assert body["total_processing_cost"] == "1.2500"
    assert body["assets"] == []
    assert body["thumbnail_url"] is None and body["contact_sheet_url"] is None


def test_put_and_patch_update_and_bump_the_version(api, make_manifest):
    manifest = make_manifest("Old")
    full = {"name": "New", "description": "d", "category": "STYLES", "tags": ["x"]}

    put = api.put(f"/api/manifests/{manifest.pk}/", full)
    patch = api.patch(f"/api/manifests/{manifest.pk}", {"status": "PROCESSING"})

    assert put.status_code == 200 and put.json()["version"] == 2
    assert patch.json()["status"] == "PROCESSING" and patch.json()["version"] == 3


def test_read_only_fields_are_ignored_on_write(api, make_manifest):
    manifest = make_manifest()
    response = api.patch(
        f"/api/manifests/{manifest.pk}",
        {"asset_count": 99, "version": 50, "times_used": 7, "description": "x"},
    )
    body = response.json()
    assert (body["asset_count"], body["version"], body["times_used"]) == (0, 2, 0)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "category": "UNKNOWN"}, "category"),
        ({"name": "   "}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "tags": "hero"}, "tags"),
        ({"name": "x", "tags": [1, {"a": 1}]}, "tags"),
        ({"name": "x", "tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"name": "x", "tags": ["t"] * 501}, "tags"),
        ({"name": "x", "tags": ["t" * 65]}, "tags"),
        ({"name": "x", "status": "DONE"}, "status"),
        ({"name": "x", "processing_progress": [1, 2]}, "processing_progress"),
        ({"name": "x", "total_processing_cost": "-1"}, "total_processing_cost"),
        ({"name": "x", "total_processing_cost": "1e9"}, "total_processing_cost"),
        ({"name": ["x"]}, "name"),
    ],
)
def test_bad_manifest_input_is_400_naming_the_field(api, payload, field):
    response = api.post("/api/manifests", payload)
    assert response.status_code == 400, response.data
    assert field in response.json()
    assert Manifest.all_objects.count() == 0


def test_forbidden_status_transition_is_400_and_changes_nothing(api, make_manifest):
    manifest = make_manifest()
    response = api.patch(f"/api/manifests/{manifest.pk}", {"status": "READY", "name": "Z"})
    assert response.status_code == 400
    assert "PROCESSING" in response.json()["status"][0]
    manifest.refresh_from_db()
    assert (manifest.status, manifest.name, manifest.version) == ("DRAFT", "Hero Characters", 1)


def test_malformed_json_is_400(api, make_manifest):
    manifest = make_manifest()
    for url, method in [("/api/manifests", api.post), (f"/api/manifests/{manifest.pk}", api.patch)]:
        response = method(url, data='{"name": ', content_type="application/json")
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["detail"]
    invalid_utf8 = method(url, data=b'{"name": "\xff"}', content_type="application/json")
    assert invalid_utf8.status_code == 400
    assert Manifest.objects.get(pk=manifest.pk).name == "Hero Characters"


def test_json_body_that_is_not_an_object_is_400(api):
    response = api.post("/api/manifests", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400
    response = api.post("/api/manifests/00000000-0000-0000-0000-000000000000/duplicate", [1])
    assert response.status_code == 404


def test_deeply_nested_json_is_400(api, db):
    depth = 100_000
    body = '{"name": "x", "processing_progress": ' + "[" * depth + "]" * depth + "}"
    response = api.post("/api/manifests", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert Manifest.objects.count() == 0


def test_bad_ids_in_the_path_are_404(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    for url in [
        "/api/manifests/not-a-uuid",
        "/api/manifests/not-a-uuid/assets",
        "/api/manifests/00000000-0000-0000-0000-000000000000",
        f"/api/manifests/{manifest.pk}/assets/not-a-uuid",
        "/api/assets/123",
        "/api/projects/zzz",
        f"/api/manifests/{make_manifest('other').pk}/assets/{asset.pk}",
    ]:
        response = api.get(url)
        assert response.status_code == 404, url
        assert "detail" in response.json()


def test_duplicate_with_a_bad_name_is_400_and_creates_nothing(api, make_manifest):
    manifest = make_manifest()
    response = api.post(f"/api/manifests/{manifest.pk}/duplicate", {"name": "x" * 201})
    assert response.status_code == 400
    assert "name" in response.json()
    response = api.post(f"/api/manifests/{manifest.pk}/duplicate?name={'y' * 201}")
    assert response.status_code == 400
    assert Manifest.all_objects.count() == 1


def test_every_route_answers_with_and_without_trailing_slash(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    for url in [
        "/api/manifests",
        f"/api/manifests/{manifest.pk}",
        f"/api/manifests/{manifest.pk}/assets",
        f"/api/manifests/{manifest.pk}/assets/{asset.pk}",
        f"/api/assets/{asset.pk}",
        "/api/projects",
        "/api/schema",
    ]:
        assert api.get(url).status_code == 200, url
        assert api.get(url + "/").status_code == 200, url + "/"


def test_asset_count_always_matches(api, make_manifest):
    manifest = make_manifest()
    created = [
        api.post(f"/api/manifests/{manifest.pk}/assets", {"name": f"a{i}", "asset_type": "STYLE"})
        for i in range(4)
    ]
    api.delete(f"/api/assets/{created[0].json()['id']}")
    api.delete(f"/api/manifests/{manifest.pk}/assets/{created[1].json()['id']}")
    manifest.refresh_from_db()
    assert manifest.asset_count == 2 == Asset.objects.filter(manifest=manifest).count()


@pytest.mark.parametrize("status", ["READY", "ERROR"])
def test_a_new_manifest_cannot_start_ready_or_in_error(api, status):
    response = api.post("/api/manifests", {"name": "Cast", "status": status}, format="json")

    assert response.status_code == 400
    assert "allowed: DRAFT, PROCESSING" in response.json()["status"][0]
    assert not Manifest.all_objects.exists()


def test_a_new_manifest_may_start_processing(api):
    response = api.post("/api/manifests", {"name": "Cast", "status": "PROCESSING"}, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "PROCESSING"


def test_the_tag_limit_counts_distinct_tags(api):
    response = api.post("/api/manifests", {"name": "x", "tags": ["a"] * 60 + ["b"]})

    assert response.status_code == 201
    assert response.json()["tags"] == ["a", "b"]


def test_a_hostile_tag_list_is_refused_saying_what_is_allowed(api, db):
    response = api.post("/api/manifests", {"name": "x", "tags": ["a"] * 501})

    assert response.status_code == 400
    assert response.json()["tags"] == ["At most 500 items may be sent; 50 distinct ones are kept."]


def test_null_characters_in_tags_are_400(make_manifest):
    with pytest.raises(ValidationError) as refused:
        services.manifest_create(name="x", tags=["a\u0000"])
    assert "tags" in refused.value.message_dict


@pytest.mark.parametrize(
    "progress", [{"step": "a\u0000b"}, {"\u0000": 1}, {"deep": [[{"x": ["\u0000"]}]]}]
)
def test_null_characters_in_processing_progress_are_400(api, make_manifest, progress):
    manifest = make_manifest()

    created = api.post("/api/manifests", {"name": "x", "processing_progress": progress})
    updated = api.patch(f"/api/manifests/{manifest.pk}", {"processing_progress": progress})

    assert created.status_code == updated.status_code == 400
    assert "processing_progress" in created.json() and "processing_progress" in updated.json()
    assert Manifest.objects.count() == 1
    assert Manifest.objects.get(pk=manifest.pk).processing_progress is None
