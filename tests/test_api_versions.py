"""Frozen versions through the API: listing and freezing, reading a version (ETag, 304,
immutable caching), resolving a tag, a project's pin, diffs, upgrades, branching a
version; and the reproducibility story: a pinned version keeps its image bytes."""

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from manifests import services
from manifests.models import Asset, Manifest, ManifestVersion, Project
from tests.conftest import image_bytes, image_upload, stored_files
from tests.queries import (
    CapturedQueries,
    assert_num_queries,
    assert_same_query_count,
    count_queries,
)


def reload(manifest: Manifest) -> Manifest:
    return Manifest.all_objects.get(pk=manifest.pk)


def download(client, url: str) -> bytes:
    parts = urlsplit(url)
    response = client.get(f"{parts.path}?{parts.query}")  # signed: the query is the permission
    assert response.status_code == 200, url
    return b"".join(response.streaming_content)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def villains(make_manifest, make_asset):
    """Villains: CHAR_01 "Count" with a red image, OBJ_01 "Dagger" with a grey one."""
    manifest = make_manifest("Villains", category="CHARACTERS", tags=["noir"])
    count = make_asset(manifest, "Count", description="The boss")
    services.asset_attach_image(asset=count, file=image_upload("count.png", color="red"))
    dagger = make_asset(manifest, "Dagger", asset_type="OBJECT", user_tags=["sharp"])
    services.asset_attach_image(asset=dagger, file=image_upload("dagger.png", color="grey"))
    return reload(manifest)


def asset(manifest: Manifest, tag: str) -> Asset:
    return Asset.objects.get(manifest=manifest, manifest_tag=tag)


# -- listing and freezing ---------------------------------------------------------------


def test_freezing_on_request_answers_201_then_200(api, villains):
    url = f"/api/manifests/{villains.pk}/versions"

    first = api.post(url)
    again = api.post(f"{url}/")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["number"] == again.json()["number"] == villains.version
    assert first.json()["asset_count"] == 2
    assert ManifestVersion.objects.count() == 1


def test_version_list_shows_numbers_counts_and_pins_newest_first(api, villains):
    services.project_create(name="Trailer", manifest=villains)
    services.project_create(name="Teaser", manifest=villains)
    services.asset_delete(asset=asset(villains, "OBJ_01"))
    services.manifest_freeze(manifest=reload(villains))
    services.project_create(name="Other", manifest=reload(villains))

    response = api.get(f"/api/manifests/{villains.pk}/versions/")

    assert response.status_code == 200
    rows = [(v["number"], v["asset_count"], v["pinned_by"]) for v in response.json()["results"]]
    assert rows == [(villains.version + 1, 1, 1), (villains.version, 2, 2)]
    assert set(response.json()["results"][0]) == {
        "manifest_id",
        "number",
        "frozen_at",
        "content_sha256",
        "asset_count",
        "pinned_by",
    }


def test_a_reader_may_read_versions_but_not_freeze(reader_api, villains):
    url = f"/api/manifests/{villains.pk}/versions"

    assert reader_api.get(url).status_code == 200
    assert reader_api.post(url).status_code == 403
    assert not ManifestVersion.objects.exists()


def test_versions_of_unknown_malformed_or_deleted_manifests_are_404(api, villains, make_manifest):
    gone = make_manifest("Gone")
    services.manifest_soft_delete(manifest=gone)

    for manifest_id in ["0f9c3a5e-0000-4000-8000-000000000000", "not-a-uuid", gone.pk]:
        assert api.get(f"/api/manifests/{manifest_id}/versions").status_code == 404
        assert api.post(f"/api/manifests/{manifest_id}/versions").status_code == 404
        assert api.get(f"/api/manifests/{manifest_id}/versions/latest").status_code == 404
    assert not ManifestVersion.objects.exists()


# -- one version -------------------------------------------------------------------------


