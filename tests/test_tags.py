"""Tag allocation, numbering, ordering and versions, through the domain functions."""

import pytest
from django.db import IntegrityError, transaction

from manifests import services
from manifests.models import Asset, Manifest
from manifests.tagging import format_tag


def test_tags_are_numbered_per_type_with_at_least_two_digits(make_manifest, make_asset):
    manifest = make_manifest()
    tags = [
        make_asset(manifest, asset_type=t).manifest_tag
        for t in ["CHARACTER", "CHARACTER", "OBJECT", "ENVIRONMENT", "STYLE", "VEHICLE", "OTHER"]
    ]
    assert tags == ["CHAR_01", "CHAR_02", "OBJ_01", "ENV_01", "STYLE_01", "VEH_01", "OTHER_01"]


def test_tag_numbers_grow_past_two_digits():
    assert format_tag("CHAR", 9) == "CHAR_09"
    assert format_tag("CHAR", 99) == "CHAR_99"
    assert format_tag("CHAR", 100) == "CHAR_100"


def test_deleting_the_highest_tag_never_frees_its_number(make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)
    second = make_asset(manifest)
    assert second.manifest_tag == "CHAR_02"

    services.asset_delete(asset=second)
    third = make_asset(manifest)

    assert third.manifest_tag == "CHAR_03"


def test_changing_type_gives_the_next_tag_of_the_new_type(make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest, name="Sword", asset_type="OBJECT")
    hero = make_asset(manifest, name="Hero")

    hero = services.asset_update(asset=hero, asset_type="OBJECT")
    back = services.asset_update(asset=hero, asset_type="CHARACTER")

    assert hero.manifest_tag == "OBJ_02"
    assert back.manifest_tag == "CHAR_02"  # CHAR_01 stays retired


def test_tags_are_unique_per_manifest_in_the_database(make_manifest, make_asset):
    manifest = make_manifest()
    first = make_asset(manifest)
    clash = Asset(manifest=manifest, name="Clash", asset_type="CHARACTER")
    clash.manifest_tag = first.manifest_tag

    with pytest.raises(IntegrityError), transaction.atomic():
        clash.save()


def test_same_tag_in_two_manifests_is_fine(make_manifest, make_asset):
    assert (
        make_asset(make_manifest("A")).manifest_tag == make_asset(make_manifest("B")).manifest_tag
    )


def test_assets_default_to_the_end_and_list_by_sort_order_then_creation(make_manifest, make_asset):
    manifest = make_manifest()
    a = make_asset(manifest, name="a")
    b = make_asset(manifest, name="b")
    first = make_asset(manifest, name="first", sort_order=-5)
    tie = make_asset(manifest, name="tie", sort_order=b.sort_order)

    assert (a.sort_order, b.sort_order) == (0, 1)
    names = [x.name for x in manifest.assets.all()]
    assert names == ["first", "a", "b", "tie"]
    assert make_asset(manifest, name="last").sort_order == 2
    assert first.sort_order == -5 and tie.sort_order == 1


def test_every_content_change_bumps_the_version_and_counts_stay_exact(make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    make_asset(manifest)
    services.asset_update(asset=asset, name="Renamed")
    services.asset_delete(asset=asset)
    services.manifest_update(manifest=manifest, description="new")

    manifest.refresh_from_db()
    assert manifest.version == 6
    assert manifest.asset_count == 1 == manifest.assets.count()


def test_an_update_that_changes_nothing_keeps_the_version(make_manifest, make_asset):
    manifest = make_manifest(description="same")
    asset = make_asset(manifest)

    services.manifest_update(manifest=manifest, description="same", tags=[])
    services.asset_update(asset=asset, name=asset.name)

    manifest.refresh_from_db()
    assert manifest.version == 2


def test_tags_are_normalised(make_manifest):
    manifest = make_manifest(tags=[" hero ", "villain", "hero", "", "  "])
    assert manifest.tags == ["hero", "villain"]
    assert Manifest.objects.get(pk=manifest.pk).tags == ["hero", "villain"]
