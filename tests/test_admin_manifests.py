"""The manifest admin: changelist, change form with its asset inline, actions, soft delete
and restore. Pages a curator saves are submitted as they were rendered (tests/admin_forms.py):
every field, the blank inline rows and the management form included."""

import pytest
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from manifests import services
from manifests.models import SORT_ORDER_MAX, Asset, Manifest
from tests.admin_forms import (
    Upload,
    add_inline_row,
    assert_saved,
    errors_on,
    form_of,
    form_with_button,
    image_file,
    inline_rows,
    messages_on,
    press,
    save,
)
from tests.conftest import image_upload, stored_files
from tests.queries import assert_same_query_count, count_queries

CHANGELIST = reverse("admin:manifests_manifest_changelist")
ADD = reverse("admin:manifests_manifest_add")


def change_url(manifest) -> str:
    return reverse("admin:manifests_manifest_change", args=[manifest.pk])


def change_page(curator, manifest):
    return curator.get(change_url(manifest))


# --- changelist --------------------------------------------------------------------------


def test_changelist_shows_live_manifests_with_their_columns(admin_client, make_manifest):
    make_manifest("Heroes", category="CHARACTERS", tags=["hero"])
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Heroes" in page
    assert "Old set" not in page
    for header in ["Preview", "Category", "Status", "Asset count", "Times used", "Version"]:
        assert header in page
    assert [m.name for m in response.context["cl"].result_list] == ["Heroes"]


def test_deleted_view_lists_only_deleted_manifests_clearly_marked(admin_client, make_manifest):
    make_manifest("Heroes")
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)

    deleted = admin_client.get(CHANGELIST, {"deleted": "yes"})
    everything = admin_client.get(CHANGELIST, {"deleted": "all"})

    assert [m.name for m in deleted.context["cl"].result_list] == ["Old set"]
    assert 'class="vidpipe-deleted"' in deleted.content.decode()
    assert {m.name for m in everything.context["cl"].result_list} == {"Heroes", "Old set"}


def test_changelist_filters_by_category_status_and_tag(admin_client, make_manifest):
    make_manifest("Heroes", category="CHARACTERS", tags=["hero", "night"])
    make_manifest("Forests", category="ENVIRONMENTS", tags=["day"])

    def names(**params):
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return sorted(m.name for m in response.context["cl"].result_list)

    assert names(category__exact="ENVIRONMENTS") == ["Forests"]
    assert names(status__exact="DRAFT") == ["Forests", "Heroes"]
    assert names(tag="night") == ["Heroes"]
    tag_choices = admin_client.get(CHANGELIST).content.decode()
    assert "?tag=night" in tag_choices


def test_changelist_searches_name_description_and_tags(admin_client, make_manifest):
    make_manifest("Heroes", description="Brave knights")
    make_manifest("Forests", tags=["woodland"])

    def found(term):
        response = admin_client.get(CHANGELIST, {"q": term})
        return [m.name for m in response.context["cl"].result_list]

    assert found("hero") == ["Heroes"]
    assert found("knights") == ["Heroes"]
    assert found("woodland") == ["Forests"]


