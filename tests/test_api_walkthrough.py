"""The seed design note's walk-through, end to end through the HTTP API."""

from manifests.models import Manifest
from tests.conftest import image_upload, stored_files, unsigned


def test_seed_walkthrough(api, media_root):
    created = api.post(
        "/api/manifests", {"name": "Hero Characters", "category": "CHARACTERS"}, format="json"
    )
    assert created.status_code == 201, created.data
    manifest = created.json()
    assert manifest["status"] == "DRAFT"
    assert manifest["asset_count"] == 0
    assert manifest["version"] == 1
    mid = manifest["id"]

    tags = []
    for name, asset_type in [("Hero", "CHARACTER"), ("Sidekick", "CHARACTER"), ("Sword", "OBJECT")]:
        response = api.post(
            f"/api/manifests/{mid}/assets", {"name": name, "asset_type": asset_type}
        )
        assert response.status_code == 201, response.data
        tags.append(response.json()["manifest_tag"])
    assert tags == ["CHAR_01", "CHAR_02", "OBJ_01"]

    detail = api.get(f"/api/manifests/{mid}").json()
    assert detail["asset_count"] == 3
    assert [a["manifest_tag"] for a in detail["assets"]] == tags
    assert detail["version"] == 4  # created, then three asset additions
    hero_id = detail["assets"][0]["id"]

    uploaded = api.post(
        f"/api/assets/{hero_id}/upload", {"file": image_upload("hero.png")}, format="multipart"
    )
    assert uploaded.status_code == 200, uploaded.data
    url = uploaded.json()["reference_image_url"]
    expected = f"manifests/{mid}/uploads/{hero_id}_hero.png"
    assert unsigned(url) == f"http://testserver/media/{expected}"
    thumbnail = f"manifests/{mid}/thumbnails/{hero_id}_"
    assert [f for f in stored_files(media_root) if not f.startswith(thumbnail)] == [expected]
    thumbnail_url = unsigned(uploaded.json()["thumbnail_url"])
    assert thumbnail_url.startswith(f"http://testserver/media/{thumbnail}")
    assert api.get(url).status_code == 200  # served with its signature

    assert api.delete(f"/api/manifests/{mid}").status_code == 204
    listed = api.get("/api/manifests").json()
    assert mid not in [m["id"] for m in listed["results"]]
    assert Manifest.all_objects.get(pk=mid).deleted_at is not None

    api.post(f"/api/manifests/{mid}/restore")
    copy = api.post(f"/api/manifests/{mid}/duplicate?name=My%20Copy")
    assert copy.status_code == 201, copy.data
    body = copy.json()
    assert body["name"] == "My Copy"
    assert body["parent_manifest_id"] == mid
    assert body["asset_count"] == 3
    assert body["status"] == "DRAFT"
    assert [a["manifest_tag"] for a in body["assets"]] == tags
    assert body["assets"][0]["reference_image_url"].startswith(
        f"http://testserver/media/manifests/{body['id']}/uploads/"
    )
