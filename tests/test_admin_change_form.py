"""A manifest's add and change pages with the asset inline, submitted as a browser submits
them (tests/admin_forms.py): every field, the blank extra rows and the management form."""

import pytest
from django.contrib.admin.models import LogEntry

from manifests import services
from manifests.models import SORT_ORDER_MAX, Asset, Manifest, ManifestVersion
from tests.admin_forms import (
    MANIFEST_ADD,
    MANIFEST_CHANGELIST,
    Upload,
    add_inline_row,
    assert_saved,
    change_page,
    errors_on,
    form_of,
    image_file,
    inline_rows,
    manifest_url,
    messages_on,
    press,
    save,
)
from tests.conftest import image_upload, stored_files, url_path
from tests.queries import assert_same_query_count, count_queries

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py

# --- change form and its asset inline: submitted as the page renders it --------------------


def test_add_page_with_no_assets_saves_with_its_blank_row(curator):
    page = curator.get(MANIFEST_ADD)
    assert inline_rows(form_of(page)) == 1  # the blank extra row a browser shows and sends

    response = save(page, name="Hero Characters", category="CHARACTERS", tags="hero, night, hero")

    assert_saved(response, then=["was added successfully"])
    manifest = Manifest.objects.get()
    assert (manifest.name, manifest.tags) == ("Hero Characters", ["hero", "night"])
    assert (manifest.asset_count, manifest.version) == (0, 1)


def test_add_page_with_one_asset_in_its_blank_row(curator, media_root):
    response = save(
        curator.get(MANIFEST_ADD),
        name="Hero Characters",
        category="CHARACTERS",
        **{
            "assets-0-name": "Hero",
            "assets-0-asset_type": "CHARACTER",
            "assets-0-image": image_file("hero.png"),
        },
    )

    assert_saved(response)
    manifest = Manifest.objects.get()
    hero = Asset.objects.get()
    assert (hero.manifest_tag, hero.sort_order, hero.image_format) == ("CHAR_01", 0, "PNG")
    # created, one asset added, its image attached: as through the API
    assert (manifest.asset_count, manifest.version) == (1, 3)
    assert stored_files(media_root) == sorted(
        [f"manifests/{manifest.pk}/uploads/{hero.pk}_hero.png", hero.thumbnail.name]
    )
    assert response.location.endswith(MANIFEST_CHANGELIST)


def test_add_page_with_several_assets_added_with_add_another(curator):
    form = form_of(curator.get(MANIFEST_ADD))
    form["name"] = "Hero Characters"
    for name in ["Hero", "Sidekick", "Sword"]:
        row = 0 if name == "Hero" else add_inline_row(form)
        form[f"assets-{row}-name"] = name
        form[f"assets-{row}-asset_type"] = "OBJECT" if name == "Sword" else "CHARACTER"
    form["assets-1-user_tags"] = "small, loyal"

    assert_saved(form.submit("_save"))

    manifest = Manifest.objects.get()
    assets = list(Asset.objects.filter(manifest=manifest).ordered())
    assert [(a.name, a.manifest_tag, a.sort_order) for a in assets] == [
        ("Hero", "CHAR_01", 0),
        ("Sidekick", "CHAR_02", 1),
        ("Sword", "OBJ_01", 2),
    ]
    assert assets[1].user_tags == ["small", "loyal"]
    assert manifest.asset_count == 3


@pytest.mark.parametrize("assets", [0, 1, 3])
def test_change_page_saves_one_edited_field_whatever_its_assets(
    curator, make_manifest, make_asset, assets
):
    manifest = make_manifest(tags=["hero"], description="Old words")
    for number in range(assets):
        make_asset(manifest, f"Hero {number}", user_tags=["brave"] if number else [])
    page = change_page(curator, manifest)
    assert inline_rows(form_of(page)) == assets + 1  # plus the blank row

    response = save(page, description="New words")

    assert_saved(response, then=["was changed successfully"])
    manifest.refresh_from_db()
    assert (manifest.description, manifest.tags) == ("New words", ["hero"])
    assert (manifest.asset_count, manifest.version) == (assets, 1 + assets + 1)
    entry = LogEntry.objects.get(object_id=str(manifest.pk))
    assert entry.get_change_message() == "Changed Description."


def test_saving_an_unchanged_page_changes_nothing(curator, make_manifest, make_asset):
    manifest = make_manifest(tags=["hero"], processing_progress={"step": 1})
    make_asset(manifest, "Hero", user_tags=["brave", "tall"], description="A knight")

    assert_saved(save(change_page(curator, manifest)))

    assert Manifest.objects.get().version == 2
    assert LogEntry.objects.get().get_change_message() == "No fields changed."


