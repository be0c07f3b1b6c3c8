"""The operations commands as an operator runs them: `python manage.py …` in a real process,
checked by exit code, stdout and stderr.

The child process must see the rows this test created and this test must see what the child
changed. On PostgreSQL both use the test database (the tests commit: `transaction=True`).
SQLite's test database lives in this process's memory, so it is copied to a file for the
child (SQLite's backup API) and copied back once the child is done.
"""

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from manifests.models import Asset, Manifest
from tests.conftest import stored_files
from tests.ops_factories import (
    files_of,
    manifest_with_images,
    referenced_and_deleted,
    snapshot,
    soft_deleted,
)

pytestmark = pytest.mark.django_db(transaction=True)

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def _postgres_url(db: dict) -> str:
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}@{db.get('HOST') or ''}{port}/{quote(db['NAME'], safe='')}"


@contextmanager
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL for a child process that holds this test's data; on exit, this test's
    connection sees what the child did."""
    if connection.vendor == "postgresql":
        yield _postgres_url(connection.settings_dict)
        return
    if connection.vendor != "sqlite":
        pytest.skip(f"no way to share a {connection.vendor} test database with a subprocess")
    if not connection.is_in_memory_db():
        yield f"sqlite:///{connection.settings_dict['NAME']}"
        return
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    with closing(sqlite3.connect(path)) as file_db:
        connection.connection.backup(file_db)
    yield f"sqlite:///{path}"
    with closing(sqlite3.connect(path)) as file_db:
        file_db.backup(connection.connection)


@pytest.fixture
def manage(tmp_path, media_root):
    """Run `python manage.py <args>` against this test's database and MEDIA_ROOT."""

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MEDIA_ROOT": str(media_root), "DJANGO_DEBUG": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        with shared_database(tmp_path) as url:
            env["DATABASE_URL"] = url
            return subprocess.run(
                [sys.executable, str(MANAGE_PY), *args],
                cwd=MANAGE_PY.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

    return run


def test_duplicate_exits_zero_and_prints_the_id_alone(manage, media_root):
    source = manifest_with_images("Heroes", images=2)

    result = manage("duplicate_manifest", str(source.pk), "--name", "Heroes II", "--verbosity", "0")

    assert result.returncode == 0, result.stderr
    copy_id = uuid.UUID(result.stdout.strip())
    assert result.stdout == f"{copy_id}\n"
    copy = Manifest.objects.get(pk=copy_id)
    assert (copy.name, copy.asset_count) == ("Heroes II", 2)
    assert all((media_root / name).exists() for name in files_of(copy))
    assert all(name.startswith(f"manifests/{copy_id}/") for name in files_of(copy))


@pytest.mark.parametrize(
    "manifest_id, message",
    [("nope", "is not a manifest id"), (str(uuid.UUID(int=1)), "No manifest has the id")],
)
def test_duplicate_of_a_bad_id_fails_and_creates_nothing(manage, media_root, manifest_id, message):
    manifest_with_images("Heroes", images=1)
    before = snapshot(media_root)

    result = manage("duplicate_manifest", manifest_id)

    assert result.returncode != 0
    assert "CommandError" in result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert snapshot(media_root) == before


def test_duplicate_of_a_deleted_manifest_fails(manage, media_root):
    deleted = soft_deleted(manifest_with_images("Old", images=1))

    result = manage("duplicate_manifest", str(deleted.pk))

    assert result.returncode != 0
    assert "is deleted" in result.stderr
    assert Manifest.all_objects.count() == 1


def test_purge_dry_run_exits_zero_and_changes_nothing(manage, media_root):
    doomed = soft_deleted(manifest_with_images("Doomed", images=2))
    before = snapshot(media_root)

    result = manage("purge_manifests", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert f"Would purge {doomed.pk}" in result.stdout
    assert snapshot(media_root) == before


def test_purge_removes_old_manifests_and_skips_referenced_ones(manage, media_root):
    original = manifest_with_images("Original", images=2)
    copy_result = manage("duplicate_manifest", str(original.pk), "-v", "0")
    copy_id = copy_result.stdout.strip()
    soft_deleted(original)
    pinned = manifest_with_images("Pinned", images=1)
    referenced_and_deleted(pinned, "Pilot")

    result = manage("purge_manifests", "--older-than", "0", "--batch-size", "1")

    assert result.returncode == 0, result.stderr
    # One manifest per batch: one batch purges the original, the other skips the pinned one.
    assert re.search(r"^Batch [12]: purged 1 manifest, 2 assets", result.stdout, re.M)
    assert re.search(r"^Batch [12]: purged 0 manifests, .*skipped 1\.$", result.stdout, re.M)
    assert f'Skipped {pinned.pk} "Pinned"' in result.stdout
    # 2 uploads, 2 thumbnails (the first also the manifest's), 1 contact sheet
    assert "Purged 1 manifest, 2 assets, 5 files" in result.stdout
    assert set(Manifest.all_objects.values_list("pk", flat=True)) == {
        pinned.pk,
        uuid.UUID(copy_id),
    }
    copy = Manifest.objects.get(pk=copy_id)
    assert Asset.objects.filter(manifest=copy).count() == 2
    assert stored_files(media_root) == sorted(files_of(copy) + files_of(pinned))
    assert not (media_root / "manifests" / str(original.pk)).exists()


@pytest.mark.parametrize(
    "args", [["--older-than", "-3"], ["--batch-size", "0"], ["--older-than", "x"]]
)
def test_purge_with_bad_options_exits_nonzero(manage, args):
    result = manage("purge_manifests", *args)

    assert result.returncode != 0
    assert "--older-than" in result.stderr or "--batch-size" in result.stderr


def test_orphan_sweep_exits_zero_and_removes_only_orphans(manage, media_root):
    live = manifest_with_images("Live", images=1)
    orphan = default_storage.save(f"manifests/{live.pk}/uploads/crash.png", ContentFile(b"1234"))

    result = manage("purge_orphan_files", "--min-age", "0")

    assert result.returncode == 0, result.stderr
    assert "Removed 1 orphan file (4 bytes" in result.stdout
    assert not (media_root / orphan).exists()
    assert stored_files(media_root) == files_of(live)


def test_rebuild_thumbnails_exits_non_zero_when_an_image_is_lost(manage, media_root):
    manifest = manifest_with_images("Cast", images=2, derived=False)
    lost, _fine = Asset.objects.filter(manifest=manifest).order_by("manifest_tag")
    default_storage.delete(lost.reference_image.name)

    dry = manage("rebuild_thumbnails", "--all", "--dry-run")
    real = manage("rebuild_thumbnails", "--all")

    assert dry.returncode == 0, dry.stderr
    assert "would rebuild 1 thumbnail" in dry.stdout
    assert real.returncode != 0
    assert f"{lost.manifest_tag} ({lost.pk})" in real.stderr and "image missing" in real.stderr
    assert "Rebuilt 1 thumbnail." in real.stdout
