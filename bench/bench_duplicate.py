#!/usr/bin/env python
"""Benchmark `manifest_duplicate`: a manifest of 1,000 assets with small images.

Reports the wall time, the number of SQL queries and the bytes actually written to disk by
the copy (0 when every file is a hard link). Runs on a throw-away SQLite database and
MEDIA_ROOT in a temporary directory (or on `--database-url`, e.g. a scratch PostgreSQL one).

    .venv/bin/python bench/bench_duplicate.py [--assets 1000] [--check]

With `--check` it exits with status 1 when a target is missed (time < 1 s, queries <= 15,
bytes copied == 0 on local disk).
"""

import sys
import tempfile
import time
from pathlib import Path

from scratch import (  # bench/scratch.py, beside this script
    configure,
    parse_args,
    png,
    report_targets,
)

TARGET_SECONDS = 1.0
TARGET_QUERIES = 15


def build_manifest(asset_count: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from manifests import services

    manifest = services.manifest_create(name="Bench", category="MIXED")
    for index in range(asset_count):
        asset = services.asset_create(
            manifest=manifest, name=f"Asset {index}", asset_type="CHARACTER"
        )
        upload = SimpleUploadedFile(f"asset-{index}.png", png(index), content_type="image/png")
        services.asset_attach_image(asset=asset, file=upload)
    manifest.refresh_from_db()
    return manifest


def inodes_under(folder: Path) -> dict[int, int]:
    """inode -> size of every file under `folder`."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            found[stat.st_ino] = stat.st_size
    return found


def main() -> int:
    args = parse_args(__doc__.split("\n", 1)[0])
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp:
        workdir = Path(tmp)
        configure(workdir, args.database_url)
        from django.conf import settings
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        from manifests import services

        started = time.perf_counter()
        manifest = build_manifest(args.assets)
        built = time.perf_counter() - started

        media = Path(settings.MEDIA_ROOT)
        source_inodes = inodes_under(media / "manifests" / str(manifest.id))
        reset_queries()  # the build overflowed the query log that CaptureQueriesContext reads
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            copy = services.manifest_duplicate(manifest=manifest)
            elapsed = time.perf_counter() - started
        copy_inodes = inodes_under(media / "manifests" / str(copy.id))
        copied_bytes = sum(
            size for inode, size in copy_inodes.items() if inode not in source_inodes
        )

        print(f"database        {connection.vendor}")
        print(f"assets          {copy.asset_count} (built in {built:.1f} s)")
        print(f"files           {len(copy_inodes)} ({sum(source_inodes.values())} bytes)")
        print(f"duplicate time  {elapsed:.3f} s  (target < {TARGET_SECONDS} s)")
        print(f"queries         {len(queries)}  (target <= {TARGET_QUERIES})")
        print(f"bytes copied    {copied_bytes}  (target 0 on local disk)")
        return report_targets(
            {
                "time": elapsed < TARGET_SECONDS,
                "queries": len(queries) <= TARGET_QUERIES,
                "bytes copied": copied_bytes == 0,
            },
            check=args.check,
        )


if __name__ == "__main__":
    sys.exit(main())
