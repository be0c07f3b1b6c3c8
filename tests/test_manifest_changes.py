"""Every change of a manifest passes through one place (services.changes.manifest_change):
content moves `version`; usage, derived files and deletion move only `revision`; and the
editable fields are listed once, on the models, for the API, the admin and the services."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from manifests import services
from manifests.admin.assets import AssetAdminForm, AssetForm
from manifests.admin.manifests import ManifestForm
from manifests.exceptions import VersionConflict
from manifests.models import Asset, Manifest
from manifests.serializers import AssetSerializer, ManifestSerializer
from manifests.services.changes import manifest_change
from tests.conftest import image_upload


def writable(serializer_class) -> set[str]:
    return {name for name, f in serializer_class().fields.items() if not f.read_only}


def test_editable_fields_are_one_list_for_api_admin_and_services():
    assert writable(ManifestSerializer) == set(Manifest.EDITABLE_FIELDS)
    # and the version the page was opened at (tests/test_etags.py)
    assert set(ManifestForm.base_fields) - {"expected_version"} == set(Manifest.EDITABLE_FIELDS)
    assert set(Manifest.EDITABLE_FIELDS) == services.MANIFEST_EDITABLE_FIELDS
    assert writable(AssetSerializer) == set(Asset.EDITABLE_FIELDS)
    assert set(AssetForm.base_fields) - {"image"} == set(Asset.EDITABLE_FIELDS)
    assert set(AssetAdminForm.base_fields) - {"image", "manifest"} == set(Asset.EDITABLE_FIELDS)
    assert set(Asset.EDITABLE_FIELDS) == services.ASSET_EDITABLE_FIELDS


def state(manifest) -> tuple[int, int]:
    row = Manifest.all_objects.get(pk=manifest.pk)
    return row.version, row.revision


def test_content_moves_the_version_and_the_revision(make_manifest, make_asset):
    manifest = make_manifest()
    assert state(manifest) == (1, 1)

    hero = make_asset(manifest)
    services.asset_update(asset=hero, name="Hero II")
    services.asset_attach_image(asset=hero, file=image_upload())
    services.manifest_update(manifest=manifest, description="Cast")
    services.asset_delete(asset=hero)

    assert state(manifest) == (6, 6)


def test_usage_derived_files_and_deletion_move_only_the_revision(make_manifest, make_asset):
    manifest = make_manifest()
    hero = services.asset_attach_image(asset=make_asset(manifest), file=image_upload())
    before_version, before_revision = state(manifest)

    project = services.project_create(name="Pilot", manifest=manifest)
    services.asset_render_thumbnail(asset=hero)
    services.manifest_render_contact_sheet(manifest=manifest)
    services.project_update(project=project, manifest=None)
    services.manifest_soft_delete(manifest=manifest)
    services.manifest_restore(manifest=manifest)

    assert state(manifest) == (before_version, before_revision + 5)
    assert Manifest.objects.get(pk=manifest.pk).times_used == 1


def test_an_unchanged_save_records_nothing(make_manifest):
    manifest = make_manifest(description="Cast")

    services.manifest_update(manifest=manifest, description="Cast")
    services.manifest_restore(manifest=manifest)  # live already

    assert state(manifest) == (1, 1)


def test_a_change_over_a_newer_version_is_refused_and_changes_nothing(make_manifest):
    manifest = make_manifest("Villains")
    services.manifest_update(manifest=manifest, description="Seen by someone else")

    with pytest.raises(VersionConflict, match=r"v1 → v2"):
        services.manifest_update(manifest=manifest, expected_version=1, name="Mine")

    row = Manifest.objects.get(pk=manifest.pk)
    assert (row.name, row.version) == ("Villains", 2)


def test_a_failed_block_records_nothing(make_manifest):
    manifest = make_manifest()

    with pytest.raises(ValidationError), manifest_change(manifest.pk) as change:
        change.content(description="half done")
        raise ValidationError("refused mid-way")

    assert state(manifest) == (1, 1)
    assert Manifest.objects.get(pk=manifest.pk).description == ""


def test_a_bulk_delete_is_soft_and_goes_through_the_change(make_manifest):
    first, second = make_manifest("First"), make_manifest("Second")

    Manifest.objects.filter(pk__in=[first.pk, second.pk]).delete()

    assert Manifest.deleted_objects.count() == 2
    assert state(first) == (1, 2)


def test_purging_a_parent_moves_its_copies_revision(api, make_manifest):
    original = make_manifest("Villains")
    copy = services.manifest_duplicate(manifest=original)
    url = f"/api/manifests/{copy.pk}"
    before = api.get(url)
    services.manifest_soft_delete(manifest=original)

    services.manifests_purge(older_than=timedelta(0))

    after = api.get(url)
    assert before.json()["parent_manifest_id"] == str(original.pk)
    assert after.json()["parent_manifest_id"] is None
    assert after["ETag"] != before["ETag"]  # another body, another tag
    assert api.get(url, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 200
