"""Regressions found by the schema fuzzer, each pinned by a plain test."""

import pytest

from manifests.models import Manifest


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
    assert Manifest.objects.count() == 0


def test_unknown_fields_are_ignored_everywhere(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    extra = {"colour": "red", "id": "00000000-0000-0000-0000-000000000000", "deleted_at": "now"}

    created = api.post("/api/manifests", {"name": "x", **extra})
    patched = api.patch(f"/api/assets/{asset.pk}", {"name": "y", **extra})
    project = api.post("/api/projects", {"name": "p", **extra})

    assert created.status_code == 201 and "colour" not in created.json()
    assert created.json()["id"] != extra["id"]
    assert patched.status_code == 200 and patched.json()["id"] == str(asset.pk)
    assert project.status_code == 201
    assert Manifest.objects.filter(deleted_at__isnull=False).count() == 0


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
