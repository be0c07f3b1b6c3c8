"""Freezing under concurrency, for real: threads with their own connections against
PostgreSQL. Parallel links and freezes of one manifest give one frozen record per version
number, whatever edits run between them.

SQLite serialises writers on a file lock, so these only mean something on PostgreSQL,
where `.ci/run` runs them; on SQLite they are skipped.
"""

from collections import Counter

import pytest
from django.db import connection

from manifests import services
from manifests.models import Manifest, ManifestVersion, Project, VersionFile
from tests.conftest import image_upload
from tests.threads import run_in_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres_only,
]

LINKS = 20
UPDATES = 4


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks between real connections)")


def cast() -> Manifest:
    manifest = services.manifest_create(name="Cast")
    for index in range(3):
        asset = services.asset_create(
            manifest=manifest, name=f"Hero {index}", asset_type="CHARACTER"
        )
        services.asset_attach_image(asset=asset, file=image_upload(f"hero-{index}.png"))
    return Manifest.objects.get(pk=manifest.pk)


def test_parallel_links_between_edits_give_one_record_per_pinned_version(media_root):
    manifest = cast()
    # Edits spread among the links, so that links pin several different versions.
    editors = {LINKS * (n + 1) // (UPDATES + 1) + n for n in range(UPDATES)}

    def act(i: int):
        if i in editors:
            return services.manifest_update(manifest=manifest, description=f"edit {i}")
        return services.project_create(name=f"Storyboard {i}", manifest=manifest)

    results = run_in_threads(act, LINKS + UPDATES)

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(isinstance(r, Project) for r in results) == LINKS
    pinned = Counter(Project.objects.values_list("manifest_version", flat=True))
    assert sum(pinned.values()) == LINKS
    numbers = list(
        ManifestVersion.objects.filter(manifest=manifest).values_list("number", flat=True)
    )
    # One record per distinct pinned number: none missing, none twice, none unpinned.
    assert sorted(numbers) == sorted(pinned)
    final = Manifest.objects.get(pk=manifest.pk)
    assert final.times_used == LINKS and final.version == manifest.version + UPDATES
    for version in ManifestVersion.objects.filter(manifest=manifest):
        assert version.asset_count == 3
        description = version.fields["description"]
        assert (
            description == "" if version.number == manifest.version else description[:5] == "edit "
        )
        names = list(VersionFile.objects.filter(version=version).values_list("name", flat=True))
        assert len(names) == len(set(names)) == 6  # three images, three thumbnails


def test_parallel_freezes_give_one_record(media_root):
    manifest = cast()

    results = run_in_threads(lambda i: services.manifest_freeze(manifest=manifest), LINKS)

    assert not [r for r in results if isinstance(r, Exception)], results
    version = ManifestVersion.objects.get()
    assert {r.pk for r in results} == {version.pk}
    assert version.number == manifest.version
    assert VersionFile.objects.filter(version=version).count() == 6
