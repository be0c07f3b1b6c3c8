"""Asset thumbnails made on upload, and the manifest thumbnail that follows the first asset."""

import io

import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from manifests import services
from manifests.files import delete_files
from manifests.models import Asset, Manifest
from tests import image_factories as make
from tests.conftest import fetch, file_name_of, stored_files
from tests.queries import assert_num_queries

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py


def attach(asset: Asset, colour="red", size=(600, 300), fmt="PNG") -> Asset:
    content = make.encode(Image.new("RGB", size, colour), fmt)
    return services.asset_attach_image(asset=asset, file=make.upload(content, "picture.png"))


def thumbnail_name(manifest: Manifest) -> str:
    return Manifest.all_objects.get(pk=manifest.pk).thumbnail.name


def test_upload_makes_an_upright_webp_thumbnail_beside_the_original(
    api, make_manifest, make_asset, media_root
):
    manifest = make_manifest()
    asset = make_asset(manifest)

    response = api.post(
        f"/api/assets/{asset.pk}/upload",
        {"file": make.upload(make.sideways_jpeg(), "phone.jpg")},
        format="multipart",
    )

    assert response.status_code == 200, response.data
    url = response.json()["thumbnail_url"]
    prefix = f"manifests/{manifest.pk}/thumbnails/{asset.pk}_"
    assert file_name_of(url).startswith(prefix) and file_name_of(url).endswith(".webp")
    content_type, content = fetch(api, url)
    assert content_type == "image/webp"
    thumbnail = Image.open(io.BytesIO(content))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (30, 60))
    shown = api.get(f"/api/manifests/{manifest.pk}").json()["thumbnail_url"]
    assert file_name_of(shown) == file_name_of(url)


def test_thumbnail_longest_side_is_the_setting(make_manifest, make_asset, settings):
    settings.VIDPIPE_THUMBNAIL_MAX_SIDE = 128

    asset = attach(make_asset(make_manifest()), size=(1024, 512))

    with asset.thumbnail.open("rb") as file:
        assert Image.open(file).size == (128, 64)


def test_replacing_the_image_replaces_the_thumbnail(
    make_manifest, make_asset, media_root, django_capture_on_commit_callbacks
):
    manifest = make_manifest()
    asset = attach(make_asset(manifest), "red")
    first = asset.thumbnail.name

    with django_capture_on_commit_callbacks(execute=True):
        asset = attach(asset, "blue", fmt="JPEG")

    assert asset.thumbnail.name != first
    assert stored_files(media_root) == sorted([asset.reference_image.name, asset.thumbnail.name])
    with asset.thumbnail.open("rb") as file:
        assert Image.open(file).convert("RGB").getpixel((10, 10)) == pytest.approx(
            (0, 0, 255), abs=8
        )
    assert thumbnail_name(manifest) == asset.thumbnail.name


def test_deleting_the_asset_removes_its_thumbnail(
    api, make_manifest, make_asset, media_root, django_capture_on_commit_callbacks
):
    manifest = make_manifest()
    asset = attach(make_asset(manifest))

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/assets/{asset.pk}").status_code == 204

    assert stored_files(media_root) == []
    assert api.get(f"/api/manifests/{manifest.pk}").json()["thumbnail_url"] is None


def test_manifest_thumbnail_follows_the_first_asset_with_an_image(api, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest, "Hero")  # first in order, no image yet
    sword = attach(make_asset(manifest, "Sword", "OBJECT"), "blue")

    def shown() -> str | None:
        url = api.get(f"/api/manifests/{manifest.pk}").json()["thumbnail_url"]
        return url and file_name_of(url)

    assert shown() == sword.thumbnail.name  # the first asset that has one

    hero = attach(hero, "red")
    assert shown() == hero.thumbnail.name

    api.patch(f"/api/assets/{sword.pk}", {"sort_order": -1}, format="json")
    assert shown() == sword.thumbnail.name  # reordered to the front

    make_asset(manifest, "Castle", "ENVIRONMENT", sort_order=-5)  # no image: changes nothing
    assert shown() == sword.thumbnail.name

    api.delete(f"/api/assets/{sword.pk}")
    assert shown() == hero.thumbnail.name

    api.delete(f"/api/assets/{hero.pk}")
    assert shown() is None


def test_manifest_thumbnail_in_the_list_too(api, make_manifest, make_asset):
    manifest = make_manifest()
    asset = attach(make_asset(manifest))

    listed = api.get("/api/manifests").json()["results"]

    assert listed[0]["id"] == str(manifest.pk)
    assert file_name_of(listed[0]["thumbnail_url"]) == asset.thumbnail.name


def test_duplicate_shows_its_own_copy_of_the_first_thumbnail(make_manifest, make_asset, media_root):
    source = make_manifest()
    make_asset(source, "No image")
    attach(make_asset(source, "Hero"), "green")

    copy = services.manifest_duplicate(manifest=source)

    copied_first = Asset.all_objects.filter(manifest=copy).exclude(thumbnail="").get()
    assert copy.thumbnail.name == copied_first.thumbnail.name
    assert copy.thumbnail.name.startswith(f"manifests/{copy.pk}/thumbnails/{copied_first.pk}_")
    # The copy's thumbnails survive the original's files being purged.
    source_files = [f for f in stored_files(media_root) if f.startswith(f"manifests/{source.pk}")]
    delete_files(source_files)
    with copy.thumbnail.open("rb") as file:
        assert Image.open(file).convert("RGB").getpixel((5, 5)) == pytest.approx((0, 128, 0), abs=8)


def test_keeping_the_manifest_thumbnail_current_costs_no_extra_query(make_manifest, make_asset):
    manifest = make_manifest()
    asset = attach(make_asset(manifest))
    second = attach(make_asset(manifest, "Second"), "blue")

    # savepoint, lock manifest, read asset, validate its FK, update asset, release savepoint
    # and one UPDATE of the manifest that bumps its version and resets its thumbnail; its event
    # (ids, which also tell who subscribes, and INSERT).
    with assert_num_queries(9) as captured:
        services.asset_update(asset=asset, sort_order=10)

    manifest_updates = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "manifests_m')]
    assert len(manifest_updates) == 1 and '"thumbnail" = COALESCE' in manifest_updates[0]
    assert thumbnail_name(manifest) == second.thumbnail.name


def test_render_thumbnail_again_for_an_image_stored_without_one(
    make_manifest, make_asset, media_root, settings, django_capture_on_commit_callbacks
):
    manifest = make_manifest()
    asset = attach(make_asset(manifest), "red")
    old = asset.thumbnail.name
    settings.VIDPIPE_THUMBNAIL_FORMAT = "JPEG"
    version = Manifest.objects.get(pk=manifest.pk).version

    with django_capture_on_commit_callbacks(execute=True):
        asset = services.asset_render_thumbnail(asset=asset)

    assert asset.thumbnail.name.endswith(".jpg") and asset.thumbnail.name != old
    assert stored_files(media_root) == sorted([asset.reference_image.name, asset.thumbnail.name])
    assert thumbnail_name(manifest) == asset.thumbnail.name
    assert Manifest.objects.get(pk=manifest.pk).version == version  # derived, not content


def test_render_thumbnail_needs_an_image(make_manifest, make_asset, media_root):
    with pytest.raises(ValidationError, match="no image"):
        services.asset_render_thumbnail(asset=make_asset(make_manifest()))
    assert stored_files(media_root) == []
