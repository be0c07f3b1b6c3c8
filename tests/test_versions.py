"""Frozen versions (services.versions): when a version is frozen, what it keeps, that it
never changes, and that the files it names stay in storage."""

from datetime import timedelta

import pytest

from manifests import services
from manifests.exceptions import VersionConflict
from manifests.models import Manifest, ManifestVersion, VersionFile
from tests.conftest import image_upload, stored_files
from tests.queries import CapturedQueries, assert_same_query_count, count_queries


@pytest.fixture
def cast(make_manifest, make_asset):
    manifest = make_manifest("Villains", category="CHARACTERS", tags=["noir"])
    count = make_asset(manifest, "Count")
    services.asset_attach_image(asset=count, file=image_upload("count.png"))
    make_asset(manifest, "Dagger", asset_type="OBJECT", user_tags=["sharp"])
    return Manifest.objects.get(pk=manifest.pk)


def test_linking_a_project_freezes_the_pinned_version(cast):
    project = services.project_create(name="Trailer", manifest=cast)

    version = ManifestVersion.objects.get()
    assert (version.number, project.manifest_version) == (cast.version, cast.version)
    assert version.fields == {
        "name": "Villains",
        "description": "",
        "category": "CHARACTERS",
        "tags": ["noir"],
        "status": "DRAFT",
    }
    count, dagger = version.assets
    assert (count["manifest_tag"], count["name"], count["image_format"]) == (
        "CHAR_01",
        "Count",
        "PNG",
    )
    assert (dagger["manifest_tag"], dagger["user_tags"], dagger["reference_image"]) == (
        "OBJ_01",
        ["sharp"],
        "",
    )
    assert set(VersionFile.objects.values_list("name", flat=True)) == {
        count["reference_image"],
        count["thumbnail"],
    }


def test_freezing_is_idempotent_and_a_new_version_gets_its_own_record(cast):
    first = services.manifest_freeze(manifest=cast)
    again = services.manifest_freeze(manifest=cast)
    services.manifest_update(manifest=cast, description="Season 2")
    later = services.manifest_freeze(manifest=cast)

    assert again.pk == first.pk
    assert (first.number, later.number) == (cast.version, cast.version + 1)
    assert later.fields["description"] == "Season 2"
    assert first.content_sha256 != later.content_sha256
    assert ManifestVersion.objects.count() == 2


def test_becoming_ready_freezes_that_version(cast):
    services.manifest_update(manifest=cast, status="PROCESSING")
    ready = services.manifest_update(manifest=cast, status="READY")

    version = ManifestVersion.objects.get()
    assert (version.number, version.fields["status"]) == (ready.version, "READY")


def test_a_frozen_version_keeps_its_files_through_replacement_and_deletion(
    cast, media_root, django_capture_on_commit_callbacks
):
    count = cast.assets.get(manifest_tag="CHAR_01")
    services.manifest_freeze(manifest=cast)
    frozen = {count.reference_image.name, count.thumbnail.name}

    with django_capture_on_commit_callbacks(execute=True):
        services.asset_attach_image(asset=count, file=image_upload("count_v2.png", color="blue"))
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_delete(asset=count)

    assert frozen <= set(stored_files(media_root))
    report = services.orphan_files_sweep(min_age=timedelta(0))
    assert report.files == []
    assert frozen <= set(stored_files(media_root))


def test_replacing_an_image_without_a_frozen_version_still_removes_the_old_file(
    cast, media_root, django_capture_on_commit_callbacks
):
    count = cast.assets.get(manifest_tag="CHAR_01")
    old = count.reference_image.name

    with django_capture_on_commit_callbacks(execute=True):
        services.asset_attach_image(asset=count, file=image_upload("count_v2.png", color="blue"))

    assert old not in stored_files(media_root)


def test_freezing_costs_constant_queries(make_manifest, make_asset):
    def freezing(size: int) -> CapturedQueries:
        manifest = make_manifest(f"Cast of {size}")
        for number in range(size):
            asset = make_asset(manifest, f"Extra {number}")
            services.asset_attach_image(asset=asset, file=image_upload())
        return count_queries(lambda: services.manifest_freeze(manifest=manifest))

    small, large = freezing(2), freezing(25)

    assert_same_query_count(small, large)
    # lock, look for the number, read the assets, insert the record and its file names, its
    # event (ids, which also tell who subscribes, and INSERT); plus the savepoint pair of the
    # test's own transaction
    assert large.count == 9, large


def test_diff_names_what_changed_by_tag(cast):
    old = services.manifest_freeze(manifest=cast).content
    count = cast.assets.get(manifest_tag="CHAR_01")
    dagger = cast.assets.get(manifest_tag="OBJ_01")
    services.asset_attach_image(asset=count, file=image_upload("count_v2.png", color="blue"))
    services.asset_delete(asset=dagger)
    services.asset_create(manifest=cast, name="Henchman", asset_type="CHARACTER")
    services.manifest_update(manifest=cast, name="Villains, season 2")

    diff = services.versions_diff(old, services.manifest_content(Manifest.objects.get(pk=cast.pk)))

    assert diff["manifest"] == {"name": {"from": "Villains", "to": "Villains, season 2"}}
    assert (diff["added"], diff["removed"]) == (["CHAR_02"], ["OBJ_01"])
    (changed,) = diff["changed"]
    assert changed["tag"] == "CHAR_01"
    assert "image_sha256" in changed["fields"]
    assert "reference_image" not in changed["fields"]


def test_upgrading_a_project_pins_the_current_version_with_the_diff(cast):
    project = services.project_create(name="Trailer", manifest=cast)
    pinned = project.manifest_version
    services.manifest_update(manifest=cast, description="Season 2")

    upgrade = services.project_upgrade(project=project)
    again = services.project_upgrade(project=project)

    assert (upgrade.before.number, upgrade.after.number) == (pinned, pinned + 1)
    assert upgrade.project.manifest_version == pinned + 1
    assert upgrade.diff["manifest"] == {"description": {"from": "", "to": "Season 2"}}
    assert again.before == again.after and again.diff["changed"] == []
    assert Manifest.objects.get(pk=cast.pk).times_used == 1  # a re-pin is not a new use


def test_an_upgrade_confirmed_at_an_older_version_is_refused(cast):
    project = services.project_create(name="Trailer", manifest=cast)
    shown = cast.version
    services.manifest_update(manifest=cast, description="Season 2")

    with pytest.raises(VersionConflict):
        services.project_upgrade(project=project, expected_version=shown)

    project.refresh_from_db()
    assert project.manifest_version == shown


def test_a_frozen_version_cannot_be_changed_or_deleted_on_its_own(cast):
    version = services.manifest_freeze(manifest=cast)
    version.content["assets"] = []

    with pytest.raises(TypeError, match="immutable"):
        version.save()
    with pytest.raises(TypeError, match="only with its manifest"):
        version.delete()

    assert len(ManifestVersion.objects.get().assets) == 2
