#!/usr/bin/env python
"""Benchmark the API's own overhead: the manifest list page against a bare Django floor.

Builds 1,000 manifests (a third with thumbnails and contact sheets, tags, descriptions,
processing progress, costs, parents) and one manifest of `--assets` assets with images,
then times in-process, with DEBUG off, production's middleware and throttling (the
production rates, counted in the local-memory cache), side by side in one run:
- `GET /api/manifests` (50 per page, token authentication, as a client asks);
- the floor: a bare Django view (bench/scale_urls.py, shared with bench_scale) answering
  the same 50 rows, read with `.values()`, as JSON;
- `GET /api/manifests/{id}` of the `--assets`-asset manifest.
Prints the p50 of each over `--requests` requests, the floor/API ratio (target at least
0.5) and the query counts. `--profile` prints the top of a cProfile of the list requests.

    .venv/bin/python bench/bench_api_overhead.py [--requests 300] [--profile] [--check]
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from scratch import configure, report_targets  # bench/scratch.py, beside this script

FLOOR_URL = "/bench/floor"  # bench/scale_urls.py (imported once Django is set up)

MANIFESTS = 1000
TARGET_RATIO = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--assets", type=int, default=1000, help="assets in the big manifest")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per route")
    parser.add_argument("--profile", action="store_true", help="cProfile the list requests")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--database-url",
        help="a scratch database to use instead of a temporary SQLite file (it gets data!)",
    )
    return parser.parse_args()


@contextmanager
def instance_reads():
    """The list page read as model instances, as before rows (FastReads.read_rows off)."""
    from manifests.fast_reads import FastReads

    saved = FastReads.__dict__["read_rows"]
    FastReads.read_rows = classmethod(lambda cls, queryset, also=(): queryset)
    try:
        yield
    finally:
        FastReads.read_rows = saved


def build_library(asset_count: int):
    """1,000 varied manifests and one of `asset_count` assets with images (rows only: URL
    building needs a stored name, not the file)."""
    from django.utils import timezone

    from manifests.models import Asset, Manifest

    now = timezone.now()
    manifests = []
    for index in range(MANIFESTS):
        pictured = index % 3 == 0
        manifests.append(
            Manifest(
                name=f"Library {index} — café ünïcode" if index % 7 == 0 else f"Library {index}",
                description=f"Reference set number {index}." if index % 2 else "",
                category=["CHARACTERS", "OBJECTS", "MIXED"][index % 3],
                tags=[f"tag{index % 10}", "studio"] if index % 4 else [],
                status=["DRAFT", "READY", "PROCESSING"][index % 3],
                processing_progress={"step": "thumbs", "done": index % 5} if index % 5 else None,
                thumbnail=f"manifests/{index}/thumb.png" if pictured else "",
                contact_sheet=f"manifests/{index}/sheet.png" if index % 6 == 0 else "",
                total_processing_cost=Decimal(index) / 7 if index % 2 else Decimal(0),
                times_used=index % 4,
                last_used_at=now - timedelta(minutes=index) if index % 4 else None,
            )
        )
    Manifest.objects.bulk_create(manifests)
    for child, parent in zip(manifests[1::10], manifests[::10], strict=False):
        child.parent_manifest = parent
    Manifest.objects.bulk_update(manifests[1::10], ["parent_manifest"])
    big = Manifest.objects.create(name="Big", category="MIXED", asset_count=asset_count)
    Asset.objects.bulk_create(
        Asset(
            manifest=big,
            asset_type="CHARACTER",
            name=f"Asset {index}",
            manifest_tag=f"CHAR_{index + 1:02d}",
            user_tags=["hero"] if index % 2 else [],
            reference_image=f"manifests/{big.pk}/uploads/{index}_hero.png",
            thumbnail=f"manifests/{big.pk}/thumbs/{index}.png" if index % 2 else "",
            image_format="PNG",
            image_width=16,
            image_height=12,
            sort_order=index,
        )
        for index in range(asset_count)
    )
    return big


def timed(client, address: str, count: int, **headers) -> list[float]:
    """Wall times (ms) of `count` GETs of `address`, each checked to answer 200."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(address, **headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (address, response.status_code)
    return times


def queries(client, address: str, **headers) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(address, **headers)
    return len(captured)


def main() -> None:
    args = parse_args()
    os.environ.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-" + "k" * 60,
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_SECURE_SSL_REDIRECT="0",
    )
    with tempfile.TemporaryDirectory() as workdir:
        os.environ["DJANGO_STATIC_ROOT"] = str(Path(workdir) / "static")
        (Path(workdir) / "static").mkdir()
        configure(Path(workdir), args.database_url)
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.test.utils import override_settings
        from rest_framework.authtoken.models import Token

        big = build_library(args.assets)
        user = get_user_model().objects.create_user("bench", is_staff=True)
        auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}
        client = Client()
        listing, detail = "/api/manifests", f"/api/manifests/{big.pk}"
        with override_settings(ROOT_URLCONF="scale_urls"):  # bench/scale_urls.py: the floor
            print(f"DEBUG {settings.DEBUG}, throttle rates {settings.VIDPIPE_THROTTLE_RATES}")
            for _ in range(20):  # warm-up: imports, connection, caches
                client.get(listing, **auth)
                client.get(FLOOR_URL)
            api, floor, instances = [], [], []
            for _ in range(args.requests):  # interleaved: all see the same machine
                api += timed(client, listing, 1, **auth)
                floor += timed(client, FLOOR_URL, 1)
                with instance_reads():
                    instances += timed(client, listing, 1, **auth)
            details = timed(client, detail, max(10, args.requests // 10), **auth)
            list_queries = queries(client, listing, **auth)
            detail_queries = queries(client, detail, **auth)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                timed(client, listing, 100, **auth)
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
                print(out.getvalue())
        api_p50, floor_p50 = statistics.median(api), statistics.median(floor)
        ratio = floor_p50 / api_p50
        print(f"{'list (API)':<22}{api_p50:7.2f} ms p50  {list_queries} queries")
        print(f"{'list (bare floor)':<22}{floor_p50:7.2f} ms p50  1 query")
        instances_p50 = statistics.median(instances)
        print(
            f"{'list, instances':<22}{instances_p50:7.2f} ms p50  "
            f"(rows off; floor/API {floor_p50 / instances_p50:.2f})"
        )
        print(f"{'floor/API':<22}{ratio:7.2f}    (target >= {TARGET_RATIO})")
        print(
            f"{f'detail ({args.assets} assets)':<22}{statistics.median(details):7.2f} ms p50  "
            f"{detail_queries} queries"
        )
        sys.exit(report_targets({"floor/API": ratio >= TARGET_RATIO}, check=args.check, width=22))


if __name__ == "__main__":
    main()
