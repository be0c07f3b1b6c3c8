"""Duplicating a manifest: assets, tags, order, files, lineage; all or nothing."""

import json

import pytest

from manifests import services
from manifests.files import delete_files
from manifests.models import Asset, Manifest
from manifests.services.manifests import COPY_CHUNK
from tests.conftest import image_upload, stored_files
from tests.queries import assert_num_queries

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py


def test_duplicate_copies_assets_tags_order_and_files(make_manifest, make_asset, media_root):
    source = make_manifest("Cast", tags=["hero"], category="CHARACTERS")
    hero = make_asset(source, name="Hero", sort_order=5)
    sword = make_asset(source, name="Sword", asset_type="OBJECT", sort_order=5)
    make_asset(source, name="Map", asset_type="OTHER", sort_order=1)
    hero = services.asset_attach_image(asset=hero, file=image_upload("hero.png"))
    services.project_create(name="uses source", manifest=source)

    copy = services.manifest_duplicate(manifest=source)

    assert copy.name == "Cast (copy)"
    assert copy.parent_manifest_id == source.pk
    assert (copy.status, copy.version, copy.times_used) == ("DRAFT", 1, 0)
    assert copy.tags == ["hero"] and copy.category == "CHARACTERS"
    assert copy.asset_count == 3
    original = [(a.manifest_tag, a.name, a.sort_order) for a in source.assets.all()]
    copied = [(a.manifest_tag, a.name, a.sort_order) for a in copy.assets.all()]
    assert (
        copied
        == original
        == [("OTHER_01", "Map", 1), ("CHAR_01", "Hero", 5), ("OBJ_01", "Sword", 5)]
    )
    hero_copy = copy.assets.get(manifest_tag="CHAR_01")
    assert hero_copy.reference_image.name.startswith(f"manifests/{copy.pk}/uploads/{hero_copy.pk}_")
    assert hero_copy.reference_image.read() == hero.reference_image.read()
    assert sword.manifest_tag == "OBJ_01"


def test_copy_keeps_its_files_when_the_original_files_are_removed(
    make_manifest, make_asset, media_root
):
    source = make_manifest()
    asset = services.asset_attach_image(asset=make_asset(source), file=image_upload())
    copy = services.manifest_duplicate(manifest=source)

    delete_files([asset.reference_image.name, asset.thumbnail.name])
    Manifest.all_objects.filter(pk=source.pk).hard_delete()

    copied = Asset.objects.get(manifest=copy)
    assert copied.reference_image.storage.exists(copied.reference_image.name)
    assert stored_files(media_root) == sorted([copied.reference_image.name, copied.thumbnail.name])


def test_copy_continues_the_tag_numbering(make_manifest, make_asset):
    source = make_manifest()
    make_asset(source)
    services.asset_delete(asset=make_asset(source))  # CHAR_02 retired
    copy = services.manifest_duplicate(manifest=source, name="Next")

    assert make_asset(copy).manifest_tag == "CHAR_03"


def copy_names(source, times: int) -> list[str]:
    return [services.manifest_duplicate(manifest=source).name for _ in range(times)]


def test_copies_are_numbered_like_a_file_manager_numbers_them(make_manifest):
    villains = make_manifest("Villains")

    assert copy_names(villains, 3) == ["Villains (copy)", "Villains (copy 2)", "Villains (copy 3)"]


def test_copying_a_copy_numbers_the_next_copy_of_its_original(make_manifest):
    villains = make_manifest("Villains")
    first, second = (services.manifest_duplicate(manifest=villains) for _ in range(2))

    assert services.manifest_duplicate(manifest=first).name == "Villains (copy 3)"
    assert services.manifest_duplicate(manifest=second).name == "Villains (copy 4)"
    # Copies of copies used to be named "… (copy) (copy)": such a name is a copy too.
    legacy = make_manifest("Villains (copy) (copy)")
    assert services.manifest_duplicate(manifest=legacy).name == "Villains (copy 5)"


