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
