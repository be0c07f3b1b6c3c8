"""Bundles in the admin: "Export bundle" (the manifest page's button, the changelist action
for one manifest) and the "Import bundle" page, each used as rendered."""

import io
import os
import zipfile

from webtest import Upload

from manifests import services
from manifests.models import Asset, Manifest
from tests.admin_forms import (
    MANIFEST_CHANGELIST,
    change_page,
    form_of,
    messages_on,
    press,
)
from tests.conftest import image_upload, stored_files
from tests.test_admin_actions import run_action
from tests.test_bundles import HOSTILE, asset_entry, bundle_of, noise_png, read_bundle


def heroes(make_manifest, make_asset) -> Manifest:
    manifest = make_manifest("Heroes")
    hero = make_asset(manifest, "Hero")
    services.asset_attach_image(asset=hero, file=image_upload())
    make_asset(manifest, "Lamp", asset_type="OBJECT")
    manifest.refresh_from_db()
    return manifest


def import_page(curator):
    changelist = curator.get(MANIFEST_CHANGELIST)
    return changelist.click("Import bundle")


def test_the_manifest_page_exports_a_bundle(curator, make_manifest, make_asset):
    manifest = heroes(make_manifest, make_asset)

    response = change_page(curator, manifest).click("Export bundle")

    assert response.content_type == "application/zip"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="heroes-v{manifest.version}.zip"'
    )
    document, images = read_bundle(response.body)
    assert [a["tag"] for a in document["assets"]] == ["CHAR_01", "OBJ_01"]
    assert list(images) == ["images/CHAR_01.png"]


def test_export_of_a_manifest_whose_image_is_missing_says_so(
    curator, make_manifest, make_asset, media_root
):
    manifest = heroes(make_manifest, make_asset)
    os.remove(media_root / Asset.objects.get(manifest_tag="CHAR_01").reference_image.name)

    response = change_page(curator, manifest).click("Export bundle").follow()

    assert any(
        "“Heroes” cannot be exported" in m and "CHAR_01 “Hero”" in m for m in messages_on(response)
    )


def test_the_export_action_exports_one_selected_manifest(curator, make_manifest, make_asset):
    manifest = heroes(make_manifest, make_asset)
    make_manifest("Other")

    response = run_action(curator, "export_bundle", [manifest])

    assert response.content_type == "application/zip"
    document, _ = read_bundle(response.body)
    assert document["manifest"]["name"] == "Heroes"


def test_the_export_action_wants_exactly_one_manifest(curator, make_manifest):
    selected = [make_manifest("One"), make_manifest("Two")]

    response = run_action(curator, "export_bundle", selected).follow()

    assert "Select exactly one live manifest" in " ".join(messages_on(response))


def test_the_import_page_makes_a_new_manifest_and_opens_it(curator, make_manifest, make_asset):
    source = heroes(make_manifest, make_asset)
    bundle = b"".join(services.manifest_export(manifest=source))

    page = import_page(curator)
    response = press(
        form_of(page, "import-bundle-form"),
        bundle=Upload("heroes.zip", bundle, "application/zip"),
        name="Heroes imported",
    )

    imported = Manifest.objects.get(name="Heroes imported")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/{imported.pk}/change/")
    following = response.follow()
    assert any("Imported “Heroes imported” with 2 assets" in m for m in messages_on(following))
    assert [a.manifest_tag for a in Asset.objects.filter(manifest=imported).ordered()] == [
        "CHAR_01",
        "OBJ_01",
    ]


def test_a_refused_bundle_is_a_form_error_and_leaves_nothing(curator, media_root):
    data, entry, reason = HOSTILE["sha256 mismatch"]
    before = stored_files(media_root)

    page = import_page(curator)
    response = press(
        form_of(page, "import-bundle-form"), bundle=Upload("evil.zip", data, "application/zip")
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["bundle"]
    assert errors[0].startswith(f"{entry}: ") and reason in errors[0]
    assert reason in response.text
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == before


def test_the_import_page_takes_a_bundle_larger_than_one_image_upload(curator, settings):
    images = [noise_png(seed=n) for n in (1, 2)]
    data = bundle_of(
        *(asset_entry(f"CHAR_0{n}", name=f"N{n}", image=i) for n, i in enumerate(images, 1))
    )
    settings.VIDPIPE_MAX_UPLOAD_BYTES = max(map(len, images)) + 100
    assert len(data) > settings.VIDPIPE_MAX_UPLOAD_BYTES + 1000

    page = import_page(curator)
    response = press(
        form_of(page, "import-bundle-form"), bundle=Upload("big.zip", data, "application/zip")
    )

    assert response.status_code == 302, messages_on(response)
    assert Manifest.objects.get().asset_count == 2


def test_the_import_page_still_checks_csrf(curator, db):
    page = import_page(curator)
    form = form_of(page, "import-bundle-form")
    form["csrfmiddlewaretoken"] = "forged" * 8
    form["bundle"] = Upload("x.zip", bundle_of(asset_entry("CHAR_01")), "application/zip")

    response = form.submit(expect_errors=True)

    assert response.status_code == 403
    assert Manifest.all_objects.count() == 0


def test_import_bundle_is_offered_to_those_who_may_add_manifests_only(curator, django_user_model):
    from django.contrib.auth.models import Permission

    from tests.admin_forms import signed_in_browser

    viewer = django_user_model.objects.create_user(
        "viewer", password="a-long-viewer-password", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_manifest"))
    browser = signed_in_browser("viewer", "a-long-viewer-password")

    assert "Import bundle" not in browser.get(MANIFEST_CHANGELIST).text
    assert (
        browser.get(f"{MANIFEST_CHANGELIST}import-bundle/", expect_errors=True).status_code == 403
    )
    assert "Import bundle" in curator.get(MANIFEST_CHANGELIST).text


def test_the_exported_zip_of_the_admin_is_a_valid_zip(curator, make_manifest, make_asset):
    manifest = heroes(make_manifest, make_asset)

    body = change_page(curator, manifest).click("Export bundle").body

    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None