def test_a_copy_takes_the_first_free_number(make_manifest):
    villains = make_manifest("Villains")
    make_manifest("Villains (copy)")
    make_manifest("Villains (copy 3)")
    make_manifest("Villains (copy 2) extended")  # not a copy's name: leaves 2 free

    assert copy_names(villains, 2) == ["Villains (copy 2)", "Villains (copy 4)"]


def test_names_of_deleted_manifests_stay_taken(make_manifest):
    villains = make_manifest("Villains")
    services.manifest_soft_delete(manifest=services.manifest_duplicate(manifest=villains))

    assert services.manifest_duplicate(manifest=villains).name == "Villains (copy 2)"


def test_a_name_that_only_looks_numbered_is_a_name_of_its_own(make_manifest):
    for name in ["(copy)", "Villains (copy 1)", "Villains (copy 02)", "Villains (Copy)"]:
        assert services.manifest_copy_name(manifest=make_manifest(name)) == f"{name} (copy)"


def test_long_names_are_shortened_to_fit_the_copy_suffix(make_manifest):
    source = make_manifest("x" * 200)

    names = copy_names(source, 2) + copy_names(source, 8)[-1:]

    assert names == ["x" * 193 + " (copy)", "x" * 191 + " (copy 2)", "x" * 190 + " (copy 10)"]
    longest = make_manifest("y" * 193 + " (copy)")
    assert services.manifest_duplicate(manifest=longest).name == "y" * 191 + " (copy 2)"


def test_an_explicit_name_is_used_as_given_even_when_taken(make_manifest):
    villains = make_manifest("Villains")
    services.manifest_duplicate(manifest=villains)

    copy = services.manifest_duplicate(manifest=villains, name=" Villains (copy) ")

    assert copy.name == "Villains (copy)"
    assert Manifest.objects.filter(name="Villains (copy)").count() == 2


def test_the_copy_name_is_found_in_one_query(make_manifest):
    villains = make_manifest("Villains")
    copy_names(villains, 5)

    with assert_num_queries(1):
        name = services.manifest_copy_name(manifest=villains, reserved=["Villains (copy 6)"])

    assert name == "Villains (copy 7)"


class CopyInterrupted(Exception):
    pass


def test_failed_duplicate_leaves_no_rows_and_no_files(make_manifest, make_asset, media_root):
    source = make_manifest()
    for _ in range(4):
        services.asset_attach_image(asset=make_asset(source), file=image_upload())
    before_files = stored_files(media_root)
    copied = []

    def fail_halfway(asset):
        copied.append(asset)
        if len(copied) == 2:
            raise CopyInterrupted

    with pytest.raises(CopyInterrupted):
        services.manifest_duplicate(manifest=source, on_asset_copied=fail_halfway)

    assert Manifest.all_objects.count() == 1
    assert Asset.all_objects.count() == 4
    assert stored_files(media_root) == before_files


def test_duplicate_through_the_api_takes_the_name_from_the_body(api, make_manifest):
    source = make_manifest("Cast")

    response = api.post(f"/api/manifests/{source.pk}/duplicate", {"name": "  Second cast "})

    assert response.status_code == 201
    assert response.json()["name"] == "Second cast"
    assert response.json()["parent_manifest_id"] == str(source.pk)


