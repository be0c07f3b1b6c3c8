"""List and detail endpoints cost a constant number of queries, whatever the size."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import image_upload


def count_queries(api, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200
    return len(queries)


def make_manifests(n: int) -> None:
    Manifest.objects.bulk_create(Manifest(name=f"m{i}", tags=["t"]) for i in range(n))


def add_assets(manifest: Manifest, n: int) -> None:
    """Many assets at once, bypassing the per-asset domain function for speed."""
    start = Asset.objects.filter(manifest=manifest).count()
    Asset.objects.bulk_create(
        Asset(manifest=manifest, name=f"a{i}", asset_type="OTHER", manifest_tag=f"OTHER_{i:02d}")
        for i in range(start, start + n)
    )


def test_list_manifests_costs_constant_queries(api, db, django_assert_num_queries):
    make_manifests(5)
    small = count_queries(api, "/api/manifests")
    make_manifests(45)
    large = count_queries(api, "/api/manifests?ordering=name&category=CUSTOM&tag=t")
    assert small == large
    # token + count + page
    with django_assert_num_queries(3):
        api.get("/api/manifests")


def test_manifest_detail_costs_constant_queries(api, make_manifest, django_assert_num_queries):
    manifest = make_manifest()
    add_assets(manifest, 2)
    services.asset_attach_image(asset=manifest.assets.first(), file=image_upload())
    small = count_queries(api, f"/api/manifests/{manifest.pk}")
    add_assets(manifest, 198)
    large = count_queries(api, f"/api/manifests/{manifest.pk}")
    assert small == large
    # token + manifest + its assets
    with django_assert_num_queries(3):
        api.get(f"/api/manifests/{manifest.pk}")


def test_asset_lists_cost_constant_queries(api, make_manifest):
    manifest = make_manifest()
    add_assets(manifest, 3)
    nested_small = count_queries(api, f"/api/manifests/{manifest.pk}/assets")
    flat_small = count_queries(api, "/api/assets")
    add_assets(manifest, 150)
    assert count_queries(api, f"/api/manifests/{manifest.pk}/assets") == nested_small
    assert count_queries(api, "/api/assets") == flat_small


def test_project_list_costs_constant_queries(api, make_manifest):
    manifest = make_manifest()
    services.project_create(name="p", manifest=manifest)
    small = count_queries(api, "/api/projects")
    for i in range(30):
        services.project_create(name=f"p{i}", manifest=manifest)
    assert count_queries(api, "/api/projects") == small
