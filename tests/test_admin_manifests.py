"""The manifest admin, through Django's test client: changelist, change form with its asset
inline (formset POSTs), actions, soft delete and restore."""

import pytest
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import image_upload, stored_files

CHANGELIST = reverse("admin:manifests_manifest_changelist")
ADD = reverse("admin:manifests_manifest_add")


def change_url(manifest) -> str:
    return reverse("admin:manifests_manifest_change", args=[manifest.pk])


def manifest_fields(manifest=None, **changes) -> dict:
    """The manifest form as a browser would post it: current values, then `changes`."""
    fields = {
        "name": "",
        "description": "",
        "category": "CUSTOM",
        "tags": "",
        "status": "DRAFT",
        "processing_progress": "",
        "total_processing_cost": "0",
    }
    if manifest is not None:
        fields.update(
            name=manifest.name,
            description=manifest.description,
            category=manifest.category,
            tags=", ".join(manifest.tags),
            status=manifest.status,
            total_processing_cost=str(manifest.total_processing_cost),
        )
    return {**fields, **changes}


def asset_row(asset=None, **changes) -> dict:
    row = {"name": "", "asset_type": "", "description": "", "user_tags": "", "sort_order": ""}
    if asset is not None:
        row.update(
            id=str(asset.pk),
            manifest=str(asset.manifest_id),
            name=asset.name,
            asset_type=asset.asset_type,
            description=asset.description,
            user_tags=", ".join(asset.user_tags),
            sort_order=str(asset.sort_order),
        )
    return {**row, **changes}


