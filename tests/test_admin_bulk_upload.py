"""The manifest page's "Add images as assets" form, as a browser without JavaScript submits
it (several real images in one multiple-file input), and the JSON its script asks for.
The drop zone itself runs in the real browser test (tests/test_browser_admin.py)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from webtest import Upload
from webtest.forms import Form

from manifests import services
from manifests.models import Asset, Manifest
from tests.admin_forms import (
    assert_saved,
    change_page,
    form_of,
    image_file,
    manifest_url,
    messages_on,
    save,
)
from tests.conftest import stored_files
from tests.image_factories import TEXT

BULK_FORM = "bulk-upload-form"


def choose_files(form: Form, name: str, uploads: list[Upload]) -> None:
    """Pick several files in one `<input type=file multiple>` (WebTest then sends one part
    per file under the input's name, as a browser does)."""
    (field,) = form.fields[name]
    assert "multiple" in field.attrs, "the input does not take several files"
    field.value = uploads


@pytest.fixture
def manifest(db):
    manifest = services.manifest_create(name="Cast", category="CHARACTERS")
    services.asset_create(manifest=manifest, name="Existing", asset_type="OBJECT")
    return manifest


def test_fallback_form_adds_the_images_and_names_the_refused_one(curator, manifest, media_root):
    page = change_page(curator, manifest)
    form = page.forms[BULK_FORM]
    choose_files(
        form,
        "files",
        [
            image_file("hero_front.png", color="navy"),
            Upload("notes.txt", TEXT, "text/plain"),
            image_file("villain.jpg", color="maroon", fmt="JPEG"),
        ],
    )
    form["asset_type"] = "OBJECT"

    response = form.submit()

    assert response.status_code == 302
    assert response["Location"] == manifest_url(manifest)
    shown = response.follow()
    said = messages_on(shown)
    assert "Added 2 assets from images: OBJ_02 “hero front”, OBJ_03 “villain”." in said
    assert any(m.startswith("“notes.txt” was not added: The file is not an image") for m in said)
    assets = Asset.objects.filter(manifest=manifest).ordered()
    assert [(a.manifest_tag, a.name) for a in assets] == [
        ("OBJ_01", "Existing"),
        ("OBJ_02", "hero front"),
        ("OBJ_03", "villain"),
    ]
    manifest = Manifest.objects.get(pk=manifest.pk)
    assert (manifest.asset_count, manifest.version) == (3, 3)
    assert len(stored_files(media_root)) == 4
    # The inline shows the new assets with their thumbnails.
    previews = shown.html.select("#assets-group img.vidpipe-preview")
    assert len(previews) == 2
    assert sorted(img["src"] for img in previews) == sorted(a.thumbnail.url for a in assets[1:])


def test_the_drop_zone_is_a_form_of_its_own_after_the_change_form(curator, manifest):
    page = change_page(curator, manifest)

    bulk_form = page.html.select_one("#bulk-upload-form")
    assert bulk_form.find_parent("form") is None  # no form inside a form
    assert bulk_form in page.html.select_one("#manifest_form").find_all_next("form")
    assert "Drop images here to add assets" in page.html.select_one("#bulk-drop-zone").text
    # The change form is still the one form that saves the page, as rendered.
    assert_saved(save(page, "_continue", description="Now with more images."))
    assert Manifest.objects.get(pk=manifest.pk).description == "Now with more images."


def test_the_script_gets_each_files_result_as_json(curator, manifest, media_root):
    form = change_page(curator, manifest).forms[BULK_FORM]
    choose_files(
        form,
        "files",
        [Upload("a.txt", TEXT, "text/plain"), image_file("sidekick.png")],
    )

    response = form.submit(headers={"Accept": "application/json"})

    assert response.status_code == 201
    assert response.json["created"] == [{"index": 1, "tag": "CHAR_01", "name": "sidekick"}]
    (refused,) = response.json["refused"]
    assert (refused["index"], refused["file"]) == (0, "a.txt")
    assert "not an image" in refused["reason"]


def test_nothing_added_is_said_and_changes_nothing(curator, manifest, media_root):
    before = Manifest.objects.get(pk=manifest.pk).version
    form = change_page(curator, manifest).forms[BULK_FORM]
    choose_files(form, "files", [Upload("a.txt", TEXT, "text/plain")])

    json_answer = form.submit(headers={"Accept": "application/json"}, status=400)
    shown = form.submit().follow()

    assert json_answer.json["created"] == []
    assert "No images were added." in messages_on(shown)
    assert Manifest.objects.get(pk=manifest.pk).version == before
    assert stored_files(media_root) == []


def test_no_file_chosen_is_said(curator, manifest):
    form = change_page(curator, manifest).forms[BULK_FORM]

    shown = form.submit().follow()

    assert "No images were added: Choose one or more images to add." in messages_on(shown)


def test_deleted_manifests_have_no_drop_zone_and_refuse_the_post(curator, manifest):
    page = change_page(curator, manifest)
    form = page.forms[BULK_FORM]
    choose_files(form, "files", [image_file("late.png")])
    services.manifest_soft_delete(manifest=manifest)

    assert form.submit(status=403).status_code == 403
    assert "bulk-upload-form" not in change_page(curator, manifest).text
    assert Asset.all_objects.filter(manifest=manifest).count() == 1


def test_staff_without_the_right_to_add_assets_get_no_drop_zone(db, manifest):
    editor = get_user_model().objects.create_user("editor", password="pw", is_staff=True)
    editor.user_permissions.set(
        Permission.objects.filter(codename__in=["view_manifest", "change_manifest"])
    )
    client = Client()
    client.force_login(editor)

    page = client.get(manifest_url(manifest))
    refused = client.post(manifest_url(manifest, "bulk-upload"), {"asset_type": "OBJECT"})

    assert page.status_code == 200
    assert b"bulk-upload-form" not in page.content
    assert refused.status_code == 403


def test_the_upload_view_takes_posts_only(curator, manifest):
    assert curator.get(manifest_url(manifest, "bulk-upload"), status=405).status_code == 405


def test_the_form_posts_to_the_upload_view_with_csrf(curator, manifest):
    form = form_of(change_page(curator, manifest), BULK_FORM)

    assert form.action == manifest_url(manifest, "bulk-upload")
    assert form.enctype == "multipart/form-data"
    assert form["csrfmiddlewaretoken"].value
