"""Optimistic concurrency: ETags on manifests and assets, 304 for If-None-Match, and 412 for
a change whose If-Match no longer matches (checked by the services under the row lock)."""

import json

import pytest
from django.db import connection, transaction
from django.http import HttpResponseNotModified
from rest_framework.test import APIClient

from manifests import services
from manifests.etags import IfMatch, asset_etag, manifest_etag
from manifests.exceptions import VersionConflict
from manifests.models import Asset, Manifest
from tests.admin_forms import assert_saved, change_page, form_of, image_file, save
from tests.conftest import image_upload, stored_files
from tests.threads import run_in_threads


@pytest.fixture
def manifest(make_manifest):
    return make_manifest("Heroes")


@pytest.fixture
def hero(manifest, make_asset):
    return services.asset_attach_image(asset=make_asset(manifest), file=image_upload())


def manifest_url(manifest) -> str:
    return f"/api/manifests/{manifest.pk}"


def asset_url(asset) -> str:
    return f"/api/assets/{asset.pk}"


def etag_of(api, url: str) -> str:
    response = api.get(url)
    assert response.status_code == 200
    return response["ETag"]


def unchanged(model, pk) -> dict:
    """A row's values, to show that a refused request changed nothing."""
    return model.all_objects.filter(pk=pk).values().get()


# --- ETags and If-None-Match --------------------------------------------------------------


def test_manifest_etag_is_its_id_and_revision(api, manifest):
    manifest.refresh_from_db()
    response = api.get(manifest_url(manifest))
    assert response["ETag"] == f'"{manifest.pk}-r{manifest.revision}"' == manifest_etag(manifest)


def test_asset_etag_is_a_digest_of_its_row_the_same_from_memory_and_from_the_database(api, hero):
    response = api.get(asset_url(hero))
    assert response["ETag"] == asset_etag(hero) == asset_etag(Asset.objects.get(pk=hero.pk))
    assert response["ETag"].startswith(f'"{hero.pk}-')


@pytest.mark.parametrize("route", ["manifest", "asset", "nested asset"])
def test_get_with_the_current_etag_in_if_none_match_answers_304_without_a_body(api, hero, route):
    url = {
        "manifest": manifest_url(hero.manifest),
        "asset": asset_url(hero),
        "nested asset": f"/api/manifests/{hero.manifest_id}/assets/{hero.pk}",
    }[route]
    etag = etag_of(api, url)

    for header in [etag, f"W/{etag}", f'"other", {etag}', "*"]:
        response = api.get(url, HTTP_IF_NONE_MATCH=header)
        assert (response.status_code, response.content, response["ETag"]) == (304, b"", etag)
    for header in ['"other"', "not an etag"]:  # a stale or malformed one: the full answer
        response = api.get(url, HTTP_IF_NONE_MATCH=header)
        assert (response.status_code, response["ETag"]) == (200, etag)


@pytest.mark.parametrize("route", ["manifest", "asset", "frozen version"])
def test_the_browsable_api_is_another_representation_and_its_304_has_no_body(api, hero, route):
    if route == "frozen version":
        number = services.manifest_freeze(manifest=hero.manifest).number
        url = f"/api/manifests/{hero.manifest_id}/versions/{number}"
    else:
        url = manifest_url(hero.manifest) if route == "manifest" else asset_url(hero)
    json_etag = etag_of(api, url)

    page = api.get(url, HTTP_ACCEPT="text/html")
    html_etag = page["ETag"]
    again = api.get(url, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=html_etag)
    crossed = api.get(url, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=json_etag)

    assert page.status_code == 200 and html_etag == f'{json_etag[:-1]}.api"'
    # Django's own 304 (the test client would hide a rendered body; this class has none).
    assert isinstance(again, HttpResponseNotModified) and again["ETag"] == html_etag
    assert crossed.status_code == 200


def _patch(manifest, hero):
    services.manifest_update(manifest=manifest, description="changed")


