"""List and detail endpoints cost a constant number of queries, whatever the size."""

import pytest

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import image_upload
from tests.queries import (
    CapturedQueries,
    assert_num_queries,
    assert_same_query_count,
    count_queries,
)


def queries_to_get(api, url) -> CapturedQueries:
    def get():
        assert api.get(url).status_code == 200

    return count_queries(get)


def make_manifests(n: int) -> None:
    Manifest.objects.bulk_create(Manifest(name=f"m{i}", tags=["t"]) for i in range(n))


def add_assets(manifest: Manifest, n: int) -> None:
    """Many assets at once, bypassing the per-asset domain function for speed."""
    start = Asset.objects.filter(manifest=manifest).count()
    Asset.objects.bulk_create(
        Asset(manifest=manifest, name=f"a{i}", asset_type="OTHER", manifest_tag=f"OTHER_{i:02d}")
        for i in range(start, start + n)
    )


def test_list_manifests_costs_constant_queries(api, db):
    make_manifests(5)
    small = queries_to_get(api, "/api/manifests")
    make_manifests(45)
    large = queries_to_get(api, "/api/manifests?ordering=name&category=CUSTOM&tag=t")
    assert_same_query_count(small, large)
    # token + count + page
    with assert_num_queries(3):
        api.get("/api/manifests")


def test_manifest_detail_costs_constant_queries(api, make_manifest):
    manifest = make_manifest()
    add_assets(manifest, 2)
    services.asset_attach_image(asset=manifest.assets.first(), file=image_upload())
    small = queries_to_get(api, f"/api/manifests/{manifest.pk}")
    add_assets(manifest, 198)
    large = queries_to_get(api, f"/api/manifests/{manifest.pk}")
    assert_same_query_count(small, large)
    # token + manifest + its assets
    with assert_num_queries(3):
        api.get(f"/api/manifests/{manifest.pk}")


def test_asset_lists_cost_constant_queries(api, make_manifest):
    manifest = make_manifest()
    add_assets(manifest, 3)
    nested_small = queries_to_get(api, f"/api/manifests/{manifest.pk}/assets")
    flat_small = queries_to_get(api, "/api/assets")
    add_assets(manifest, 150)
    assert_same_query_count(
        nested_small, queries_to_get(api, f"/api/manifests/{manifest.pk}/assets")
    )
    assert_same_query_count(flat_small, queries_to_get(api, "/api/assets"))


def test_project_list_costs_constant_queries(api, make_manifest):
    manifest = make_manifest()
    services.project_create(name="p", manifest=manifest)
    small = queries_to_get(api, "/api/projects")
    for i in range(30):
        services.project_create(name=f"p{i}", manifest=manifest)
    assert_same_query_count(small, queries_to_get(api, "/api/projects"))


# --- the helpers' failure messages -----------------------------------------------------------


def test_a_wrong_query_count_fails_listing_the_sql_that_ran(db):
    with pytest.raises(AssertionError) as failure, assert_num_queries(0):
        Manifest.objects.count()

    message = str(failure.value)
    assert message.startswith("Expected 0 queries, 1 ran:\n1. SELECT COUNT(*)")
    assert "manifests_manifest" in message


def test_a_query_count_that_grows_fails_listing_both_sizes(db):
    small = count_queries(lambda: list(Manifest.objects.all()))
    large = count_queries(lambda: [Manifest.objects.count(), list(Manifest.objects.all())])

    with pytest.raises(AssertionError) as failure:
        assert_same_query_count(small, large)

    message = str(failure.value)
    assert message.startswith("Queries at the small size: 1, at the large one: 2.\n")
    assert "\nSmall:\n1. SELECT" in message
    assert "\nLarge:\n1. SELECT COUNT(*)" in message and "\n2. SELECT" in message