def form_data(manifest=None, rows=(), **changes) -> dict:
    """Manifest fields plus the asset inline's formset (existing rows first)."""
    initial = sum(1 for row in rows if "id" in row)
    data = {
        **manifest_fields(manifest, **changes),
        "assets-TOTAL_FORMS": str(len(rows)),
        "assets-INITIAL_FORMS": str(initial),
        "assets-MIN_NUM_FORMS": "0",
        "assets-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data.update({f"assets-{index}-{key}": value for key, value in row.items()})
    return data


def form_errors(response) -> list:
    """Every error on a re-rendered change form, to explain a failed assertion."""
    if response.context is None or "adminform" not in response.context:
        return []
    errors = [response.context["adminform"].form.errors]
    errors += [f.formset.errors for f in response.context["inline_admin_formsets"]]
    errors += [f.formset.non_form_errors() for f in response.context["inline_admin_formsets"]]
    return [e for e in errors if e]


def assert_saved(response):
    assert response.status_code == 302, form_errors(response)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


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
        admin_client.get(CHANGELIST)  # warm the session and the content-type cache
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(queries)

    build(5)
    few = cost()
    build(45)
    many = cost()

    assert len(admin_client.get(CHANGELIST).context["cl"].result_list) == 50
    assert many == few


# --- change form and its asset inline ----------------------------------------------------


def test_add_manifest_with_two_assets_through_the_inline(admin_client, media_root):
    data = form_data(
        name="Hero Characters",
        category="CHARACTERS",
        tags="hero, night, hero",
        rows=[
            asset_row(name="Hero", asset_type="CHARACTER", image=image_upload("hero.png")),
            asset_row(name="Sidekick", asset_type="CHARACTER", user_tags="small, loyal"),
        ],
    )

    response = admin_client.post(ADD, data)

    assert_saved(response)
    manifest = Manifest.objects.get()
    assert manifest.tags == ["hero", "night"]
    assert manifest.asset_count == 2
    # created, two assets added, one image attached: as through the API
    assert manifest.version == 4
    hero, sidekick = Asset.objects.filter(manifest=manifest).ordered()
    assert [hero.manifest_tag, sidekick.manifest_tag] == ["CHAR_01", "CHAR_02"]
    assert [hero.sort_order, sidekick.sort_order] == [0, 1]
    assert sidekick.user_tags == ["small", "loyal"]
    assert hero.image_format == "PNG"
    assert stored_files(media_root) == sorted(
        [f"manifests/{manifest.pk}/uploads/{hero.pk}_hero.png", hero.thumbnail.name]
    )
    assert hero.thumbnail.name.startswith(f"manifests/{manifest.pk}/thumbnails/")
    assert response.url == CHANGELIST


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
        admin_client.get(change_url(manifest))
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(change_url(manifest)).status_code == 200
        return len(queries)

    small, large = make_manifest("Small"), make_manifest("Large")
    for number in range(2):
        make_asset(small, f"Hero {number}")
    for number in range(20):
        make_asset(large, f"Hero {number}")

    assert cost(large) == cost(small)


def test_inline_edits_delete_and_add_like_the_api(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    hero = make_asset(manifest, "Hero")
    sidekick = make_asset(manifest, "Sidekick")
    version = Manifest.objects.get().version

    response = admin_client.post(
        change_url(manifest),
        form_data(
            manifest,
            rows=[
                asset_row(hero, name="Hero (older)", user_tags="brave"),
                asset_row(sidekick, DELETE="on"),
                asset_row(name="Villain", asset_type="CHARACTER"),
            ],
        ),
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


def test_inline_type_change_gives_the_next_tag_of_the_new_type(
    admin_client, make_manifest, make_asset
):
    manifest = make_manifest()
    make_asset(manifest, "Sword", asset_type="OBJECT")
    shield = make_asset(manifest, "Shield", asset_type="CHARACTER")

    response = admin_client.post(
        change_url(manifest),
        form_data(manifest, rows=[asset_row(shield, asset_type="OBJECT")]),
    )

    assert_saved(response)
    assert Asset.objects.get(pk=shield.pk).manifest_tag == "OBJ_02"


def test_inline_upload_replaces_the_image(
    admin_client, make_manifest, make_asset, media_root, django_capture_on_commit_callbacks
):
    manifest = make_manifest()
    hero = make_asset(manifest)
    services.asset_attach_image(asset=hero, file=image_upload("old.png"))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            change_url(manifest),
            form_data(manifest, rows=[asset_row(hero, image=image_upload("new.jpg", fmt="JPEG"))]),
        )

    assert_saved(response)
    hero.refresh_from_db()
    assert hero.image_format == "JPEG"
    assert stored_files(media_root) == sorted(
        [f"manifests/{manifest.pk}/uploads/{hero.pk}_new.jpg", hero.thumbnail.name]
    )


def test_inline_refuses_a_file_that_is_not_an_image(admin_client, make_manifest, media_root):
    manifest = make_manifest()
    fake = SimpleUploadedFile("fake.png", b"not an image at all", content_type="image/png")

    response = admin_client.post(
        change_url(manifest),
        form_data(manifest, rows=[asset_row(name="Hero", asset_type="CHARACTER", image=fake)]),
    )

    assert response.status_code == 200
    assert "not an image we can read" in str(form_errors(response))
    assert Manifest.objects.get().asset_count == 0
    assert stored_files(media_root) == []


def test_status_offers_only_the_moves_the_domain_allows(admin_client, make_manifest):
    manifest = make_manifest()

    page = admin_client.get(change_url(manifest))
    refused = admin_client.post(change_url(manifest), form_data(manifest, status="READY"))
    moved = admin_client.post(change_url(manifest), form_data(manifest, status="PROCESSING"))

    choices = [value for value, _ in page.context["adminform"].form.fields["status"].choices]
    assert choices == ["DRAFT", "PROCESSING"]
    assert refused.status_code == 200
    assert "status" in form_errors(refused)[0]
    assert_saved(moved)
    manifest.refresh_from_db()
    assert (manifest.status, manifest.version) == ("PROCESSING", 2)


def test_saving_an_unchanged_form_keeps_the_version(admin_client, make_manifest):
    manifest = make_manifest(tags=["hero"])

    assert_saved(admin_client.post(change_url(manifest), form_data(manifest)))

    assert Manifest.objects.get().version == 1


def test_blank_name_is_a_form_error_not_a_crash(admin_client):
    response = admin_client.post(ADD, form_data(name="   "))

    assert response.status_code == 200
    assert "name" in form_errors(response)[0]
    assert not Manifest.all_objects.exists()


# --- actions -----------------------------------------------------------------------------


def action(client, name, manifests, view=None, **extra):
    url = CHANGELIST + (f"?deleted={view}" if view else "")
    data = {"action": name, "_selected_action": [str(m.pk) for m in manifests], **extra}
    return client.post(url, data, follow="post" in extra)


def test_actions_depend_on_the_view(admin_client, make_manifest):
    make_manifest()

    def offered(view=None):
        response = admin_client.get(CHANGELIST, {"deleted": view} if view else {})
        return [name for name, _ in response.context["action_form"].fields["action"].choices][1:]

    live = ["duplicate_selected", "render_contact_sheets", "soft_delete_selected"]
    assert offered() == live
    assert offered("yes") == ["restore_selected"]
    assert offered("all") == [*live, "restore_selected"]


def test_duplicate_action_asks_for_names_then_copies(admin_client, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes, "Hero")
    forests = make_manifest("Forests")

    page = action(admin_client, "duplicate_selected", [heroes, forests])
    assert not Manifest.objects.filter(parent_manifest__isnull=False).exists()
    response = action(
        admin_client,
        "duplicate_selected",
        [heroes, forests],
        post="yes",
        **{f"name_{heroes.pk}": "Heroes v2", f"name_{forests.pk}": ""},
    )

    assert page.status_code == 200
    assert "Name of the copy" in page.content.decode()
    assert 'placeholder="Heroes (copy)"' in page.content.decode()
    assert response.status_code == 200
    copies = {m.name: m for m in Manifest.objects.filter(parent_manifest__isnull=False)}
    assert set(copies) == {"Heroes v2", "Forests (copy)"}
    assert copies["Heroes v2"].parent_manifest == heroes
    assert copies["Heroes v2"].asset_count == 1
    assert Asset.objects.get(manifest=copies["Heroes v2"]).manifest_tag == "CHAR_01"
    assert any("Created 2 copies" in m for m in messages_of(response))


def test_duplicate_page_shows_the_name_the_copy_will_get(admin_client, make_manifest):
    villains = make_manifest("Villains")
    services.manifest_duplicate(manifest=villains)
    url = reverse("admin:manifests_manifest_duplicate", args=[villains.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {f"name_{villains.pk}": ""})

    assert 'placeholder="Villains (copy 2)"' in page.content.decode()
    assert response.url == change_url(Manifest.objects.get(name="Villains (copy 2)"))


def test_duplicate_action_proposes_distinct_names_for_copies_of_one_original(
    admin_client, make_manifest
):
    villains = make_manifest("Villains")
    first_copy = services.manifest_duplicate(manifest=villains)
    selected = [villains, first_copy]

    page = action(admin_client, "duplicate_selected", selected)
    form = page.context["form"]
    shown = {m.pk: form.fields[form.field_name(m)].widget.attrs["placeholder"] for m in selected}
    blank_names = {form.field_name(m): "" for m in selected}
    action(admin_client, "duplicate_selected", selected, post="yes", **blank_names)

    assert sorted(shown.values()) == ["Villains (copy 2)", "Villains (copy 3)"]
    made = dict(
        Manifest.objects.filter(name__in=shown.values()).values_list("parent_manifest", "name")
    )
    assert made == shown


def test_duplicate_action_refuses_a_too_long_name(admin_client, make_manifest):
    heroes = make_manifest("Heroes")

    response = action(
        admin_client, "duplicate_selected", [heroes], post="yes", **{f"name_{heroes.pk}": "x" * 201}
    )

    assert "at most 200 characters" in response.content.decode()
    assert Manifest.objects.count() == 1


def test_duplicate_button_on_the_change_form(admin_client, make_manifest, make_asset):
    heroes = make_manifest("Heroes")
    make_asset(heroes)
    url = reverse("admin:manifests_manifest_duplicate", args=[heroes.pk])

    assert url in admin_client.get(change_url(heroes)).content.decode()
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {f"name_{heroes.pk}": "Heroes, night"})

    copy = Manifest.objects.get(name="Heroes, night")
    assert response.status_code == 302
    assert response.url == change_url(copy)
    assert (copy.parent_manifest_id, copy.asset_count, copy.version) == (heroes.pk, 1, 1)


def test_soft_delete_action_deletes_free_manifests_and_refuses_used_ones(
    admin_client, make_manifest
):
    free = make_manifest("Free")
    used = make_manifest("Used")
    services.project_create(name="Pilot episode", manifest=used)

    response = action(admin_client, "soft_delete_selected", [free, used], post="yes")

    assert Manifest.deleted_objects.get() == free
    assert Manifest.objects.get() == used
    texts = messages_of(response)
    assert any("Deleted 1 manifest" in m for m in texts)
    assert any("“Used” was not deleted" in m and "Pilot episode" in m for m in texts)


def test_the_stock_bulk_delete_is_not_offered(admin_client, make_manifest):
    manifest = make_manifest()

    response = action(admin_client, "delete_selected", [manifest])

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert "No action selected" in str(messages_of(admin_client.get(response.url)))


def test_delete_button_soft_deletes(admin_client, make_manifest, make_asset):
    manifest = make_manifest("Heroes")
    make_asset(manifest)
    url = reverse("admin:manifests_manifest_delete", args=[manifest.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "can be" in page.content.decode()
    assert "restored" in page.content.decode()
    assert response.status_code == 200
    gone = Manifest.all_objects.get(pk=manifest.pk)
    assert gone.deleted_at is not None
    assert Asset.all_objects.filter(manifest=gone).count() == 1  # nothing removed
    assert any("restored" in m for m in messages_of(response))


def test_delete_button_refuses_a_manifest_that_projects_use(admin_client, make_manifest):
    manifest = make_manifest("Heroes")
    services.project_create(name="Pilot episode", manifest=manifest)
    url = reverse("admin:manifests_manifest_delete", args=[manifest.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"post": "yes"})

    assert "cannot be deleted" in page.content.decode()
    assert "Pilot episode" in page.content.decode()
    assert response.status_code == 200
    assert Manifest.objects.filter(pk=manifest.pk).exists()


def test_restore_action_in_the_deleted_view(admin_client, make_manifest):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)

    response = action(admin_client, "restore_selected", [manifest], view="yes", post="yes")

    assert Manifest.objects.filter(pk=manifest.pk).exists()
    assert any("Restored 1 manifest" in m for m in messages_of(response))


def test_deleted_manifest_opens_read_only_with_a_restore_button(admin_client, make_manifest):
    manifest = make_manifest("Heroes")
    services.manifest_soft_delete(manifest=manifest)
    restore = reverse("admin:manifests_manifest_restore", args=[manifest.pk])

    page = admin_client.get(change_url(manifest))
    edit = admin_client.post(change_url(manifest), form_data(manifest, name="Changed"))
    by_get = admin_client.get(restore)
    restored = admin_client.post(restore)

    assert page.status_code == 200
    assert "This manifest was deleted" in page.content.decode()
    assert f'action="{restore}"' in page.content.decode()
    assert "adminform" in page.context and not page.context["has_change_permission"]
    assert edit.status_code == 403
    assert by_get.status_code == 405
    assert restored.status_code == 302
    manifest.refresh_from_db()
    assert (manifest.deleted_at, manifest.name) == (None, "Heroes")


def test_lineage_page_shows_parent_and_copies(admin_client, make_manifest):
    original = make_manifest("Heroes")
    copy = services.manifest_duplicate(manifest=original)
    grandchild = services.manifest_duplicate(manifest=copy, name="Heroes v3")
    services.manifest_soft_delete(manifest=grandchild)

    response = admin_client.get(reverse("admin:manifests_manifest_lineage", args=[copy.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["ancestors"]) == [original]
    assert list(response.context["copies"]) == [grandchild]
    assert change_url(original) in page
    assert change_url(grandchild) in page
    assert "deleted" in page


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
    action(client, "soft_delete_selected", [live], post="yes")

    assert offered is None or len(offered.fields["action"].choices) == 1
    assert (duplicate.status_code, restore.status_code) == (403, 403)
    assert Manifest.objects.filter(pk=live.pk).exists()
    assert Manifest.deleted_objects.filter(pk=gone.pk).exists()


def test_render_contact_sheets_action(admin_client, make_manifest, make_asset):
    with_image = make_manifest("Cast")
    services.asset_attach_image(asset=make_asset(with_image), file=image_upload())
    without = make_manifest("Empty")

    response = admin_client.post(
        CHANGELIST,
        {
            "action": "render_contact_sheets",
            helpers.ACTION_CHECKBOX_NAME: [str(with_image.pk), str(without.pk)],
        },
        follow=True,
    )

    texts = [str(m) for m in response.context["messages"]]
    assert any("Rendered 1 contact sheet" in t for t in texts)
    assert any("“Empty”: no contact sheet" in t for t in texts)
    with_image.refresh_from_db()
    assert with_image.contact_sheet.name.startswith(f"manifests/{with_image.pk}/contact_sheets/")
    assert not Manifest.objects.get(pk=without.pk).contact_sheet


def test_add_form_offers_only_the_statuses_a_new_manifest_may_have(admin_client):
    page = admin_client.get(reverse("admin:manifests_manifest_add"))
    refused = admin_client.post(
        reverse("admin:manifests_manifest_add"), form_data(name="Cast", status="READY")
    )

    choices = [value for value, _ in page.context["adminform"].form.fields["status"].choices]
    assert choices == ["DRAFT", "PROCESSING"]
    assert refused.status_code == 200
    assert "status" in form_errors(refused)[0]
    assert not Manifest.all_objects.exists()