def test_a_version_reads_back_exactly_as_frozen(api, villains):
    frozen = services.manifest_freeze(manifest=villains)
    count = asset(villains, "CHAR_01")
    services.manifest_update(manifest=villains, name="Villains II", tags=["pulp"])
    services.asset_update(asset=count, name="Countess", sort_order=9)
    services.asset_attach_image(asset=count, file=image_upload("new.png", color="blue"))

    response = api.get(f"/api/manifests/{villains.pk}/versions/{frozen.number}")

    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["manifest_id"]) == (frozen.number, str(villains.pk))
    assert (body["name"], body["category"], body["tags"], body["status"]) == (
        "Villains",
        "CHARACTERS",
        ["noir"],
        "DRAFT",
    )
    assert [(a["manifest_tag"], a["name"], a["sort_order"]) for a in body["assets"]] == [
        ("CHAR_01", "Count", 0),
        ("OBJ_01", "Dagger", 1),
    ]
    first = body["assets"][0]
    assert first["id"] == str(count.pk)
    assert first["description"] == "The boss"
    assert (first["image_format"], first["image_width"], first["image_height"]) == ("PNG", 8, 6)
    assert first["reference_image_url"].startswith("http://testserver/media/manifests/")
    assert sha256(download(api, first["reference_image_url"])) == first["image_sha256"]
    assert first["image_sha256"] != Asset.objects.get(pk=count.pk).image_sha256
    assert download(api, first["thumbnail_url"])[:4] == b"RIFF"  # the frozen WebP thumbnail


def test_a_version_without_images_has_null_urls(api, make_manifest, make_asset):
    manifest = make_manifest("Plain")
    make_asset(manifest, "Nobody")
    frozen = services.manifest_freeze(manifest=manifest)

    (only,) = api.get(f"/api/manifests/{manifest.pk}/versions/{frozen.number}").json()["assets"]

    assert (only["reference_image_url"], only["thumbnail_url"], only["image_width"]) == (
        None,
        None,
        None,
    )


def test_a_numbered_version_has_a_strong_etag_and_is_cached_for_good(api, villains, settings):
    # With public media, whose URLs last (signed ones expire: tests/test_media_access.py).
    settings.VIDPIPE_PUBLIC_MEDIA = True
    frozen = services.manifest_freeze(manifest=villains)
    url = f"/api/manifests/{villains.pk}/versions/{frozen.number}"

    response = api.get(url)

    assert response["ETag"] == f'"{frozen.content_sha256}"'
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    for header in [response["ETag"], f"W/{response['ETag']}", f'"other", {response["ETag"]}', "*"]:
        again = api.get(url, HTTP_IF_NONE_MATCH=header)
        assert again.status_code == 304, header
        assert again.content == b""
        assert again["ETag"] == response["ETag"]
        assert again["Cache-Control"] == response["Cache-Control"]
    assert api.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_latest_is_the_newest_frozen_version_and_is_revalidated(api, villains):
    older = services.manifest_freeze(manifest=villains)
    services.manifest_update(manifest=villains, description="Season 2")
    services.manifest_update(manifest=reload(villains), description="Season 3")  # not frozen
    newest = services.manifest_freeze(manifest=reload(villains))
    services.manifest_update(manifest=reload(villains), description="Season 4")
    url = f"/api/manifests/{villains.pk}/versions/latest"

    response = api.get(url)

    assert response.json()["number"] == newest.number != older.number
    assert response.json()["description"] == "Season 3"
    assert response["Cache-Control"] == "private, no-cache"
    # Then the image URLs' expiry (they move once a window, and the body with them).
    assert re.fullmatch(
        rf'"{villains.pk}\.{newest.number}\.{newest.content_sha256}\.[0-9]+"', response["ETag"]
    )
    assert api.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    services.manifest_freeze(manifest=reload(villains))
    assert api.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 200


def test_unknown_versions_are_404_naming_the_frozen_numbers(api, villains):
    first = services.manifest_freeze(manifest=villains)
    services.manifest_update(manifest=villains, description="Season 2")
    second = services.manifest_freeze(manifest=reload(villains))
    base = f"/api/manifests/{villains.pk}/versions"

    for number in ["99", "0", "-1", "abc", "1.5", "99999999999999999999", "LATEST"]:
        response = api.get(f"{base}/{number}")
        assert response.status_code == 404, number
        assert response.json()["versions"] == [first.number, second.number]
        assert f"{first.number}, {second.number}" in response.json()["detail"]
        assert api.get(f"{base}/{number}/assets/CHAR_01").status_code == 404
        assert api.get(f"{base}/{number}/diff?against=current").status_code == 404
        assert api.post(f"{base}/{number}/duplicate").status_code == 404


def test_latest_without_any_frozen_version_is_404(api, villains):
    response = api.get(f"/api/manifests/{villains.pk}/versions/latest")

    assert response.status_code == 404
    assert response.json()["versions"] == []
    assert "none yet" in response.json()["detail"]


# -- one tag in a version ----------------------------------------------------------------