def test_changelist_previews_the_first_asset_thumbnail(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    asset = services.asset_attach_image(asset=asset, file=image_upload("hero.png"))

    page = admin_client.get(CHANGELIST).content.decode()

    assert asset.thumbnail.name.startswith(f"manifests/{manifest.pk}/thumbnails/{asset.pk}_")
    assert f'src="/media/{asset.thumbnail.name}"' in page


def test_changelist_costs_constant_queries(admin_client, make_manifest, make_asset):
    def build(count):
        for number in range(count):
            manifest = make_manifest(f"Set {number}", tags=["hero", f"t{number}"])
            asset = make_asset(manifest)
            services.asset_attach_image(asset=asset, file=image_upload("hero.png"))

    def cost():
        # warm the session and the content-type cache
        assert admin_client.get(CHANGELIST).status_code == 200
        return count_queries(lambda: admin_client.get(CHANGELIST))

    build(5)
    few = cost()
    build(45)
    many = cost()

    assert len(admin_client.get(CHANGELIST).context["cl"].result_list) == 50
    assert_same_query_count(few, many)


# --- change form and its asset inline: submitted as the page renders it --------------------


def test_add_page_with_no_assets_saves_with_its_blank_row(curator):
    page = curator.get(ADD)
    assert inline_rows(form_of(page)) == 1  # the blank extra row a browser shows and sends

    response = save(page, name="Hero Characters", category="CHARACTERS", tags="hero, night, hero")

    assert_saved(response, then=["was added successfully"])
    manifest = Manifest.objects.get()
    assert (manifest.name, manifest.tags) == ("Hero Characters", ["hero", "night"])
    assert (manifest.asset_count, manifest.version) == (0, 1)


def test_add_page_with_one_asset_in_its_blank_row(curator, media_root):
    response = save(
        curator.get(ADD),
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
    assert response.location.endswith(CHANGELIST)


def test_add_page_with_several_assets_added_with_add_another(curator):
    form = form_of(curator.get(ADD))
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
    make_asset(manifest, "Hero")
    make_asset(manifest, "Sidekick")
    form = form_of(change_page(curator, manifest))
    form["assets-0-image"] = image_file("hero.png")
    form["assets-1-image"] = image_file("sidekick.png")
    form["assets-2-name"] = "Villain"
    form["assets-2-asset_type"] = "CHARACTER"
    form["assets-2-image"] = Upload("villain.png", b"<svg/>", "image/png")

    response = form.submit("_save")

    assert response.status_code == 200
    warning = " ".join(messages_on(response))
    assert "choose the image again for row 1 (Hero): “hero.png”" in warning
    assert "row 2 (Sidekick): “sidekick.png”" in warning
    assert "villain" not in warning.lower()  # its own error says what is wrong with it
    rows = response.html.select("#assets-group tr.form-row")
    assert "Choose “hero.png” again" in rows[0].get_text()
    assert "not an image we can read" in rows[2].get_text()
    assert not any(asset.reference_image for asset in Asset.objects.all())

    # The curator picks the two valid files again, drops the bad one, and the page saves.
    again = form_of(response)
    again["assets-0-image"] = image_file("hero.png")
    again["assets-1-image"] = image_file("sidekick.png")
    again["assets-2-image"] = image_file("villain.png")
    assert_saved(again.submit("_save"))
    assert all(asset.reference_image for asset in Asset.objects.all())
    assert Asset.objects.count() == 3


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
    page = curator.get(ADD)
    tampered = form_of(page)
    tampered["name"] = "Cast"
    tampered["status"].force_value("READY")

    refused = tampered.submit("_save")

    assert [value for value, *_ in form_of(page)["status"].options] == ["DRAFT", "PROCESSING"]
    assert refused.status_code == 200
    assert "status" in errors_on(refused)[0]
    assert not Manifest.all_objects.exists()


def test_blank_name_is_a_form_error_not_a_crash(curator):
    response = save(curator.get(ADD), name="   ")

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

    response = admin_client.get(change_url(manifest))

    page = response.content.decode()
    assert response.status_code == 200
    for legend in ["Identity", "Processing", "Usage", "Lineage"]:
        assert f">{legend}</h2>" in page
    assert "CHAR_01" in page
    assert "CHAR_02" in page
    assert f"/media/{hero.thumbnail.name}" in page
    form = response.context["adminform"].form
    for derived in ["asset_count", "version", "times_used", "parent_manifest", "created_at"]:
        assert derived not in form.fields
    assert 'name="assets-0-image"' in page


def test_change_form_costs_constant_queries(admin_client, make_manifest, make_asset):
    def cost(manifest):
        assert admin_client.get(change_url(manifest)).status_code == 200
        return count_queries(lambda: admin_client.get(change_url(manifest)))

    small, large = make_manifest("Small"), make_manifest("Large")
    for number in range(2):
        make_asset(small, f"Hero {number}")
    for number in range(20):
        make_asset(large, f"Hero {number}")

    assert_same_query_count(cost(small), cost(large))


# --- actions and the pages behind them ------------------------------------------------------


def run_action(curator, name, manifests, view=None):
    """Tick `manifests` on the changelist, pick the action `name` and press Go."""
    page = curator.get(CHANGELIST + (f"?deleted={view}" if view else ""))
    form = form_of(page, "changelist-form")
    form["_selected_action"] = [str(m.pk) for m in manifests]
    form["action"] = name
    return form.submit("index")


def test_actions_depend_on_the_view(curator, make_manifest):
    make_manifest()

    def offered(view=None):
        page = curator.get(CHANGELIST, {"deleted": view} if view else {})
        return [value for value, *_ in form_of(page, "changelist-form")["action"].options][1:]

    live = ["duplicate_selected", "render_contact_sheets", "soft_delete_selected"]
    assert offered() == live
    assert offered("yes") == ["restore_selected"]
    assert offered("all") == [*live, "restore_selected"]


def test_duplicate_action_asks_for_names_then_copies(curator, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes, "Hero")
    forests = make_manifest("Forests")

    page = run_action(curator, "duplicate_selected", [heroes, forests])
    assert not Manifest.objects.filter(parent_manifest__isnull=False).exists()
    field = form_of(page, "duplicate-form")[f"name_{heroes.pk}"]
    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "Heroes v2"})

    assert "Name of the copy" in page.text
    assert field.attrs["placeholder"] == "Heroes (copy)"
    copies = {m.name: m for m in Manifest.objects.filter(parent_manifest__isnull=False)}
    assert set(copies) == {"Heroes v2", "Forests (copy)"}
    assert copies["Heroes v2"].parent_manifest == heroes
    assert copies["Heroes v2"].asset_count == 1
    assert Asset.objects.get(manifest=copies["Heroes v2"]).manifest_tag == "CHAR_01"
    assert any("Created 2 copies" in m for m in messages_on(response.follow()))


