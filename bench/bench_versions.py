#!/usr/bin/env python
"""Benchmark frozen versions: freezing a manifest of 1,000 assets, reading it back, diffing.

Reports, for `manifest_freeze` of a 1,000-asset manifest with small images: the wall time
(median of five versions frozen in turn), the number of SQL queries and the bytes written
to disk (0: a version names the stored files, it copies none); for reading a frozen version
back (the `ManifestVersion` fetch and the response content built from it, image URLs
included): time and queries; for the diff of two 1,000-asset versions (`versions_diff`, and
against the current content): time.
Runs on a throw-away SQLite database and MEDIA_ROOT in a temporary directory (or on
`--database-url`, e.g. a scratch PostgreSQL one).

    .venv/bin/python bench/bench_versions.py [--assets 1000] [--check]

With `--check` it exits with status 1 when a target is missed (freeze < 100 ms, queries
<= 7, bytes copied == 0).
"""

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from scratch import (  # bench/scratch.py, beside this script
    configure,
    parse_args,
    png,
    report_targets,
)

TARGET_SECONDS = 0.1
# The freeze's 5 (lock, look for the number, read the assets, insert the record and its file
# names) and its event's 2 (take the id under the counter's lock, which also tells who
# subscribes; insert the event): both must be in the freeze's transaction (the outbox), and
# the first cannot also insert on SQLite (no UPDATE in a WITH clause). Merging the lock with
# the look-up is wrong on PostgreSQL: a freeze that waited for the lock would not see the
# record committed meanwhile. With a subscriber to `manifest.version_frozen`, +1 (its delivery).
TARGET_QUERIES = 7
# Readings and diffs are quick: the median of a few runs says more than one.
REPEATS = 5
# Statements that open or close a transaction: not queries, but captured with them.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def attach_png(asset, index: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from manifests import services

    upload = SimpleUploadedFile(f"asset-{index}.png", png(index), content_type="image/png")
    return services.asset_attach_image(asset=asset, file=upload)


def build_manifest(asset_count: int):
    from manifests import services

    manifest = services.manifest_create(name="Bench", category="MIXED")
    for index in range(asset_count):
        asset = services.asset_create(
            manifest=manifest, name=f"Asset {index}", asset_type="CHARACTER"
        )
        attach_png(asset, index)
    manifest.refresh_from_db()
    return manifest


def edit_manifest(manifest, asset_count: int) -> None:
    """A curator's week: a tenth of the assets renamed, a few new images, deletions and
    additions, and the manifest's description."""
    from manifests import services
    from manifests.models import Asset

    assets = list(Asset.objects.filter(manifest=manifest).ordered())
    for asset in assets[::10]:
        services.asset_update(asset=asset, name=f"{asset.name} (renamed)")
    for asset in assets[5::100]:
        attach_png(asset, asset_count + asset.sort_order)
    for asset in assets[7::200]:
        services.asset_delete(asset=asset)
    for index in range(5):
        services.asset_create(manifest=manifest, name=f"New {index}", asset_type="OBJECT")
    services.manifest_update(manifest=manifest, description="Season 2")


def file_sizes(folder: Path) -> dict[tuple[int, int], int]:
    """(device, inode) -> size of every file under `folder`."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[(stat.st_dev, stat.st_ino)] = stat.st_size
    return found


def measured(action: Callable[[], object]) -> tuple[object, float, int, int]:
    """Run `action` once: what it gave, its wall time, its number of queries and of
    transaction-control statements (BEGIN, COMMIT, savepoints)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    reset_queries()  # the build overflows the query log that CaptureQueriesContext reads
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    control = sum(q["sql"].upper().startswith(TRANSACTION_CONTROL) for q in queries)
    return result, elapsed, len(queries) - control, control


def median_of(action: Callable[[], object]) -> tuple[float, int]:
    """The median wall time of a few runs, and the queries of the last."""
    runs = [measured(action) for _ in range(REPEATS)]
    return statistics.median(run[1] for run in runs), runs[-1][2]


