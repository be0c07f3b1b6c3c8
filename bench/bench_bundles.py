#!/usr/bin/env python
"""Benchmark bundles: export and import of a manifest of 1,000 assets with images.

Builds a manifest of `--assets` assets, each with a PNG of about `--image-kb` KB (random
pixels: it does not compress, as photos do not), then:
- **export**: `GET /api/manifests/{id}/export` through Django's test client (the real view,
  a StreamingHttpResponse consumed chunk by chunk into a file): time, queries, bundle size,
  the largest chunk, and peak Python memory (tracemalloc, in a second run: it slows the
  first down);
- **import**: `manifest_import` of that file (each image read, checked, decoded, stored
  with its thumbnail): time, queries, and peak Python memory (again a second run).
Peak memory must stay flat, far below the bundle's size: nothing holds the whole bundle.
Runs on a throw-away SQLite database and MEDIA_ROOT with DEBUG off (or on --database-url).

    .venv/bin/python bench/bench_bundles.py [--assets 1000] [--image-kb 100] [--check]

With `--check` it exits with status 1 when a target is missed (peak memory of export and
import under 32 MB each, export queries <= 5).
"""

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from scratch import REPO, report_targets  # bench/scratch.py, beside this script

TARGET_PEAK_BYTES = 32 * 1024 * 1024
TARGET_EXPORT_QUERIES = 5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--assets", type=int, default=1000, help="assets in the manifest")
    parser.add_argument("--image-kb", type=int, default=100, help="size of each image, in KB")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--database-url", help="a scratch database (it gets data!)")
    return parser.parse_args()


def configure(workdir: Path, database_url: str | None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "vidpipe.settings"
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    # As in production: with DEBUG on, Django keeps the last 9,000 queries in memory.
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", f"bench-only-{uuid.uuid4()}-{uuid.uuid4()}")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    os.environ["DJANGO_STATIC_ROOT"] = str(workdir / "static")
    (workdir / "static").mkdir()
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def noise_png(index: int, kilobytes: int) -> bytes:
    from PIL import Image

    side = int((kilobytes * 1024 / 3) ** 0.5)
    pixels = hashlib.shake_256(index.to_bytes(4, "big")).digest(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def build_manifest(asset_count: int, kilobytes: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from manifests import services

    manifest = services.manifest_create(name="Bench bundle", category="MIXED")
    kinds = ["CHARACTER", "OBJECT", "ENVIRONMENT"]
    for index in range(asset_count):
        asset = services.asset_create(
            manifest=manifest, name=f"Asset {index}", asset_type=kinds[index % 3]
        )
        upload = SimpleUploadedFile(f"a{index}.png", noise_png(index, kilobytes))
        services.asset_attach_image(asset=asset, file=upload)
    manifest.refresh_from_db()
    return manifest


def measured(action, *, trace: bool):
    """(result, seconds, queries, peak traced bytes or None) of one run of `action`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if trace:
        tracemalloc.start()
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = action()
        elapsed = time.perf_counter() - started
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, elapsed, len(queries), peak


def mb(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MB"


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp:
        workdir = Path(tmp)
        configure(workdir, args.database_url)
        from django.contrib.auth import get_user_model
        from django.db import connection
        from rest_framework.test import APIClient

        from manifests import services
        from manifests.models import Asset

        started = time.perf_counter()
        manifest = build_manifest(args.assets, args.image_kb)
        built = time.perf_counter() - started
        client = APIClient()
        client.force_authenticate(get_user_model().objects.create_user("bench", is_staff=True))
        bundle = workdir / "bundle.zip"

        def export() -> int:
            response = client.get(f"/api/manifests/{manifest.pk}/export", secure=True)
            largest = 0
            with open(bundle, "wb") as out:
                for chunk in response.streaming_content:
                    largest = max(largest, len(chunk))
                    out.write(chunk)
            return largest

        def import_() -> int:
            with open(bundle, "rb") as file:
                return services.manifest_import(bundle=file).asset_count

        largest, export_time, export_queries, _ = measured(export, trace=False)
        _, _, _, export_peak = measured(export, trace=True)
        imported, import_time, import_queries, _ = measured(import_, trace=False)
        _, _, _, import_peak = measured(import_, trace=True)
        size = bundle.stat().st_size
        images = sum(
            (Path(os.environ["MEDIA_ROOT"]) / name).stat().st_size
            for name in Asset.objects.filter(manifest=manifest).values_list(
                "reference_image", flat=True
            )
        )

        print(f"database        {connection.vendor}")
        print(f"assets          {args.assets} (images {mb(images)}, built in {built:.1f} s)")
        print(f"bundle          {mb(size)} ({size} bytes), largest chunk {largest} bytes")
        print(f"export          {export_time:.2f} s, {export_queries} queries")
        print(f"export peak     {mb(export_peak)} (target < {mb(TARGET_PEAK_BYTES)})")
        print(f"import          {import_time:.2f} s, {import_queries} queries, {imported} assets")
        print(f"import peak     {mb(import_peak)} (target < {mb(TARGET_PEAK_BYTES)})")
        return report_targets(
            {
                "export peak": export_peak < TARGET_PEAK_BYTES,
                "import peak": import_peak < TARGET_PEAK_BYTES,
                "export queries": export_queries <= TARGET_EXPORT_QUERIES,
            },
            check=args.check,
        )


if __name__ == "__main__":
    sys.exit(main())