def test_inline_edits_delete_and_add_like_the_api(curator, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest, "Hero")
    make_asset(manifest, "Sidekick")
    version = Manifest.objects.get().version

    response = save(
        change_page(curator, manifest),
        **{
            "assets-0-name": "Hero (older)",
            "assets-0-user_tags": "brave",
            "assets-1-DELETE": True,
            "assets-2-name": "Villain",
            "assets-2-asset_type": "CHARACTER",
        },
    )

    assert_saved(response)
    manifest.refresh_from_db()
    assets = list(Asset.objects.filter(manifest=manifest).ordered())
    assert [(a.name, a.manifest_tag) for a in assets] == [
        ("Hero (older)", "CHAR_01"),
        ("Villain", "CHAR_03"),  # CHAR_02 was the deleted sidekick's: never reused
    ]
    assert assets[0].user_tags == ["brave"]
    assert manifest.asset_count == 2
    assert manifest.version == version + 3  # one update, one delete, one creation
    history = LogEntry.objects.get(object_id=str(manifest.pk)).get_change_message()
    assert "Deleted asset" in history
    assert "Added asset" in history


def test_ticking_delete_alone_removes_the_asset(curator, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest, "Hero")
    make_asset(manifest, "Sidekick")

    assert_saved(save(change_page(curator, manifest), **{"assets-0-DELETE": True}))

    assert [a.name for a in Asset.objects.all()] == ["Sidekick"]
    assert Manifest.objects.get().asset_count == 1


def test_inline_type_change_gives_the_next_tag_of_the_new_type(curator, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest, "Sword", asset_type="OBJECT")
    shield = make_asset(manifest, "Shield", asset_type="CHARACTER")

    assert_saved(save(change_page(curator, manifest), **{"assets-1-asset_type": "OBJECT"}))

    assert Asset.objects.get(pk=shield.pk).manifest_tag == "OBJ_02"


def test_inline_upload_replaces_the_image(
    curator, make_manifest, make_asset, media_root, django_capture_on_commit_callbacks
):
    manifest = make_manifest()
    hero = make_asset(manifest)
    services.asset_attach_image(asset=hero, file=image_upload("old.png"))
    page = change_page(curator, manifest)

    with django_capture_on_commit_callbacks(execute=True):
        response = save(page, **{"assets-0-image": image_file("new.jpg", fmt="JPEG")})

    assert_saved(response)
    hero.refresh_from_db()
    assert hero.image_format == "JPEG"
    assert stored_files(media_root) == sorted(
        [f"manifests/{manifest.pk}/uploads/{hero.pk}_new.jpg", hero.thumbnail.name]
    )


def test_inline_refuses_a_file_that_is_not_an_image(curator, make_manifest, media_root):
    manifest = make_manifest()

    response = save(
        change_page(curator, manifest),
        **{
            "assets-0-name": "Hero",
            "assets-0-asset_type": "CHARACTER",
            "assets-0-image": Upload("fake.png", b"not an image at all", "image/png"),
        },
    )

    assert response.status_code == 200
    assert "not an image we can read" in str(errors_on(response))
    assert Manifest.objects.get().asset_count == 0
    assert stored_files(media_root) == []


def test_a_refused_page_says_which_files_to_choose_again(curator, make_manifest, make_asset):
    manifest = make_manifest()
    for name in ["Hero", "Sidekick", "Extra"]:
        make_asset(manifest, name)
    form = form_of(change_page(curator, manifest))
    form["assets-0-image"] = image_file("hero.png")
    form["assets-1-image"] = image_file("sidekick.png")
    form["assets-2-image"] = image_file("extra.png")
    form["assets-2-DELETE"] = True  # going anyway: its file is not asked for again
    form["assets-3-name"] = "Villain"
    form["assets-3-asset_type"] = "CHARACTER"
    form["assets-3-image"] = Upload("villain.png", b"<svg/>", "image/png")

    response = form.submit("_save")

    assert response.status_code == 200
    warning = " ".join(messages_on(response))
    assert "choose the image again for row 1 (Hero): “hero.png”" in warning
    assert "row 2 (Sidekick): “sidekick.png”" in warning
    assert "extra.png" not in warning
    assert "villain" not in warning.lower()  # its own error says what is wrong with it
    rows = response.html.select("#assets-group tr.form-row")
    assert "Choose “hero.png” again" in rows[0].get_text()
    assert "Choose" not in rows[2].get_text()
    assert "not an image we can read" in rows[3].get_text()
    assert not any(asset.reference_image for asset in Asset.objects.all())

    # The curator picks the files again, a real image for the villain this time: it saves.
    again = form_of(response)
    again["assets-0-image"] = image_file("hero.png")
    again["assets-1-image"] = image_file("sidekick.png")
    again["assets-3-image"] = image_file("villain.png")
    assert_saved(again.submit("_save"))
    assert sorted(a.name for a in Asset.objects.exclude(reference_image="")) == [
        "Hero",
        "Sidekick",
        "Villain",
    ]
    assert not Asset.objects.filter(name="Extra").exists()


def test_status_offers_only_the_moves_the_domain_allows(curator, make_manifest):
    manifest = make_manifest()
    page = change_page(curator, manifest)

    tampered = form_of(page)
    tampered["status"].force_value("READY")  # not offered: a forged request
    refused = tampered.submit("_save")
    moved = save(page, status="PROCESSING")

    assert [value for value, *_ in form_of(page)["status"].options] == ["DRAFT", "PROCESSING"]
    assert refused.status_code == 200
    assert "status" in errors_on(refused)[0]
    assert_saved(moved)
    manifest.refresh_from_db()
    assert (manifest.status, manifest.version) == ("PROCESSING", 2)