def test_duplicate_page_shows_the_name_the_copy_will_get(curator, make_manifest):
    villains = make_manifest("Villains")
    services.manifest_duplicate(manifest=villains)

    page = curator.get(reverse("admin:manifests_manifest_duplicate", args=[villains.pk]))
    form = form_with_button(page, "Duplicate")
    response = press(form)  # the name left blank

    assert form[f"name_{villains.pk}"].attrs["placeholder"] == "Villains (copy 2)"
    assert response.location.endswith(change_url(Manifest.objects.get(name="Villains (copy 2)")))


def test_duplicate_action_proposes_distinct_names_for_copies_of_one_original(
    curator, make_manifest
):
    villains = make_manifest("Villains")
    first_copy = services.manifest_duplicate(manifest=villains)
    selected = [villains, first_copy]

    page = run_action(curator, "duplicate_selected", selected)
    form = form_with_button(page, "Duplicate")
    shown = {m.pk: form[f"name_{m.pk}"].attrs["placeholder"] for m in selected}
    press(form)  # every name left blank

    assert sorted(shown.values()) == ["Villains (copy 2)", "Villains (copy 3)"]
    made = dict(
        Manifest.objects.filter(name__in=shown.values()).values_list("parent_manifest", "name")
    )
    assert made == shown


def test_duplicate_action_refuses_a_too_long_name(curator, make_manifest):
    heroes = make_manifest("Heroes")
    page = run_action(curator, "duplicate_selected", [heroes])

    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "x" * 201})

    assert "at most 200 characters" in response.text
    assert Manifest.objects.count() == 1