def test_a_tag_resolves_to_the_asset_it_meant_in_that_version(api, villains):
    frozen = services.manifest_freeze(manifest=villains)
    count = asset(villains, "CHAR_01")
    services.asset_update(asset=count, name="Countess")
    services.manifest_freeze(manifest=reload(villains))

    old = api.get(f"/api/manifests/{villains.pk}/versions/{frozen.number}/assets/CHAR_01/")
    new = api.get(f"/api/manifests/{villains.pk}/versions/latest/assets/CHAR_01")

    assert old.status_code == new.status_code == 200
    assert (old.json()["name"], new.json()["name"]) == ("Count", "Countess")
    assert old.json()["manifest_id"] == str(villains.pk)
    assert old.json()["version"] == frozen.number
    assert old.json()["reference_image_url"].startswith("http://testserver/media/")
    assert old["ETag"].startswith(f'"{frozen.content_sha256}.')  # and its URLs' expiry
    assert old["Cache-Control"].startswith("private, max-age=")  # while its URLs last
    assert new["Cache-Control"] == "private, no-cache"
    again = api.get(
        f"/api/manifests/{villains.pk}/versions/{frozen.number}/assets/CHAR_01",
        HTTP_IF_NONE_MATCH=old["ETag"],
    )
    assert again.status_code == 304


def test_an_unknown_tag_is_404_naming_the_tags_the_version_has(api, villains):
    frozen = services.manifest_freeze(manifest=villains)

    response = api.get(f"/api/manifests/{villains.pk}/versions/{frozen.number}/assets/CHAR_09")

    assert response.status_code == 404
    assert response.json()["tags"] == ["CHAR_01", "OBJ_01"]
    assert "CHAR_01, OBJ_01" in response.json()["detail"]


# -- a project's pin ---------------------------------------------------------------------