def test_duplicate_with_a_json_null_body_uses_the_default_name(api, make_manifest):
    manifest = make_manifest("Cast")
    response = api.post(
        f"/api/manifests/{manifest.pk}/duplicate", data="null", content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Cast (copy)"


def test_the_browsable_duplicate_form_asks_for_a_name_and_works_as_sent(
    client, staff_user, make_manifest
):
    manifest = make_manifest("Cast")
    client.force_login(staff_user)
    url = f"/api/manifests/{manifest.pk}/duplicate"

    page = client.get(url, HTTP_ACCEPT="text/html")
    form = page.context["raw_data_post_form"]
    content = form.fields["_content"].initial
    sent = client.post(url, content, content_type="application/json")

    assert page.status_code == 405  # GET is not allowed; the page still offers the POST form
    assert json.loads(content) == {"name": ""}
    assert sent.status_code == 201, sent.content
    assert sent.json()["name"] == "Cast (copy)"


def test_duplicating_twice_through_the_api_gives_distinct_names(api, make_manifest):
    source = make_manifest("Villains")

    names = [api.post(f"/api/manifests/{source.pk}/duplicate").json()["name"] for _ in range(2)]

    assert names == ["Villains (copy)", "Villains (copy 2)"]


def test_a_missing_original_refuses_the_duplicate_naming_the_asset(
    api, make_manifest, make_asset, media_root
):
    source = make_manifest()
    services.asset_attach_image(asset=make_asset(source, name="Hero"), file=image_upload())
    lost = services.asset_attach_image(asset=make_asset(source, name="Lost"), file=image_upload())
    delete_files([lost.reference_image.name])
    before = stored_files(media_root)

    response = api.post(f"/api/manifests/{source.pk}/duplicate")

    assert response.status_code == 409
    assert response.json()["detail"].startswith("The image file of CHAR_02 “Lost” is missing")
    assert Manifest.all_objects.count() == 1
    assert Asset.all_objects.count() == 2
    assert stored_files(media_root) == before


def test_missing_derived_files_are_not_copied(make_manifest, make_asset, media_root):
    source = make_manifest()
    asset = services.asset_attach_image(asset=make_asset(source), file=image_upload())
    source = services.manifest_render_contact_sheet(manifest=source)
    delete_files([asset.thumbnail.name, source.contact_sheet.name])

    copy = services.manifest_duplicate(manifest=source)

    copied = Asset.objects.get(manifest=copy)
    assert copied.reference_image.read() == asset.reference_image.read()
    assert (copied.thumbnail.name, copy.contact_sheet.name, copy.thumbnail.name) == ("", "", "")


@pytest.mark.django_db(transaction=True)
def test_a_manifest_changed_while_its_files_are_copied_is_copied_as_it_is_at_the_lock(
    make_manifest, make_asset, media_root
):
    source = make_manifest()
    hero = services.asset_attach_image(asset=make_asset(source, "Hero"), file=image_upload())
    heard = []

    def rename_once(clone):  # the files are copied before the manifest is locked
        if not heard:
            services.asset_update(asset=hero, name="Renamed")
        heard.append(clone.name)

    copy = services.manifest_duplicate(manifest=source, on_asset_copied=rename_once)

    assert heard == ["Hero", "Renamed"]  # copied again, under the lock
    assert [a.name for a in Asset.objects.filter(manifest=copy)] == ["Renamed"]
    copy_files = [f for f in stored_files(media_root) if f.startswith(f"manifests/{copy.pk}/")]
    assert len(copy_files) == 2  # the first pass's copies are gone


@pytest.mark.django_db(transaction=True)
def test_an_image_replaced_while_the_files_are_copied_is_no_missing_file(
    make_manifest, make_asset, media_root
):
    source = make_manifest()
    assets = [make_asset(source, f"A{n}") for n in range(COPY_CHUNK + 1)]
    for asset in assets:
        services.asset_attach_image(asset=asset, file=image_upload())
    last = assets[-1]  # in the second chunk of copies
    replaced = []

    def replace_last_image_once(clone):
        if not replaced:  # its old file goes as this change commits, before it is copied
            new_image = image_upload(color="blue")
            replaced.append(services.asset_attach_image(asset=last, file=new_image))

    copy = services.manifest_duplicate(manifest=source, on_asset_copied=replace_last_image_once)

    copied_last = Asset.objects.get(manifest=copy, manifest_tag=last.manifest_tag)
    assert copied_last.image_sha256 == replaced[0].image_sha256
    assert copied_last.reference_image.name in stored_files(media_root)