def read_back(manifest_id, number: int) -> bytes:
    """What a version's detail response does: fetch the record, build its content with
    the image URLs, encode it."""
    from django.core.files.storage import default_storage

    from manifests.models import ManifestVersion

    version = ManifestVersion.objects.get(manifest_id=manifest_id, number=number)
    assets = [
        {
            **asset,
            "reference_image_url": default_storage.url(asset["reference_image"])
            if asset["reference_image"]
            else None,
            "thumbnail_url": default_storage.url(asset["thumbnail"])
            if asset["thumbnail"]
            else None,
        }
        for asset in version.assets
    ]
    body = {"number": version.number, "manifest": version.fields, "assets": assets}
    return json.dumps(body).encode()


def main() -> int:
    args = parse_args(__doc__.split("\n", 1)[0])
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp:
        workdir = Path(tmp)
        configure(workdir, args.database_url)
        from django.conf import settings
        from django.db import connection

        from manifests import services
        from manifests.models import Manifest

        started = time.perf_counter()
        manifest = build_manifest(args.assets)
        built = time.perf_counter() - started

        media = Path(settings.MEDIA_ROOT)
        before = file_sizes(media)
        first, freeze_time, freeze_queries, freeze_control = measured(
            lambda: services.manifest_freeze(manifest=manifest)
        )
        # More freezes, each of a new version (an edit of the description in between).
        freeze_times = [freeze_time]
        for number in range(REPEATS - 1):
            services.manifest_update(manifest=manifest, description=f"Take {number}")
            manifest = Manifest.objects.get(pk=manifest.pk)
            freeze = partial(services.manifest_freeze, manifest=manifest)
            freeze_times.append(measured(freeze)[1])
        freeze_time = statistics.median(freeze_times)
        after = file_sizes(media)
        copied_bytes = sum(size for key, size in after.items() if key not in before)
        _, refreeze_time, refreeze_queries, _ = measured(
            lambda: services.manifest_freeze(manifest=manifest)
        )

        body, *_ = measured(lambda: read_back(manifest.pk, first.number))
        read_time, read_queries = median_of(lambda: read_back(manifest.pk, first.number))

        edit_manifest(manifest, args.assets)
        manifest = Manifest.objects.get(pk=manifest.pk)
        second = services.manifest_freeze(manifest=manifest)
        diff = services.versions_diff(first.content, second.content)
        diff_time, _ = median_of(lambda: services.versions_diff(first.content, second.content))

        def against_current():
            current = Manifest.objects.get(pk=manifest.pk)
            return services.versions_diff(first.content, services.manifest_content(current))

        current_time, current_queries = median_of(against_current)

        print(f"database          {connection.vendor}")
        print(f"assets            {first.asset_count} (built in {built:.1f} s)")
        print(f"files named       {first.files.count()} ({sum(before.values())} bytes on disk)")
        target_ms = TARGET_SECONDS * 1000
        print(
            f"freeze time       {freeze_time * 1000:.1f} ms  (target < {target_ms:.0f} ms; "
            f"median of {REPEATS} versions, slowest {max(freeze_times) * 1000:.1f} ms)"
        )
        print(
            f"freeze queries    {freeze_queries}  (target <= {TARGET_QUERIES}; "
            f"+ {freeze_control} BEGIN/COMMIT)"
        )
        print(f"bytes copied      {copied_bytes}  (target 0)")
        print(f"re-freeze         {refreeze_time * 1000:.1f} ms, {refreeze_queries} queries")
        print(
            f"read back         {read_time * 1000:.1f} ms, {read_queries} queries, "
            f"{len(body)} bytes of JSON (median of {REPEATS})"
        )
        print(
            f"diff of versions  {diff_time * 1000:.1f} ms  (v{first.number} and "
            f"v{second.number} of {second.asset_count} assets: {len(diff['added'])} added, "
            f"{len(diff['removed'])} removed, {len(diff['changed'])} changed; median of {REPEATS})"
        )
        print(
            f"diff vs current   {current_time * 1000:.1f} ms, {current_queries} queries "
            f"(reads the current content; median of {REPEATS})"
        )
        return report_targets(
            {
                "freeze time": freeze_time < TARGET_SECONDS,
                "freeze queries": freeze_queries <= TARGET_QUERIES,
                "bytes copied": copied_bytes == 0,
            },
            check=args.check,
            width=18,
        )


if __name__ == "__main__":
    sys.exit(main())