def test_a_project_reads_the_version_it_pins(api, villains):
    project = services.project_create(name="Trailer", manifest=villains)
    services.asset_update(asset=asset(villains, "CHAR_01"), name="Countess")
    services.manifest_freeze(manifest=reload(villains))

    response = api.get(f"/api/projects/{project.pk}/manifest")
    tag = api.get(f"/api/projects/{project.pk}/assets/CHAR_01/")

    assert response.status_code == 200
    assert response.json()["number"] == project.manifest_version
    assert response.json()["assets"][0]["name"] == "Count"
    assert (tag.json()["name"], tag.json()["version"]) == ("Count", project.manifest_version)
    assert response["Cache-Control"] == tag["Cache-Control"] == "private, no-cache"
    assert api.get(f"/api/projects/{project.pk}/manifest/").status_code == 200
    revalidated = api.get(
        f"/api/projects/{project.pk}/manifest", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert revalidated.status_code == 304


def test_a_project_tag_the_pin_lacks_is_404_naming_its_tags(api, villains):
    project = services.project_create(name="Trailer", manifest=villains)

    response = api.get(f"/api/projects/{project.pk}/assets/VEH_01")

    assert response.status_code == 404
    assert response.json()["tags"] == ["CHAR_01", "OBJ_01"]


def test_an_upgraded_pin_gets_a_new_etag_even_with_equal_content(api, villains):
    project = services.project_create(name="Trailer", manifest=villains)
    before = api.get(f"/api/projects/{project.pk}/manifest")
    # Two changes that cancel out: a new version with the very same content.
    services.manifest_update(manifest=villains, description="tmp")
    services.manifest_update(manifest=reload(villains), description="")
    services.project_upgrade(project=project)

    after = api.get(f"/api/projects/{project.pk}/manifest", HTTP_IF_NONE_MATCH=before["ETag"])

    assert after.status_code == 200
    assert after.json()["content_sha256"] == before.json()["content_sha256"]
    assert after.json()["number"] == before.json()["number"] + 2


def test_a_project_without_a_manifest_has_no_pin(api):
    project = services.project_create(name="Loose")

    for url in [f"/api/projects/{project.pk}/manifest", f"/api/projects/{project.pk}/assets/X"]:
        response = api.get(url)
        assert response.status_code == 404
        assert "linked to no manifest" in response.json()["detail"]


def test_a_pin_made_before_versions_were_frozen_is_404_saying_so(api, villains):
    project = services.project_create(name="Old", manifest=villains)
    # As a pin made before this feature: a number with no frozen record behind it.
    Project.objects.filter(pk=project.pk).update(manifest_version=1)

    response = api.get(f"/api/projects/{project.pk}/manifest")

    assert response.status_code == 404
    assert "pinned before versions were frozen" in response.json()["detail"]
    assert "upgrade" in response.json()["detail"]


def test_a_deleted_manifests_version_stays_readable_to_its_projects(api, villains):
    project = services.project_create(name="Trailer", manifest=villains)
    # The domain refuses to delete a referenced manifest; rows may still get there (data
    # from before that rule, a hand edit): the pin must resolve all the same.
    Manifest.all_objects.filter(pk=villains.pk).update(deleted_at=timezone.now())

    response = api.get(f"/api/projects/{project.pk}/manifest")
    tag = api.get(f"/api/projects/{project.pk}/assets/CHAR_01")

    assert response.status_code == tag.status_code == 200
    assert response.json()["number"] == project.manifest_version
    assert sha256(download(api, tag.json()["reference_image_url"])) == tag.json()["image_sha256"]
    assert api.get(f"/api/manifests/{villains.pk}/versions").status_code == 404
    upgrade = api.post(f"/api/projects/{project.pk}/upgrade")
    assert upgrade.status_code == 409
    assert "deleted" in upgrade.json()["detail"]


def test_unknown_or_malformed_projects_are_404(api):
    for project_id in ["0f9c3a5e-0000-4000-8000-000000000000", "nope"]:
        assert api.get(f"/api/projects/{project_id}/manifest").status_code == 404
        assert api.get(f"/api/projects/{project_id}/assets/CHAR_01").status_code == 404
        assert api.post(f"/api/projects/{project_id}/upgrade").status_code == 404


def test_the_api_root_still_lists_projects(api):
    assert api.get("/api/").json()["projects"] == "http://testserver/api/projects"


# -- diffs -------------------------------------------------------------------------------


def test_a_diff_against_a_number_or_current_names_what_changed_by_tag(api, villains):
    old = services.manifest_freeze(manifest=villains)
    services.asset_attach_image(asset=asset(villains, "CHAR_01"), file=image_upload(color="blue"))
    services.asset_delete(asset=asset(villains, "OBJ_01"))
    services.asset_create(manifest=villains, name="Henchman", asset_type="CHARACTER")
    new = services.manifest_freeze(manifest=reload(villains))
    services.manifest_update(manifest=reload(villains), name="Villains II")
    base = f"/api/manifests/{villains.pk}/versions/{old.number}/diff"

    numbered = api.get(f"{base}?against={new.number}")
    current = api.get(f"{base}/?against=current")

    assert numbered.status_code == current.status_code == 200
    body = numbered.json()
    assert (body["from"], body["to"], body["against"]) == (old.number, new.number, str(new.number))
    assert (body["added"], body["removed"]) == (["CHAR_02"], ["OBJ_01"])
    (changed,) = body["changed"]
    assert (changed["tag"], sorted(changed["fields"])) == ("CHAR_01", ["image_sha256"])
    assert body["manifest"] == {}
    assert current.json()["to"] == reload(villains).version
    assert current.json()["manifest"] == {"name": {"from": "Villains", "to": "Villains II"}}


@pytest.mark.parametrize(
    "query", ["", "?against=", "?against=latest", "?against=7x", "?against=99"]
)
def test_a_diff_needs_a_frozen_version_or_current_to_compare_with(api, villains, query):
    frozen = services.manifest_freeze(manifest=villains)

    response = api.get(f"/api/manifests/{villains.pk}/versions/{frozen.number}/diff{query}")

    assert response.status_code == 400
    (message,) = response.json()["against"]
    assert f"the frozen versions are: {frozen.number}" in message


# -- upgrades ----------------------------------------------------------------------------


def test_upgrading_a_project_answers_with_the_numbers_and_the_diff(api, villains):
    project = services.project_create(name="Trailer", manifest=villains)
    services.asset_delete(asset=asset(villains, "OBJ_01"))

    response = api.post(f"/api/projects/{project.pk}/upgrade/")

    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"]) == (project.manifest_version, project.manifest_version + 1)
    assert body["project"]["manifest_version"] == body["to"]
    assert body["diff"]["removed"] == ["OBJ_01"]
    assert Project.objects.get(pk=project.pk).manifest_version == body["to"]
    assert ManifestVersion.objects.filter(manifest=villains, number=body["to"]).exists()


def test_upgrading_a_pin_made_before_versions_were_frozen_has_no_diff(api, villains):
    project = services.project_create(name="Old", manifest=villains)
    Project.objects.filter(pk=project.pk).update(manifest_version=1)

    body = api.post(f"/api/projects/{project.pk}/upgrade").json()

    assert (body["from"], body["to"], body["diff"]) == (1, villains.version, None)


def test_upgrading_a_project_without_a_manifest_is_400(api):
    project = services.project_create(name="Loose")

    response = api.post(f"/api/projects/{project.pk}/upgrade")

    assert response.status_code == 400
    assert "no manifest" in response.json()["manifest"][0]


def test_a_reader_may_not_upgrade(reader_api, villains):
    project = services.project_create(name="Trailer", manifest=villains)
    services.asset_delete(asset=asset(villains, "OBJ_01"))

    assert reader_api.post(f"/api/projects/{project.pk}/upgrade").status_code == 403
    assert Project.objects.get(pk=project.pk).manifest_version == project.manifest_version


# -- branching a version -----------------------------------------------------------------


def test_duplicating_a_version_makes_a_draft_with_its_content_and_files(api, villains, media_root):
    frozen = services.manifest_freeze(manifest=villains)
    old_count_sha = asset(villains, "CHAR_01").image_sha256
    services.manifest_update(manifest=villains, name="Villains II", status="PROCESSING")
    services.asset_attach_image(asset=asset(villains, "CHAR_01"), file=image_upload(color="blue"))
    services.asset_delete(asset=asset(villains, "OBJ_01"))
    services.asset_create(manifest=villains, name="Henchman", asset_type="CHARACTER")

    response = api.post(f"/api/manifests/{villains.pk}/versions/{frozen.number}/duplicate")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["status"], body["version"]) == ("Villains (copy)", "DRAFT", 1)
    assert (body["parent_manifest_id"], body["tags"]) == (str(villains.pk), ["noir"])
    assert [(a["manifest_tag"], a["name"]) for a in body["assets"]] == [
        ("CHAR_01", "Count"),
        ("OBJ_01", "Dagger"),
    ]
    copy = Manifest.objects.get(pk=body["id"])
    count = asset(copy, "CHAR_01")
    assert count.reference_image.name.startswith(f"manifests/{copy.pk}/uploads/{count.pk}_")
    assert count.thumbnail.name.startswith(f"manifests/{copy.pk}/thumbnails/{count.pk}_")
    assert sha256(count.reference_image.read()) == count.image_sha256 == old_count_sha
    assert copy.thumbnail.name == count.thumbnail.name
    # Tag numbering continues from the source's: CHAR_02 is the source's Henchman.
    assert services.asset_create(
        manifest=copy, name="New", asset_type="CHARACTER"
    ).manifest_tag == ("CHAR_03")


