"""Who may do what, on every endpoint and method of the API (and the admin)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from manifests import services
from tests.conftest import image_upload, token_client

ROLES = ["anonymous", "reader", "staff", "superuser"]


@pytest.fixture
def world(db):
    manifest = services.manifest_create(name="Cast")
    spare = services.manifest_create(name="Spare")
    asset = services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")
    services.asset_attach_image(asset=asset, file=image_upload())
    project = services.project_create(name="Trailer")
    pinning = services.project_create(name="Storyboard", manifest=manifest)
    return {
        "m": manifest.pk,
        "spare": spare.pk,
        "a": asset.pk,
        "p": project.pk,
        "pin": pinning.pk,
        "v": pinning.manifest_version,
    }


def client_for(role: str) -> APIClient:
    if role == "anonymous":
        return APIClient()
    users = get_user_model().objects
    if role == "superuser":
        return token_client(users.create_superuser("root", password="pw"))
    return token_client(users.create_user(role, password="pw", is_staff=role == "staff"))


# (method, url, body, status for a staff user); reads are open to any signed-in user.
ENDPOINTS = [
    ("get", "/api/manifests", None, 200),
    ("post", "/api/manifests", {"name": "New"}, 201),
    ("get", "/api/manifests/{m}", None, 200),
    ("put", "/api/manifests/{m}", {"name": "Renamed"}, 200),
    ("patch", "/api/manifests/{m}", {"description": "d"}, 200),
    ("delete", "/api/manifests/{spare}", None, 204),
    ("post", "/api/manifests/{m}/duplicate", {}, 201),
    ("post", "/api/manifests/{m}/restore", None, 200),
    ("post", "/api/manifests/{m}/contact-sheet", None, 200),
    ("get", "/api/manifests/{m}/assets", None, 200),
    ("post", "/api/manifests/{m}/assets", {"name": "Car", "asset_type": "VEHICLE"}, 201),
    ("get", "/api/manifests/{m}/assets/{a}", None, 200),
    ("put", "/api/manifests/{m}/assets/{a}", {"name": "X", "asset_type": "CHARACTER"}, 200),
    ("patch", "/api/manifests/{m}/assets/{a}", {"name": "Y"}, 200),
    ("delete", "/api/manifests/{m}/assets/{a}", None, 204),
    ("post", "/api/manifests/{m}/assets/{a}/upload", "image", 200),
    ("get", "/api/assets", None, 200),
    ("get", "/api/assets/{a}", None, 200),
    ("put", "/api/assets/{a}", {"name": "X", "asset_type": "OBJECT"}, 200),
    ("patch", "/api/assets/{a}", {"name": "Z"}, 200),
    ("delete", "/api/assets/{a}", None, 204),
    ("post", "/api/assets/{a}/upload", "image", 200),
    ("get", "/api/manifests/{m}/versions", None, 200),
    ("post", "/api/manifests/{m}/versions", None, 200),  # frozen already: the record
    ("get", "/api/manifests/{m}/versions/{v}", None, 200),
    ("get", "/api/manifests/{m}/versions/latest/assets/CHAR_01", None, 200),
    ("get", "/api/manifests/{m}/versions/{v}/diff?against=current", None, 200),
    ("post", "/api/manifests/{m}/versions/{v}/duplicate", {}, 201),
    ("get", "/api/projects", None, 200),
    ("post", "/api/projects", {"name": "P2", "manifest_id": "{m}"}, 201),
    ("get", "/api/projects/{p}", None, 200),
    ("put", "/api/projects/{p}", {"name": "P3"}, 200),
    ("patch", "/api/projects/{p}", {"manifest_id": "{m}"}, 200),
    ("delete", "/api/projects/{p}", None, 204),
    ("get", "/api/projects/{pin}/manifest", None, 200),
    ("get", "/api/projects/{pin}/assets/CHAR_01", None, 200),
    ("post", "/api/projects/{pin}/upgrade", None, 200),
    ("get", "/api/", None, 200),
    ("get", "/api/schema", None, 200),
    ("get", "/api/docs", None, 200),
]
# The API's description is public: clients read it before they have credentials.
PUBLIC = {"/api/schema", "/api/docs"}


def expected_status(role: str, method: str, url: str, staff_status: int) -> int:
    if url in PUBLIC:
        return staff_status
    if role == "anonymous":
        return 401
    if role == "reader" and method != "get":
        return 403
    return staff_status


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("method", "url", "body", "staff_status"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS]
)
def test_rights_matrix(world, media_root, role, method, url, body, staff_status):
    client = client_for(role)
    expected = expected_status(role, method, url, staff_status)
    url = url.format(**world)
    if body == "image":
        response = client.post(url, {"file": image_upload()}, format="multipart")
    else:
        if isinstance(body, dict):
            body = {k: v.format(**world) if isinstance(v, str) else v for k, v in body.items()}
        response = getattr(client, method)(url, body)

    assert response.status_code == expected, response.content


def test_admin_requires_staff(client, db):
    users = get_user_model().objects
    assert client.get("/admin/").status_code == 302  # to the login page
    client.force_login(users.create_user("reader", password="pw"))
    assert client.get("/admin/").status_code == 302
    client.force_login(users.create_user("curator", password="pw", is_staff=True))
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/manifests"),
        ("patch", "/api/manifests/{m}"),
        ("delete", "/api/manifests/{spare}"),
        ("post", "/api/manifests/{m}/assets"),
        ("post", "/api/assets/{a}/upload"),
        ("post", "/api/manifests/{m}/versions"),
        ("post", "/api/projects/{pin}/upgrade"),
    ],
)
def test_session_writes_without_csrf_token_are_refused(world, method, url):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.create_user("s", password="pw", is_staff=True))

    response = getattr(client, method)(url.format(**world), {"name": "x"}, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