def test_add_page_offers_only_the_statuses_a_new_manifest_may_have(curator):
    page = curator.get(MANIFEST_ADD)
    tampered = form_of(page)
    tampered["name"] = "Cast"
    tampered["status"].force_value("READY")

    refused = tampered.submit("_save")

    assert [value for value, *_ in form_of(page)["status"].options] == ["DRAFT", "PROCESSING"]
    assert refused.status_code == 200
    assert "status" in errors_on(refused)[0]
    assert not Manifest.all_objects.exists()


def test_blank_name_is_a_form_error_not_a_crash(curator):
    response = save(curator.get(MANIFEST_ADD), name="   ")

    assert response.status_code == 200
    assert "name" in errors_on(response)[0]
    assert not Manifest.all_objects.exists()


def test_change_form_shows_previews_tags_and_grouped_fields(
    admin_client, make_manifest, make_asset
):
    manifest = make_manifest()
    hero = make_asset(manifest, "Hero")
    make_asset(manifest, "Sidekick")
    hero = services.asset_attach_image(asset=hero, file=image_upload("hero.png"))

    response = admin_client.get(manifest_url(manifest))

    page = response.content.decode()
    assert response.status_code == 200
    for legend in ["Identity", "Processing", "Usage", "Lineage"]:
        assert f">{legend}</h2>" in page
    assert "CHAR_01" in page
    assert "CHAR_02" in page
    assert url_path(hero.thumbnail.name) in page
    form = response.context["adminform"].form
    for derived in ["asset_count", "version", "times_used", "parent_manifest", "created_at"]:
        assert derived not in form.fields
    assert 'name="assets-0-image"' in page


def test_change_form_costs_constant_queries(admin_client, make_manifest, make_asset):
    def cost(manifest):
        assert admin_client.get(manifest_url(manifest)).status_code == 200
        return count_queries(lambda: admin_client.get(manifest_url(manifest)))

    small, large = make_manifest("Small"), make_manifest("Large")
    for number in range(2):
        make_asset(small, f"Hero {number}")
    for number in range(20):
        make_asset(large, f"Hero {number}")

    assert_same_query_count(cost(small), cost(large))


# --- refusals after a valid form, odd input -------------------------------------------------


def test_a_save_refused_mid_way_after_an_inline_upload_leaves_no_file(
    curator, make_manifest, make_asset, media_root
):
    manifest = make_manifest()
    make_asset(manifest, "Hero", sort_order=SORT_ORDER_MAX)
    before = stored_files(media_root)

    response = save(
        change_page(curator, manifest),
        **{
            "assets-0-image": image_file("new.png"),
            # A new row placed after the last one: refused by the domain mid-save.
            "assets-1-name": "Sidekick",
            "assets-1-asset_type": "CHARACTER",
        },
    ).follow()

    refusal = " ".join(messages_on(response))
    assert "largest sort_order" in refusal
    assert "Nothing was saved: choose the files again (“new.png”)." in refusal
    assert stored_files(media_root) == before
    hero = Asset.objects.get()
    assert hero.reference_image.name == ""
    assert Manifest.objects.get().asset_count == 1


@pytest.mark.parametrize("progress", ['{"done": NaN}', '{"done": Infinity}'])
def test_admin_refuses_progress_json_the_api_could_not_show(curator, progress):
    """JSON from the admin's text box may hold NaN (Python's json reads it): PostgreSQL
    cannot store it and the API could not render it; the domain refuses it with a message."""
    response = save(curator.get(MANIFEST_ADD), name="Cast", processing_progress=progress)

    if response.status_code == 302:
        response = response.follow()
    assert "NaN and infinite numbers are not allowed." in response.text
    assert not Manifest.all_objects.exists()


def test_made_ready_with_asset_edits_on_the_same_page_freezes_the_page_as_saved(
    curator, make_manifest, make_asset
):
    manifest = make_manifest(status="PROCESSING")
    make_asset(manifest, "Hero")

    response = save(
        change_page(curator, manifest),
        status="READY",
        **{
            "assets-0-name": "Hero II",
            "assets-1-name": "Villain",
            "assets-1-asset_type": "CHARACTER",
        },
    )

    assert_saved(response)
    manifest.refresh_from_db()
    (frozen,) = ManifestVersion.objects.filter(manifest=manifest)
    assert frozen.number == manifest.version
    assert [a["name"] for a in frozen.assets] == ["Hero II", "Villain"]
    assert frozen.fields["status"] == "READY"


def test_a_page_without_the_version_it_was_opened_at_is_refused(curator, make_manifest):
    manifest = make_manifest("Villains")
    form = form_of(change_page(curator, manifest))
    form["expected_version"].force_value("")  # an old tab, a forged post

    response = press(form, "_save", name="Mine")

    assert response.status_code == 200
    assert "which version it was opened at" in response.text
    assert Manifest.objects.get(pk=manifest.pk).name == "Villains"