def test_duplicating_a_version_takes_a_name(api, villains):
    frozen = services.manifest_freeze(manifest=villains)
    base = f"/api/manifests/{villains.pk}/versions/{frozen.number}/duplicate"

    named = api.post(base, {"name": "Branch"}, format="json")
    queried = api.post(f"{base}?name=Query%20branch")
    too_long = api.post(base, {"name": "x" * 201}, format="json")
    unknown = api.post(base, {"colour": "red"}, format="json")

    assert (named.json()["name"], queried.json()["name"]) == ("Branch", "Query branch")
    assert (too_long.status_code, set(too_long.json())) == (400, {"name"})
    assert (unknown.status_code, set(unknown.json())) == (400, {"colour"})
    assert Manifest.objects.count() == 3


def test_duplicating_a_version_whose_file_is_gone_is_409_and_creates_nothing(
    api, villains, media_root
):
    frozen = services.manifest_freeze(manifest=villains)
    dagger = frozen.assets[1]
    (media_root / dagger["reference_image"]).unlink()
    files_before = stored_files(media_root)

    response = api.post(f"/api/manifests/{villains.pk}/versions/{frozen.number}/duplicate/")

    assert response.status_code == 409
    assert "OBJ_01" in response.json()["detail"] and "Dagger" in response.json()["detail"]
    assert Manifest.objects.count() == 1
    assert stored_files(media_root) == files_before


def test_a_reader_may_not_duplicate_a_version(reader_api, villains):
    frozen = services.manifest_freeze(manifest=villains)

    response = reader_api.post(f"/api/manifests/{villains.pk}/versions/{frozen.number}/duplicate")

    assert response.status_code == 403
    assert Manifest.objects.count() == 1


# -- query counts ------------------------------------------------------------------------


def cast_of(make_manifest, make_asset, size: int) -> Manifest:
    manifest = make_manifest(f"Cast of {size}")
    for number in range(size):
        extra = make_asset(manifest, f"Extra {number}")
        if number < 2:
            services.asset_attach_image(asset=extra, file=image_upload())
    return reload(manifest)


