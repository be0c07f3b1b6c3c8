"""Regressions found by the schema fuzzer, each pinned by a plain test."""

import json
import uuid

import pytest
from django.core.exceptions import ValidationError

from manifests import services
from manifests.models import Manifest, Project


def test_search_with_a_null_character_is_400_naming_the_parameter(api, make_manifest):
    response = api.get("/api/manifests?search=a%00b")
    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}


@pytest.mark.parametrize("value", ["null", "0", "-3", "abc", ""])
def test_page_size_must_be_a_positive_whole_number(api, db, value):
    response = api.get(f"/api/manifests?page_size={value}")
    assert response.status_code == 400
    assert "page_size" in response.json()


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


def test_form_encoded_bodies_are_415_except_for_uploads(api, db):
    response = api.post("/api/manifests", {"name": "x"}, format="multipart")
    assert response.status_code == 415
    assert Manifest.objects.count() == 0


def test_empty_uuid_filter_means_no_filter_and_unknown_id_matches_nothing(api, make_manifest):
    make_manifest()
    assert api.get("/api/assets?manifest=").status_code == 200
    unknown = "00000000-0000-0000-0000-000000000000"
    assert api.get(f"/api/assets?manifest={unknown}").json()["count"] == 0
    assert api.get("/api/assets?manifest=nope").status_code == 400


def test_json_body_over_the_memory_limit_is_413(api, settings, db):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api.post("/api/manifests", {"name": "x", "description": "y" * 5000})
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is over the limit of 1024 bytes."}
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


def test_a_bad_choice_names_the_allowed_values(api, db):
    response = api.post("/api/manifests", {"name": "x", "category": "characters"})

    assert response.status_code == 400
    assert response.json()["category"] == [
        '"characters" is not a valid choice; allowed: CHARACTERS, ENVIRONMENTS, OBJECTS, '
        "STYLES, MIXED, CUSTOM."
    ]


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


@pytest.mark.parametrize("field", ["name", "description"])
def test_extremely_long_text_is_400_naming_the_field(api, db, field):
    body = {"name": "ok", field: "z" * 200_000}
    response = api.post("/api/manifests", body)
    assert response.status_code == 400
    assert field in response.json()
    assert Manifest.objects.count() == 0


def test_huge_tag_lists_are_400_naming_the_field(api, make_manifest):
    manifest = make_manifest()
    response = api.patch(
        f"/api/manifests/{manifest.pk}", {"tags": [f"t{i}" for i in range(10_000)]}
    )
    assert response.status_code == 400
    assert "tags" in response.json()
    assert Manifest.objects.get(pk=manifest.pk).tags == []


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


@pytest.mark.parametrize("url", ["/api/manifests", "/api/assets"])
def test_search_takes_at_most_20_words(api, make_manifest, url):
    make_manifest("a b")
    twenty = "+".join(["a"] * 20)
    thousand = "+".join(["a"] * 1000)

    assert api.get(f"{url}?search={twenty}").status_code == 200
    response = api.get(f"{url}?search={thousand}")
    assert response.status_code == 400
    assert response.json() == {"search": ["At most 20 words, not 1000."]}


def test_the_browsable_duplicate_form_asks_for_a_name_and_works_as_sent(
    client, staff_user, make_manifest
):
    manifest = make_manifest("Cast")
    client.force_login(staff_user)
    url = f"/api/manifests/{manifest.pk}/duplicate"

    page = client.get(url, HTTP_ACCEPT="text/html")
    form = page.context["raw_data_post_form"]
    content = form.fields["_content"].initial
    sent = client.post(url, content, content_type="application/json")

    assert page.status_code == 405  # GET is not allowed; the page still offers the POST form
    assert json.loads(content) == {"name": ""}
    assert sent.status_code == 201, sent.content
    assert sent.json()["name"] == "Cast (copy)"
