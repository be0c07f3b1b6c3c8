"""Concurrent writers, for real: threads with their own connections against PostgreSQL.

SQLite serialises writers on a file lock, so these only mean something on PostgreSQL,
where `.ci/run` runs them; on SQLite they are skipped.
"""

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from manifests import services
from manifests.exceptions import ManifestInUse
from manifests.models import Asset, Manifest, Project, VersionFile
from tests.threads import run_in_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only,
]

THREADS = 24


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks between real connections)")


def test_parallel_asset_creation_gives_distinct_tags_and_an_exact_count(staff_user):
    manifest = services.manifest_create(name="Race")
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=staff_user).key

    def create(i: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        asset_type = "CHARACTER" if i % 3 else "OBJECT"
        response = client.post(
            f"/api/manifests/{manifest.pk}/assets", {"name": f"a{i}", "asset_type": asset_type}
        )
        return response.status_code

    results = run_in_threads(create, THREADS)

    assert results == [201] * THREADS
    tags = list(Asset.objects.filter(manifest=manifest).values_list("manifest_tag", flat=True))
    assert len(tags) == len(set(tags)) == THREADS
    counts = Counter(tag.split("_")[0] for tag in tags)
    assert sorted(t for t in tags if t.startswith("OBJ")) == [
        f"OBJ_{n:02d}" for n in range(1, counts["OBJ"] + 1)
    ]
    manifest.refresh_from_db()
    assert manifest.asset_count == THREADS
    assert manifest.version == 1 + THREADS


def test_parallel_creates_and_deletes_keep_the_count_exact():
    manifest = services.manifest_create(name="Churn")
    doomed = [
        services.asset_create(manifest=manifest, name=f"d{i}", asset_type="STYLE")
        for i in range(THREADS // 2)
    ]

    def churn(i: int):
        if i % 2:
            return services.asset_delete(asset=doomed[i // 2])
        return services.asset_create(manifest=manifest, name=f"n{i}", asset_type="STYLE")

    results = run_in_threads(churn, THREADS)

    assert not [r for r in results if isinstance(r, Exception)]
    manifest.refresh_from_db()
    assert manifest.asset_count == Asset.objects.filter(manifest=manifest).count() == THREADS // 2
    assert manifest.tag_sequences == {"STYLE": THREADS}


def test_parallel_links_count_every_use():
    manifest = services.manifest_create(name="Popular")

    results = run_in_threads(
        lambda i: services.project_create(name=f"p{i}", manifest=manifest), THREADS
    )

    assert not [r for r in results if isinstance(r, Exception)]
    assert Manifest.objects.get(pk=manifest.pk).times_used == THREADS


def test_delete_racing_links_never_leaves_a_deleted_manifest_referenced():
    manifest = services.manifest_create(name="Contested")

    def act(i: int):
        if i == THREADS // 2:
            return services.manifest_soft_delete(manifest=manifest)
        return services.project_create(name=f"p{i}", manifest=manifest)

    results = run_in_threads(act, THREADS)

    # Each link either won (a project) or met the deleted manifest (DoesNotExist); the
    # delete either won or was refused (ManifestInUse): nothing else may happen.
    for result in results:
        assert result is None or isinstance(result, Project | Manifest.DoesNotExist | ManifestInUse)
    manifest = Manifest.all_objects.get(pk=manifest.pk)
    if manifest.deleted_at is not None:
        assert not manifest.projects.exists()
    else:
        assert manifest.projects.exists()


def stored_names(root) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def referenced_names() -> set[str]:
    """Every name a row or a frozen version refers to (a version keeps replaced images)."""
    names = set(VersionFile.objects.values_list("name", flat=True))
    for row in Asset.all_objects.values_list("reference_image", "thumbnail"):
        names.update(row)
    for row in Manifest.all_objects.values_list("thumbnail", "contact_sheet"):
        names.update(row)
    return names - {""}


def test_mixed_concurrent_api_traffic_keeps_every_invariant(staff_user, media_root):
    """200 mixed requests from 12 threads, then: counts exact, tags unique, files = rows
    and frozen versions."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from rest_framework.authtoken.models import Token

    from tests.conftest import image_upload

    token = Token.objects.create(user=staff_user).key
    manifests = [services.manifest_create(name=f"m{i}") for i in range(4)]
    assets = [
        services.asset_create(manifest=m, name=f"a{j}", asset_type="CHARACTER")
        for m in manifests
        for j in range(4)
    ]
    for asset in assets[::3]:
        services.asset_attach_image(asset=asset, file=image_upload())
    services.project_create(name="pins m0", manifest=manifests[0])
    manifest_ids = [str(m.pk) for m in manifests]
    asset_ids = [str(a.pk) for a in assets]
    lock = threading.Lock()
    rng = random.Random(20261125)
    plan = [(rng.random(), rng.randrange(10**6)) for _ in range(200)]

    def request(step):
        roll, pick = step
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        with lock:
            manifest_id = manifest_ids[pick % len(manifest_ids)]
            asset_id = asset_ids[pick % len(asset_ids)]
        try:
            if roll < 0.25:
                response = client.post(
                    f"/api/manifests/{manifest_id}/assets",
                    {"name": f"n{pick}", "asset_type": rng.choice(["OBJECT", "STYLE"])},
                )
                if response.status_code == 201:
                    with lock:
                        asset_ids.append(response.json()["id"])
            elif roll < 0.40:
                response = client.patch(f"/api/assets/{asset_id}", {"asset_type": "VEHICLE"})
            elif roll < 0.55:
                response = client.delete(f"/api/assets/{asset_id}")
            elif roll < 0.70:
                response = client.post(
                    f"/api/assets/{asset_id}/upload", {"file": image_upload()}, format="multipart"
                )
            elif roll < 0.82:
                response = client.post(f"/api/manifests/{manifest_id}/duplicate")
                if response.status_code == 201:
                    with lock:
                        manifest_ids.append(response.json()["id"])
            elif roll < 0.92:
                response = client.delete(f"/api/manifests/{manifest_id}")
            else:
                response = client.post(f"/api/manifests/{manifest_id}/restore")
            return response.status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(request, plan))

    assert not [s for s in statuses if s >= 500], Counter(statuses)
    assert set(statuses) <= {200, 201, 204, 404, 409}, Counter(statuses)
    for manifest in Manifest.all_objects.all():
        rows = Asset.all_objects.filter(manifest=manifest)
        assert manifest.asset_count == rows.count(), manifest
        tags = list(rows.values_list("manifest_tag", flat=True))
        assert len(tags) == len(set(tags))
        for tag in tags:
            prefix, number = tag.rsplit("_", 1)
            assert int(number) <= manifest.tag_sequences[prefix]
    assert Manifest.objects.filter(pk=manifests[0].pk).exists()  # referenced: never deleted
    assert stored_names(media_root) == referenced_names()