def test_duplicate_button_on_the_change_form(curator, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes)

    page = change_page(curator, heroes).click("Duplicate", href="duplicate")
    response = press(form_with_button(page, "Duplicate"), **{f"name_{heroes.pk}": "Heroes, night"})

    copy = Manifest.objects.get(name="Heroes, night")
    assert_saved(response, then=["a copy of “Heroes” with its 1 assets"])
    assert response.location.endswith(change_url(copy))
    assert (copy.parent_manifest_id, copy.asset_count, copy.version) == (heroes.pk, 1, 1)


def test_duplicate_page_submitted_blank_uses_the_default_name(curator, make_manifest):
    heroes = make_manifest("Heroes")
    page = curator.get(reverse("admin:manifests_manifest_duplicate", args=[heroes.pk]))

    assert_saved(press(form_with_button(page, "Duplicate")))

    assert Manifest.objects.filter(name="Heroes (copy)", parent_manifest=heroes).exists()


def test_soft_delete_action_deletes_free_manifests_and_refuses_used_ones(curator, make_manifest):
    free = make_manifest("Free")
    used = make_manifest("Used")
    services.project_create(name="Pilot episode", manifest=used)

    response = run_action(curator, "soft_delete_selected", [free, used]).follow()

    assert Manifest.deleted_objects.get() == free
    assert Manifest.objects.get() == used
    texts = messages_on(response)
    assert any("Deleted 1 manifest" in m for m in texts)
    assert any("“Used” was not deleted" in m and "Pilot episode" in m for m in texts)


def test_the_stock_bulk_delete_is_not_offered(admin_client, make_manifest):
    manifest = make_manifest()

    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", helpers.ACTION_CHECKBOX_NAME: [str(manifest.pk)]},
        follow=True,
    )

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert "No action selected" in str([str(m) for m in response.context["messages"]])


def test_delete_button_soft_deletes(curator, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    make_asset(manifest)

    page = change_page(curator, manifest).click("Delete", href="delete")
    response = press(form_with_button(page, "Yes, delete it"))

    assert "can be" in page.text and "restored" in page.text
    gone = Manifest.all_objects.get(pk=manifest.pk)
    assert gone.deleted_at is not None
    assert Asset.all_objects.filter(manifest=gone).count() == 1  # nothing removed
    assert any("restored" in m for m in messages_on(response.follow()))


def test_delete_button_refuses_a_manifest_that_projects_use(curator, make_manifest):
    manifest = make_manifest("Heroes")
    services.project_create(name="Pilot episode", manifest=manifest)

    page = curator.get(reverse("admin:manifests_manifest_delete", args=[manifest.pk]))

    assert "cannot be deleted" in page.text
    assert "Pilot episode" in page.text
    assert not page.html.select("#content form input[type=submit]")
    assert Manifest.objects.filter(pk=manifest.pk).exists()


def test_restore_action_in_the_deleted_view(curator, make_manifest):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)

    response = run_action(curator, "restore_selected", [manifest], view="yes").follow()

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert any("Restored 1 manifest" in m for m in messages_on(response))


def test_deleted_manifest_opens_read_only_with_a_restore_button(
    curator, admin_client, make_manifest
):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)
    restore = reverse("admin:manifests_manifest_restore", args=[manifest.pk])

    page = change_page(curator, manifest)
    forged_edit = admin_client.post(change_url(manifest), {"name": "Changed"})
    by_get = admin_client.get(restore)
    restored = press(form_with_button(page, "Restore this manifest"), "_restore")

    assert "This manifest was deleted" in page.text
    assert not page.context["has_change_permission"]
    assert not page.html.select("input[name=_save]")
    assert forged_edit.status_code == 403
    assert by_get.status_code == 405
    assert_saved(restored, then=["Restored “Heroes”"])
    manifest.refresh_from_db()
    assert (manifest.deleted_at, manifest.name) == (None, "Heroes")


