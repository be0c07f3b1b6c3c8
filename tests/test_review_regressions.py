"""Defects found in review, each pinned by a test that failed before its fix."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from manifests import services
from manifests.models import SORT_ORDER_MAX, Asset, Manifest
from tests.conftest import image_upload, stored_files


def make_undeletable(media_root, name: str) -> None:
    """Turn a stored file into a non-empty folder of the same name: a real storage failure
    (FileSystemStorage.delete cannot remove it), without mocking the storage."""
    path = media_root / name
    path.unlink()
    path.mkdir()
    (path / "keep").write_bytes(b"x")


@pytest.mark.django_db(transaction=True)
def test_a_failed_removal_of_the_old_image_keeps_the_new_committed_files(
    api, make_manifest, make_asset, media_root
):
    asset = make_asset(make_manifest())
    old = services.asset_attach_image(asset=asset, file=image_upload("one.png"))
    make_undeletable(media_root, old.reference_image.name)

    response = api.post(
        f"/api/assets/{asset.pk}/upload", {"file": image_upload("two.png")}, format="multipart"
    )

    assert response.status_code == 200
    new = Asset.objects.get(pk=asset.pk)
    assert new.reference_image.name.endswith("_two.png")
    assert new.reference_image.storage.exists(new.reference_image.name)
    assert new.thumbnail.storage.exists(new.thumbnail.name)
    assert Manifest.objects.get(pk=asset.manifest_id).thumbnail.name == new.thumbnail.name


@pytest.mark.django_db(transaction=True)
def test_asset_delete_succeeds_even_when_its_file_cannot_be_removed(
    api, make_manifest, make_asset, media_root
):
    asset = services.asset_attach_image(
        asset=make_asset(make_manifest()), file=image_upload("one.png")
    )
    make_undeletable(media_root, asset.reference_image.name)

    response = api.delete(f"/api/assets/{asset.pk}")

    assert response.status_code == 204
    assert not Asset.all_objects.filter(pk=asset.pk).exists()


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


def test_null_characters_in_tags_are_400(make_manifest):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.manifest_create(name="x", tags=["a\u0000"])
    assert "tags" in refused.value.message_dict


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


def test_admin_save_that_fails_after_an_inline_upload_leaves_no_file(
    admin_client, make_manifest, make_asset, media_root
):
    manifest = make_manifest()
    hero = make_asset(manifest, "Hero", sort_order=SORT_ORDER_MAX)
    before = stored_files(media_root)
    prefix = "assets"
    data = {
        "name": manifest.name,
        "description": "",
        "category": manifest.category,
        "tags": "",
        "status": manifest.status,
        "processing_progress": "",
        "total_processing_cost": "0",
        f"{prefix}-TOTAL_FORMS": "2",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": str(hero.pk),
        f"{prefix}-0-manifest": str(manifest.pk),
        f"{prefix}-0-name": "Hero",
        f"{prefix}-0-asset_type": "CHARACTER",
        f"{prefix}-0-description": "",
        f"{prefix}-0-user_tags": "",
        f"{prefix}-0-sort_order": str(SORT_ORDER_MAX),
        f"{prefix}-0-image": image_upload("new.png"),
        # A new row placed after the last one: refused by the domain mid-save.
        f"{prefix}-1-manifest": str(manifest.pk),
        f"{prefix}-1-name": "Sidekick",
        f"{prefix}-1-asset_type": "CHARACTER",
        f"{prefix}-1-description": "",
        f"{prefix}-1-user_tags": "",
        f"{prefix}-1-sort_order": "",
    }

    response = admin_client.post(
        reverse("admin:manifests_manifest_change", args=[manifest.pk]), data, follow=True
    )

    assert response.status_code == 200
    assert any("largest sort_order" in str(m) for m in response.context["messages"])
    assert stored_files(media_root) == before
    hero.refresh_from_db()
    assert hero.reference_image.name == ""
    assert Asset.objects.filter(manifest=manifest).count() == 1


def test_deeply_nested_json_is_400(api, db):
    depth = 100_000
    body = '{"name": "x", "processing_progress": ' + "[" * depth + "]" * depth + "}"
    response = api.post("/api/manifests", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert Manifest.objects.count() == 0


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


def test_purge_ages_beyond_a_century_are_refused_cleanly(db):
    with pytest.raises(CommandError, match="at most 36500 days"):
        call_command("purge_manifests", "--older-than", "800000", "--dry-run")
    with pytest.raises(CommandError, match="at most"):
        call_command("purge_orphan_files", "--min-age", "99999999999", "--dry-run")


def test_duplicate_with_a_json_null_body_uses_the_default_name(api, make_manifest):
    manifest = make_manifest("Cast")
    response = api.post(
        f"/api/manifests/{manifest.pk}/duplicate", data="null", content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Cast (copy)"


@pytest.mark.parametrize("progress", ['{"done": NaN}', '{"done": Infinity}'])
def test_admin_refuses_progress_json_the_api_could_not_show(admin_client, progress):
    """JSON from the admin's text box may hold NaN (Python's json reads it): PostgreSQL
    cannot store it and the API could not render it; the domain refuses it with a message."""
    response = admin_client.post(
        reverse("admin:manifests_manifest_add"),
        {
            "name": "Cast",
            "description": "",
            "category": "CUSTOM",
            "tags": "",
            "status": "DRAFT",
            "processing_progress": progress,
            "total_processing_cost": "0",
            "assets-TOTAL_FORMS": "0",
            "assets-INITIAL_FORMS": "0",
            "assets-MIN_NUM_FORMS": "0",
            "assets-MAX_NUM_FORMS": "1000",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "NaN and infinite numbers are not allowed." in response.content.decode()
    assert not Manifest.all_objects.exists()


@pytest.mark.parametrize("model", ["manifest", "asset", "project"])
def test_admin_search_takes_the_first_20_words(admin_client, make_manifest, model):
    make_manifest("a b")
    words = " ".join(["a"] * 1000)

    response = admin_client.get(reverse(f"admin:manifests_{model}_changelist"), {"q": words})

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Searched for the first 20 of 1000 words only."]