def reads_of(api, manifest: Manifest) -> dict[str, CapturedQueries]:
    """The queries of each read, on a manifest with two frozen versions and a pin."""
    first = services.manifest_freeze(manifest=manifest)
    project = services.project_create(name=f"Uses {manifest.name}", manifest=manifest)
    services.asset_delete(asset=Asset.objects.filter(manifest=manifest).last())
    services.manifest_freeze(manifest=reload(manifest))
    base = f"/api/manifests/{manifest.pk}/versions"
    urls = {
        "list": base,
        "detail": f"{base}/{first.number}",
        "latest": f"{base}/latest",
        "tag": f"{base}/{first.number}/assets/CHAR_01",
        "project manifest": f"/api/projects/{project.pk}/manifest",
        "project tag": f"/api/projects/{project.pk}/assets/CHAR_01",
        "diff": f"{base}/{first.number}/diff?against={first.number + 1}",
        "diff current": f"{base}/{first.number}/diff?against=current",
    }

    def reading(url: str):
        def read():
            response = api.get(url)
            assert response.status_code == 200, (url, response.content)

        return read

    return {read: count_queries(reading(url)) for read, url in urls.items()}


def test_version_reads_cost_constant_queries(api, make_manifest, make_asset):
    small = reads_of(api, cast_of(make_manifest, make_asset, 3))
    large = reads_of(api, cast_of(make_manifest, make_asset, 40))

    for read in small:
        assert_same_query_count(small[read], large[read])
    # token, then: count + page; manifest + version; project + version; manifest + 2 versions
    expected = {"list": 4, "detail": 3, "project manifest": 3, "diff": 4, "diff current": 4}
    assert {read: large[read].count for read in expected} == expected, large


def test_reading_a_version_costs_three_queries(api, villains):
    frozen = services.manifest_freeze(manifest=villains)

    with assert_num_queries(3):  # token, manifest, version
        api.get(f"/api/manifests/{villains.pk}/versions/{frozen.number}")


# -- the reproducibility story -----------------------------------------------------------


def test_a_pinned_version_reproduces_its_images_after_edits_sweeps_and_purges(
    api, villains, media_root, django_capture_on_commit_callbacks
):
    # A storyboard stage resolved CHAR_01 through the project's pin.
    project = api.post(
        "/api/projects", {"name": "Storyboard", "manifest_id": str(villains.pk)}, format="json"
    ).json()
    pinned = project["manifest_version"]
    before = api.get(f"/api/projects/{project['id']}/manifest").json()
    count_url = before["assets"][0]["reference_image_url"]
    count_bytes = download(api, count_url)
    assert sha256(count_bytes) == before["assets"][0]["image_sha256"]

    # A month of curation: CHAR_01 gets a new image, OBJ_01 goes, a copy is made and
    # purged, and the operators sweep orphans (each step's files go once it commits).
    with django_capture_on_commit_callbacks(execute=True):
        upload = api.post(
            f"/api/assets/{asset(villains, 'CHAR_01').pk}/upload",
            {"file": image_upload("count_v2.png", color="blue")},
            format="multipart",
        )
    assert upload.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(f"/api/assets/{asset(villains, 'OBJ_01').pk}").status_code == 204
    copy = api.post(f"/api/manifests/{villains.pk}/duplicate").json()
    assert api.delete(f"/api/manifests/{copy['id']}").status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        purge = services.manifests_purge(older_than=timedelta(0))
    with django_capture_on_commit_callbacks(execute=True):
        sweep = services.orphan_files_sweep(min_age=timedelta(0))
    assert purge.manifests == 1
    assert sweep.files == []  # every file left is named by a row or a frozen version

    after = api.get(f"/api/projects/{project['id']}/manifest")

    assert after.status_code == 200
    assert after.json() == before
    assert after.json()["number"] == pinned
    assert [a["manifest_tag"] for a in after.json()["assets"]] == ["CHAR_01", "OBJ_01"]
    downloaded = download(api, after.json()["assets"][0]["reference_image_url"])
    assert sha256(downloaded) == sha256(count_bytes) == before["assets"][0]["image_sha256"]
    assert sha256(downloaded) != sha256(image_bytes(color="blue"))
    dagger = api.get(f"/api/projects/{project['id']}/assets/OBJ_01").json()
    assert sha256(download(api, dagger["reference_image_url"])) == dagger["image_sha256"]
    assert api.get("/api/manifests").json()["count"] == 1