def _add_asset(manifest, hero):
    services.asset_create(manifest=manifest, name="Sidekick", asset_type="CHARACTER")


def _link_project(manifest, hero):  # times_used moves, the version does not
    services.project_create(name="Pilot", manifest=manifest)


def _contact_sheet(manifest, hero):  # a derived file: the version does not move
    services.manifest_render_contact_sheet(manifest=manifest)


def _rebuild_thumbnail(manifest, hero):  # a derived file: the version does not move
    services.asset_render_thumbnail(asset=hero)


@pytest.mark.parametrize(
    "change", [_patch, _add_asset, _link_project, _contact_sheet, _rebuild_thumbnail]
)
def test_manifest_etag_moves_with_everything_its_answer_shows(api, hero, change):
    manifest = hero.manifest
    before = etag_of(api, manifest_url(manifest))

    change(manifest, hero)

    response = api.get(manifest_url(manifest), HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response["ETag"] != before


def test_asset_etag_moves_with_a_rebuilt_thumbnail_but_not_with_a_sibling(api, hero, make_asset):
    before = etag_of(api, asset_url(hero))
    make_asset(hero.manifest, name="Sidekick")
    assert etag_of(api, asset_url(hero)) == before

    services.asset_render_thumbnail(asset=hero)

    after = api.get(asset_url(hero), HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before


def test_change_answers_carry_the_etag_a_following_get_gives(api, hero):
    manifest = hero.manifest
    patched = api.patch(manifest_url(manifest), {"description": "night shoot"})
    assert patched["ETag"] == etag_of(api, manifest_url(manifest))

    patched = api.patch(asset_url(hero), {"user_tags": ["lead", " lead", "night"]})
    assert patched["ETag"] == etag_of(api, asset_url(hero))

    uploaded = api.post(
        f"{asset_url(hero)}/upload", {"file": image_upload(color="blue")}, format="multipart"
    )
    assert uploaded["ETag"] == etag_of(api, asset_url(hero))

    created = api.post(
        f"/api/manifests/{manifest.pk}/assets", {"name": "Car", "asset_type": "VEHICLE"}
    )
    assert created.status_code == 201
    assert created["ETag"] == etag_of(api, f"/api/assets/{created.json()['id']}")


# --- If-Match on changes --------------------------------------------------------------------


def test_patch_with_the_current_etag_changes_and_answers_the_new_one(api, manifest):
    etag = etag_of(api, manifest_url(manifest))

    response = api.patch(manifest_url(manifest), {"name": "Villains"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert Manifest.objects.get(pk=manifest.pk).name == "Villains"


def test_patch_with_a_stale_etag_is_refused_with_412_and_the_current_etag(api, manifest):
    stale = etag_of(api, manifest_url(manifest))
    services.manifest_update(manifest=manifest, description="someone else's")
    current = etag_of(api, manifest_url(manifest))
    before = unchanged(Manifest, manifest.pk)

    response = api.patch(manifest_url(manifest), {"name": "Villains"}, HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    body = response.json()
    assert body["etag"] == response["ETag"] == current
    assert "changed by someone else" in body["detail"]
    assert unchanged(Manifest, manifest.pk) == before


def test_a_stale_etag_is_refused_even_when_the_change_would_change_nothing(api, manifest):
    stale = etag_of(api, manifest_url(manifest))
    services.manifest_update(manifest=manifest, description="someone else's")

    response = api.put(
        manifest_url(manifest),
        {"name": manifest.name, "description": "someone else's"},
        HTTP_IF_MATCH=stale,
    )

    assert response.status_code == 412


@pytest.mark.parametrize(
    "header, status", [("*", 200), ('"older", {etag}', 200), ("W/{etag}", 412), ('"x"', 412)]
)
def test_if_match_lists_star_and_weak_tags(api, manifest, header, status):
    etag = etag_of(api, manifest_url(manifest))

    response = api.patch(
        manifest_url(manifest), {"name": "Villains"}, HTTP_IF_MATCH=header.format(etag=etag)
    )

    assert response.status_code == status  # weak tags never match strongly (RFC 9110)


@pytest.mark.parametrize("header", ["", "abc", '"unterminated', '"a" "b"', '"a",,x', "W/x"])
def test_a_malformed_if_match_is_a_400_naming_the_header_and_changes_nothing(api, hero, header):
    manifest = hero.manifest
    before = unchanged(Manifest, manifest.pk), unchanged(Asset, hero.pk)

    responses = [
        api.patch(manifest_url(manifest), {"name": "X"}, HTTP_IF_MATCH=header),
        api.delete(manifest_url(manifest), HTTP_IF_MATCH=header),
        api.patch(asset_url(hero), {"name": "X"}, HTTP_IF_MATCH=header),
        api.delete(asset_url(hero), HTTP_IF_MATCH=header),
        api.post(
            f"{asset_url(hero)}/upload",
            {"file": image_upload()},
            format="multipart",
            HTTP_IF_MATCH=header,
        ),
    ]

    for response in responses:
        assert response.status_code == 400, response.content
        assert "If-Match must be * or a comma-separated list" in response.json()["If-Match"][0]
    assert (unchanged(Manifest, manifest.pk), unchanged(Asset, hero.pk)) == before


def test_without_if_match_changes_are_unconditional_as_before(api, manifest):
    etag_of(api, manifest_url(manifest))
    services.manifest_update(manifest=manifest, description="someone else's")

    response = api.patch(manifest_url(manifest), {"name": "Villains"})

    assert response.status_code == 200


def test_delete_manifest_with_a_stale_etag_keeps_it(api, manifest):
    stale = etag_of(api, manifest_url(manifest))
    services.project_create(name="Pilot", manifest=manifest)  # usage moves the ETag too
    services.project_update(project=manifest.projects.get(), manifest=None)
    current = etag_of(api, manifest_url(manifest))

    refused = api.delete(manifest_url(manifest), HTTP_IF_MATCH=stale)
    assert (refused.status_code, refused.json()["etag"]) == (412, current)
    assert Manifest.objects.filter(pk=manifest.pk).exists()

    assert api.delete(manifest_url(manifest), HTTP_IF_MATCH=current).status_code == 204
    assert not Manifest.objects.filter(pk=manifest.pk).exists()


def test_delete_manifest_in_use_with_a_stale_etag_is_a_412_first(api, manifest):
    stale = etag_of(api, manifest_url(manifest))
    services.project_create(name="Pilot", manifest=manifest)
    assert api.delete(manifest_url(manifest), HTTP_IF_MATCH=stale).status_code == 412
    current = etag_of(api, manifest_url(manifest))
    assert api.delete(manifest_url(manifest), HTTP_IF_MATCH=current).status_code == 409


@pytest.mark.parametrize("nested", [False, True])
def test_asset_patch_and_delete_with_a_stale_etag_change_nothing(api, hero, nested):
    url = f"/api/manifests/{hero.manifest_id}/assets/{hero.pk}" if nested else asset_url(hero)
    stale = etag_of(api, url)
    services.asset_update(asset=hero, description="someone else's")
    current = etag_of(api, url)
    before = unchanged(Asset, hero.pk), unchanged(Manifest, hero.manifest_id)

    patched = api.patch(url, {"name": "Mine"}, HTTP_IF_MATCH=stale)
    deleted = api.delete(url, HTTP_IF_MATCH=stale)

    for response in (patched, deleted):
        assert response.status_code == 412
        assert response.json()["etag"] == response["ETag"] == current
        assert "CHAR_01 “Hero” was changed by someone else" in response.json()["detail"]
    assert (unchanged(Asset, hero.pk), unchanged(Manifest, hero.manifest_id)) == before
    assert api.patch(url, {"name": "Mine"}, HTTP_IF_MATCH=current).status_code == 200


def test_asset_delete_with_the_current_etag(api, hero):
    assert (
        api.delete(asset_url(hero), HTTP_IF_MATCH=etag_of(api, asset_url(hero))).status_code == 204
    )
    assert not Asset.objects.filter(pk=hero.pk).exists()


def test_upload_with_a_stale_etag_stores_nothing(api, hero, media_root):
    stale = etag_of(api, asset_url(hero))
    services.asset_render_thumbnail(asset=hero)
    files = stored_files(media_root)
    before = unchanged(Asset, hero.pk)

    response = api.post(
        f"{asset_url(hero)}/upload",
        {"file": image_upload(color="blue")},
        format="multipart",
        HTTP_IF_MATCH=stale,
    )

    assert response.status_code == 412
    assert response.json()["etag"] == etag_of(api, asset_url(hero))
    assert unchanged(Asset, hero.pk) == before
    assert stored_files(media_root) == files


def test_upload_with_the_current_etag_replaces_the_image(api, hero):
    response = api.post(
        f"{asset_url(hero)}/upload",
        {"file": image_upload(color="blue")},
        format="multipart",
        HTTP_IF_MATCH=etag_of(api, asset_url(hero)),
    )
    assert response.status_code == 200
    assert response.json()["image_sha256"] != hero.image_sha256


# --- the services check it, under the lock -----------------------------------------------------


def test_services_refuse_a_stale_if_match_with_the_current_etag(hero):
    manifest = Manifest.objects.get(pk=hero.manifest_id)
    stale_manifest, stale_asset = IfMatch((manifest_etag(manifest),)), IfMatch((asset_etag(hero),))
    services.asset_update(asset=hero, name="Renamed")

    with pytest.raises(VersionConflict) as refused:
        services.manifest_update(manifest=manifest, if_match=stale_manifest, name="X")
    assert refused.value.current_etag == manifest_etag(Manifest.objects.get(pk=manifest.pk))
    for refuse in [
        lambda: services.asset_update(asset=hero, if_match=stale_asset, name="X"),
        lambda: services.asset_delete(asset=hero, if_match=stale_asset),
        lambda: services.asset_attach_image(asset=hero, file=image_upload(), if_match=stale_asset),
    ]:
        with pytest.raises(VersionConflict) as refused:
            refuse()
        assert refused.value.current_etag == asset_etag(Asset.objects.get(pk=hero.pk))
    with pytest.raises(VersionConflict):
        services.manifest_soft_delete(manifest=manifest, if_match=stale_manifest)
    assert Asset.objects.get(pk=hero.pk).name == "Renamed"


def test_deleting_an_asset_already_gone_with_if_match_is_does_not_exist(hero):
    expected = IfMatch((asset_etag(hero),))
    services.asset_delete(asset=hero)
    services.asset_delete(asset=hero)  # without If-Match: nothing to do, as before
    with pytest.raises(Asset.DoesNotExist):
        services.asset_delete(asset=hero, if_match=expected)


# --- documented -----------------------------------------------------------------------------


def test_openapi_documents_etag_if_match_if_none_match_304_and_412(api):
    schema = json.loads(api.get("/api/schema?format=json").content)
    paths = schema["paths"]
    for path in ["/api/manifests/{id}/", "/api/assets/{id}/"]:
        read = paths[path]["get"]
        assert "If-None-Match" in [p["name"] for p in read["parameters"]]
        assert "ETag" in read["responses"]["200"]["headers"]
        assert "ETag" in read["responses"]["304"]["headers"]
        assert "content" not in read["responses"]["304"]
        for method in ["put", "patch", "delete"]:
            operation = paths[path][method]
            assert "If-Match" in [p["name"] for p in operation["parameters"]]
            refused = operation["responses"]["412"]
            assert "ETag" in refused["headers"]
            assert refused["content"]["application/json"]["schema"]["$ref"].endswith(
                "/PreconditionFailed"
            )
    upload = paths["/api/assets/{id}/upload/"]["post"]
    assert "If-Match" in [p["name"] for p in upload["parameters"]]
    assert {"412", "400"} <= set(upload["responses"])
    assert "ETag" in upload["responses"]["200"]["headers"]


# --- parallel clients on PostgreSQL ---------------------------------------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_parallel_patches_with_the_same_if_match_one_200_one_412(staff_user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks between real connections)")
    from rest_framework.authtoken.models import Token

    manifest = services.manifest_create(name="Race")
    token = Token.objects.create(user=staff_user).key
    url = manifest_url(manifest)
    etag = manifest_etag(Manifest.objects.get(pk=manifest.pk))

    def patch(i: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.patch(url, {"description": f"writer {i}"}, HTTP_IF_MATCH=etag)
        return response.status_code, response.json()

    results = run_in_threads(patch, 2)

    assert sorted(status for status, _ in results) == [200, 412], results
    (won,) = [body for status, body in results if status == 200]
    (lost,) = [body for status, body in results if status == 412]
    saved = Manifest.objects.get(pk=manifest.pk)
    assert saved.description == won["description"]
    assert (saved.version, lost["etag"]) == (2, manifest_etag(saved))


# --- the admin: a change page remembers the version it was opened at ------------------------


@pytest.fixture
def two_curators(curator):
    """Two browser sessions of curators, each signed in through the login page."""
    from django.contrib.auth import get_user_model

    from tests.admin_forms import PASSWORD, signed_in_browser

    get_user_model().objects.create_superuser("second", "second@example.com", PASSWORD)
    return curator, signed_in_browser("second")


def refusal_on(response) -> str:
    return " ".join(li.get_text(" ", strip=True) for li in response.html.select(".errorlist"))


def test_the_change_page_carries_the_version_it_was_opened_at(curator, hero):
    version = Manifest.objects.get(pk=hero.manifest_id).version
    assert form_of(change_page(curator, hero.manifest))["expected_version"].value == str(version)


def test_saving_over_a_newer_version_is_refused_keeping_the_curators_input(two_curators, hero):
    first, second = two_curators
    manifest = hero.manifest
    opened = Manifest.objects.get(pk=manifest.pk).version
    first_page, second_page = change_page(first, manifest), change_page(second, manifest)
    assert_saved(save(first_page, name="Heroes of the night"))
    assert_saved(save(change_page(first, manifest), description="Seen at dusk"))
    before = unchanged(Manifest, manifest.pk), unchanged(Asset, hero.pk)

    typed = {"description": "My own words", "tags": "mine", "assets-0-name": "My hero"}
    response = save(second_page, **typed)

    assert response.status_code == 200  # the page again, not a redirect
    assert (
        "“Heroes of the night” was changed by someone else since you opened it "
        f"(v{opened} → v{opened + 2})" in refusal_on(response)
    )
    form = form_of(response)
    assert {name: form[name].value for name in typed} == typed
    assert form["name"].value == "Heroes"  # what this curator saw and left as it was
    assert (unchanged(Manifest, manifest.pk), unchanged(Asset, hero.pk)) == before


def test_an_asset_only_save_over_a_newer_version_is_refused_too(two_curators, hero, make_asset):
    first, second = two_curators
    manifest = hero.manifest
    sidekick = make_asset(manifest, "Sidekick")
    first_page, second_page = change_page(first, manifest), change_page(second, manifest)
    assert_saved(save(first_page, **{"assets-1-description": "Loyal"}))
    before = [unchanged(Asset, a.pk) for a in (hero, sidekick)], unchanged(Manifest, manifest.pk)

    response = save(
        second_page,
        **{
            "assets-0-name": "Renamed hero",
            "assets-1-DELETE": True,
            "assets-2-name": "Villain",
            "assets-2-asset_type": "CHARACTER",
        },
    )

    assert response.status_code == 200
    assert "changed by someone else since you opened it" in refusal_on(response)
    after = [unchanged(Asset, a.pk) for a in (hero, sidekick)], unchanged(Manifest, manifest.pk)
    assert after == before
    assert Asset.objects.filter(manifest=manifest).count() == 2


def test_a_refused_page_with_an_upload_stores_no_file(two_curators, hero, media_root):
    first, second = two_curators
    manifest = hero.manifest
    second_page = change_page(second, manifest)
    assert_saved(save(change_page(first, manifest), description="Seen at dusk"))
    files = stored_files(media_root)

    response = save(second_page, **{"assets-0-image": image_file("new.png", color="blue")})

    assert response.status_code == 200
    assert "changed by someone else since you opened it" in refusal_on(response)
    assert stored_files(media_root) == files
    assert Asset.objects.get(pk=hero.pk).image_sha256 == hero.image_sha256


def test_the_page_opened_again_after_a_refusal_saves(two_curators, hero):
    first, second = two_curators
    manifest = hero.manifest
    second_page = change_page(second, manifest)
    assert_saved(save(change_page(first, manifest), name="Heroes of the night"))
    assert save(second_page, description="Mine").status_code == 200

    assert_saved(save(change_page(second, manifest), description="Mine"))

    saved = Manifest.objects.get(pk=manifest.pk)
    assert (saved.name, saved.description) == ("Heroes of the night", "Mine")


def test_a_change_from_elsewhere_that_keeps_the_version_does_not_refuse_the_page(curator, hero):
    page = change_page(curator, hero.manifest)
    services.project_create(name="Pilot", manifest=hero.manifest)  # usage: same version
    services.asset_render_thumbnail(asset=hero)  # a derived file: same version

    assert_saved(save(page, description="Mine"))


@pytest.mark.django_db(transaction=True)
def test_manifest_lock_needs_the_callers_transaction(make_manifest):
    manifest = make_manifest()
    with pytest.raises(RuntimeError, match="open one first"):
        services.manifest_lock(manifest=manifest, expected_version=1)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_parallel_admin_style_saves_at_one_version_one_is_refused(make_manifest, make_asset):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks between real connections)")
    manifest = make_manifest()
    hero = make_asset(manifest)
    opened = Manifest.objects.get(pk=manifest.pk).version

    def save_page(i: int):
        with transaction.atomic():  # as the admin's changeform_view
            services.manifest_lock(manifest=manifest, expected_version=opened)
            return services.asset_update(asset=hero, name=f"writer {i}").name

    results = run_in_threads(save_page, 2)

    assert sorted(type(r).__name__ for r in results) == ["VersionConflict", "str"], results
    (won,) = [r for r in results if isinstance(r, str)]
    assert Asset.objects.get(pk=hero.pk).name == won
    assert Manifest.objects.get(pk=manifest.pk).version == opened + 1


def test_a_manifest_deleted_after_the_page_was_loaded_is_refused_by_the_form(make_manifest):
    from manifests.admin.manifests import ManifestForm

    manifest = make_manifest()
    page = ManifestForm(instance=manifest)
    data = {name: page[name].value() for name in page.fields}
    data["tags"] = ""
    form = ManifestForm(data, instance=Manifest.objects.get(pk=manifest.pk))
    services.manifest_soft_delete(manifest=manifest)

    assert not form.is_valid()
    assert "deleted by someone else since you opened it" in form.non_field_errors()[0]


def test_answers_that_show_a_manifest_after_an_action_carry_its_etag(api, hero):
    created = api.post("/api/manifests", {"name": "New"})
    assert created["ETag"] == etag_of(api, f"/api/manifests/{created.json()['id']}")
    manifest = hero.manifest
    sheet = api.post(f"{manifest_url(manifest)}/contact-sheet")
    assert sheet["ETag"] == etag_of(api, manifest_url(manifest))

    copy = api.post(f"{manifest_url(manifest)}/duplicate", {"name": "Copy"})
    assert copy.status_code == 201
    assert copy["ETag"] == etag_of(api, f"/api/manifests/{copy.json()['id']}")

    services.manifest_soft_delete(manifest=manifest)
    restored = api.post(f"{manifest_url(manifest)}/restore")
    assert restored["ETag"] == etag_of(api, manifest_url(manifest))