def test_lineage_page_shows_parent_and_copies(curator, make_manifest):
    original = make_manifest("Heroes")
    copy = services.manifest_duplicate(manifest=original)
    grandchild = services.manifest_duplicate(manifest=copy, name="Heroes v3")
    services.manifest_soft_delete(manifest=grandchild)

    response = change_page(curator, copy).click("Lineage", href="lineage")

    assert list(response.context["ancestors"]) == [original]
    assert list(response.context["copies"]) == [grandchild]
    assert response.click("Heroes v3").status_code == 200
    assert change_url(original) in response.text
    assert "deleted" in response.text


@pytest.mark.parametrize("view", ["duplicate", "lineage", "restore"])
def test_pages_of_an_unknown_manifest_are_404(admin_client, view):
    url = reverse(f"admin:manifests_manifest_{view}", args=["00000000-0000-0000-0000-000000000000"])

    response = admin_client.post(url) if view == "restore" else admin_client.get(url)

    assert response.status_code == 404


def test_a_viewer_cannot_duplicate_delete_or_restore(client, make_manifest):
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_manifest"))
    client.force_login(viewer)
    live, gone = make_manifest("Live"), make_manifest("Gone")
    services.manifest_soft_delete(manifest=gone)

    offered = client.get(CHANGELIST, {"deleted": "all"}).context["action_form"]
    duplicate = client.post(reverse("admin:manifests_manifest_duplicate", args=[live.pk]))
    restore = client.post(reverse("admin:manifests_manifest_restore", args=[gone.pk]))
    client.post(
        CHANGELIST,
        {"action": "soft_delete_selected", helpers.ACTION_CHECKBOX_NAME: [str(live.pk)]},
    )

    assert offered is None or len(offered.fields["action"].choices) == 1
    assert (duplicate.status_code, restore.status_code) == (403, 403)
    assert Manifest.objects.filter(pk=live.pk).exists()
    assert Manifest.deleted_objects.filter(pk=gone.pk).exists()


def test_render_contact_sheets_action(curator, make_manifest, make_asset):
    with_image = make_manifest("Cast")
    services.asset_attach_image(asset=make_asset(with_image), file=image_upload())
    without = make_manifest("Empty")

    response = run_action(curator, "render_contact_sheets", [with_image, without]).follow()

    texts = messages_on(response)
    assert any("Rendered 1 contact sheet" in t for t in texts)
    assert any("“Empty”: no contact sheet" in t for t in texts)
    with_image.refresh_from_db()
    assert with_image.contact_sheet.name.startswith(f"manifests/{with_image.pk}/contact_sheets/")
    assert not Manifest.objects.get(pk=without.pk).contact_sheet


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

    assert any("largest sort_order" in m for m in messages_on(response))
    assert stored_files(media_root) == before
    hero = Asset.objects.get()
    assert hero.reference_image.name == ""
    assert Manifest.objects.get().asset_count == 1


@pytest.mark.parametrize("progress", ['{"done": NaN}', '{"done": Infinity}'])
def test_admin_refuses_progress_json_the_api_could_not_show(curator, progress):
    """JSON from the admin's text box may hold NaN (Python's json reads it): PostgreSQL
    cannot store it and the API could not render it; the domain refuses it with a message."""
    response = save(curator.get(ADD), name="Cast", processing_progress=progress)

    if response.status_code == 302:
        response = response.follow()
    assert "NaN and infinite numbers are not allowed." in response.text
    assert not Manifest.all_objects.exists()


@pytest.mark.parametrize("model", ["manifest", "asset", "project"])
def test_admin_search_takes_the_first_20_words(admin_client, make_manifest, model):
    make_manifest("a b")
    words = " ".join(["a"] * 1000)

    response = admin_client.get(reverse(f"admin:manifests_{model}_changelist"), {"q": words})

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Searched for the first 20 of 1000 words only."]
