"""The manifests API: listing, search, filters, ordering, pagination, updates, bad input
and the answers to malformed requests (404, 413, 415), through the HTTP API."""

import json

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


@pytest.mark.parametrize("value", ["null", "0", "-3", "abc", ""])
def test_page_size_must_be_a_positive_whole_number(api, db, value):
    response = api.get(f"/api/manifests?page_size={value}")
    assert response.status_code == 400
    assert "page_size" in response.json()


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


def test_search_with_a_null_character_is_400_naming_the_parameter(api, make_manifest):
    response = api.get("/api/manifests?search=a%00b")
    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}


@pytest.mark.parametrize("url", ["/api/manifests", "/api/assets"])
def test_search_takes_at_most_20_words(api, make_manifest, url):
    make_manifest("a b")
    twenty = "+".join(["a"] * 20)
    thousand = "+".join(["a"] * 1000)

    assert api.get(f"{url}?search={twenty}").status_code == 200
    response = api.get(f"{url}?search={thousand}")
    assert response.status_code == 400
    assert response.json() == {"search": ["At most 20 words, not 1000."]}


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


def test_a_bad_choice_names_the_allowed_values(api, db):
    response = api.post("/api/manifests", {"name": "x", "category": "characters"})

    assert response.status_code == 400
    assert response.json()["category"] == [
        '"characters" is not a valid choice; allowed: CHARACTERS, ENVIRONMENTS, OBJECTS, '
        "STYLES, MIXED, CUSTOM."
    ]


@pytest.mark.parametrize("field", ["name", "description"])
def test_extremely_long_text_is_400_naming_the_field(api, db, field):
    body = {"name": "ok", field: "z" * 200_000}
    response = api.post("/api/manifests", body)
    assert response.status_code == 400
    assert field in response.json()
    assert Manifest.objects.count() == 0


def test_unknown_fields_are_400_naming_them_everywhere(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    other = make_manifest("Other")

    created = api.post("/api/manifests", {"name": "x", "colour": "red"})
    patched = api.patch(f"/api/assets/{asset.pk}", {"name": "y", "deleted_at": "now"})
    project = api.post("/api/projects", {"name": "p", "manifest": str(manifest.pk)})
    copied = api.post(f"/api/manifests/{manifest.pk}/duplicate", {"nmae": "Copy"})

    assert created.status_code == 400
    assert created.json() == {
        "colour": [
            "Unknown field; the writable fields are: name, description, category, tags, "
            "status, processing_progress, total_processing_cost."
        ]
    }
    assert patched.status_code == 400 and list(patched.json()) == ["deleted_at"]
    assert project.status_code == 400 and "manifest_id" in project.json()["manifest"][0]
    assert copied.status_code == 400 and list(copied.json()) == ["nmae"]
    assert Manifest.objects.count() == 2 and Manifest.objects.get(pk=asset.manifest_id) == manifest
    asset.refresh_from_db()
    assert asset.name == "Hero"
    other.refresh_from_db()
    assert other.times_used == 0 and manifest.times_used == 0


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


def test_form_encoded_bodies_are_415_except_for_uploads(api, db):
    response = api.post("/api/manifests", {"name": "x"}, format="multipart")
    assert response.status_code == 415
    assert Manifest.objects.count() == 0


def test_json_body_over_the_memory_limit_is_413(api, settings, db):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post("/api/manifests", {"name": "x", "description": "y" * 5000})
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is over the limit of 1024 bytes."}
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


def test_unmatched_api_urls_answer_json_404(api, db):
    for url in ["/api/assets/.x/", "/api/nothing-here", "/api/manifests/a/b/c/d"]:
        response = api.get(url)
        assert response.status_code == 404, url
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_non_api_404_stays_html(api, db):
    response = api.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


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


def test_huge_tag_lists_are_400_naming_the_field(api, make_manifest):
    manifest = make_manifest()
    response = api.patch(
        f"/api/manifests/{manifest.pk}", {"tags": [f"t{i}" for i in range(10_000)]}
    )
    assert response.status_code == 400
    assert "tags" in response.json()
    assert Manifest.objects.get(pk=manifest.pk).tags == []


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


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    ("raw_progress", "message"),
    [
        ('{"k": "\\ud800"}', "Unpaired surrogate"),
        ('{"\\udfff": 1}', "Unpaired surrogate"),
        ('{"k": ["ok", "\\u0000"]}', "Null characters"),
        (json.dumps(nested(33)), "Nested deeper than 32 levels"),
    ],
)
def test_unstorable_progress_json_is_400_and_saves_nothing(
    api, make_manifest, raw_progress, message
):
    manifest = make_manifest()
    body = f'{{"name": "x", "processing_progress": {raw_progress}}}'

    created = api.generic("POST", "/api/manifests", body, content_type="application/json")
    patched = api.generic(
        "PATCH", f"/api/manifests/{manifest.pk}", body, content_type="application/json"
    )

    for response in (created, patched):
        assert response.status_code == 400
        assert message in response.json()["processing_progress"][0]
    manifest.refresh_from_db()
    assert (Manifest.objects.count(), manifest.name, manifest.version) == (1, "Hero Characters", 1)
    assert api.get("/api/manifests").status_code == 200


def test_progress_nested_32_levels_is_kept(api, db):
    response = api.post("/api/manifests", {"name": "x", "processing_progress": nested(32)})
    assert response.status_code == 201


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_in_progress_are_refused_by_the_domain(db, number):
    with pytest.raises(ValidationError) as refused:
        services.manifest_create(name="x", processing_progress={"done": number})
    assert "processing_progress" in refused.value.message_dict
    assert not Manifest.all_objects.exists()
