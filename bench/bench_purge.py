#!/usr/bin/env python
"""Benchmark `manifests_purge`: many soft-deleted manifests, each with assets and files.

Reports the wall time, SQL queries and peak Python memory (tracemalloc) of the purge, for
two sizes, so that you can see the memory stay flat while the manifest count grows. Runs
on a throw-away SQLite database and MEDIA_ROOT in a temporary directory.

    .venv/bin/python bench/bench_purge.py [--manifests 10000] [--assets 2] [--batch-size 100]
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--manifests", type=int, default=10_000, help="the larger run's size")
    parser.add_argument("--assets", type=int, default=2, help="assets (one file each) per manifest")
    parser.add_argument("--batch-size", type=int, default=100)
    return parser.parse_args()


def configure(workdir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "vidpipe.settings"
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    # As in production: with DEBUG on, Django keeps the last 9,000 queries in memory.
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", f"bench-only-{uuid.uuid4()}-{uuid.uuid4()}")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(count: int, assets_each: int) -> None:
    """`count` manifests deleted a year ago, each with assets whose images are on disk."""
    from django.conf import settings
    from django.utils import timezone

    from manifests.models import Asset, Manifest, manifest_media_path

    deleted_at = timezone.now() - timedelta(days=365)
    media = Path(settings.MEDIA_ROOT)
    manifests, assets = [], []
    for index in range(count):
        manifest = Manifest(id=uuid.uuid4(), name=f"Old {index}", deleted_at=deleted_at)
        manifests.append(manifest)
        for number in range(1, assets_each + 1):
            asset = Asset(
                id=uuid.uuid4(),
                manifest=manifest,
                asset_type="CHARACTER",
                name=f"Asset {number}",
                manifest_tag=f"CHAR_{number:02d}",
            )
            asset.reference_image = manifest_media_path(manifest.id, "uploads", f"{asset.id}.png")
            path = media / asset.reference_image.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\x89PNG" + bytes(60))
            assets.append(asset)
        manifest.asset_count = assets_each
    Manifest.all_objects.bulk_create(manifests, batch_size=1000)
    Asset.all_objects.bulk_create(assets, batch_size=1000)


def measure(count: int, args: argparse.Namespace) -> tuple[float, int, int, object]:
    from django.db import connection

    from manifests.services.purging import manifests_purge

    build(count, args.assets)
    queries = 0

    def count_query(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    tracemalloc.start()
    started = time.perf_counter()
    with connection.execute_wrapper(count_query):
        report = manifests_purge(older_than=timedelta(days=30), batch_size=args.batch_size)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, queries, peak, report


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp:
        configure(Path(tmp))
        print(f"batch size {args.batch_size}, {args.assets} assets (1 file each) per manifest")
        print(f"{'manifests':>10} {'time':>8} {'queries':>8} {'peak memory':>12} {'files':>7}")
        for count in (max(args.manifests // 5, 1), args.manifests):
            elapsed, queries, peak, report = measure(count, args)
            print(
                f"{report.manifests:>10} {elapsed:>7.2f}s {queries:>8} "
                f"{peak / 1024 / 1024:>10.1f}MB {report.files:>7}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
