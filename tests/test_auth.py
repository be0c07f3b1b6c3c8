"""Who may do what: reads need a signed-in user, writes need staff."""

import pytest
from rest_framework.test import APIClient


def test_anonymous_gets_401_everywhere(anon_api, make_manifest):
    manifest = make_manifest()
    for method, url in [
        ("get", "/api/manifests"),
        ("get", f"/api/manifests/{manifest.pk}"),
        ("post", "/api/manifests"),
        ("delete", f"/api/manifests/{manifest.pk}"),
        ("get", "/api/projects"),
    ]:
        response = getattr(anon_api, method)(url)
        assert response.status_code == 401, (method, url)
        assert response["WWW-Authenticate"] == "Token"


def test_signed_in_non_staff_can_read_but_not_write(reader_api, make_manifest):
    manifest = make_manifest()
    assert reader_api.get("/api/manifests").status_code == 200
    assert reader_api.get(f"/api/manifests/{manifest.pk}").status_code == 200
    assert reader_api.post("/api/manifests", {"name": "x"}).status_code == 403
    assert reader_api.patch(f"/api/manifests/{manifest.pk}", {"name": "x"}).status_code == 403
    assert reader_api.delete(f"/api/manifests/{manifest.pk}").status_code == 403
    assert reader_api.post(f"/api/manifests/{manifest.pk}/duplicate").status_code == 403
    manifest.refresh_from_db()
    assert manifest.name == "Hero Characters" and manifest.deleted_at is None


def test_bad_token_is_401(make_manifest):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/manifests").status_code == 401


@pytest.mark.django_db
def test_session_writes_need_a_csrf_token(staff_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.get("/api/manifests").status_code == 200
    refused = client.post("/api/manifests", {"name": "x"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]


def test_schema_and_docs_are_public_and_offline(anon_api, db):
    schema = anon_api.get("/api/schema")
    assert schema.status_code == 200
    docs = anon_api.get("/api/docs")
    assert docs.status_code == 200
    assert b"cdn.jsdelivr.net" not in docs.content and b"unpkg.com" not in docs.content
