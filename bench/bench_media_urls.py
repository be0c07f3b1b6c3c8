#!/usr/bin/env python
"""Benchmark signed media URLs: what signing every file URL costs an answer.

Reports the time of one `url()` of the default storage, signed and public
(VIDPIPE_PUBLIC_MEDIA), and of one signature check by the media view's rule; then the
wall time of `GET /api/manifests/{id}` for a manifest of `--assets` assets with images (two
signed URLs each: reference image and thumbnail), signed and public, median of five, and
its query count (the same: signing reads no row).
Runs on a throw-away SQLite database and MEDIA_ROOT in a temporary directory (or on
`--database-url`).

    .venv/bin/python bench/bench_media_urls.py [--assets 1000]
"""

import statistics
import tempfile
import time
from pathlib import Path

from scratch import configure, parse_args, png  # bench/scratch.py, beside this script

REPEATS = 5
CALLS = 20_000


def per_call(function, calls: int = CALLS) -> float:
    """Microseconds per call of `function`."""
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


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
    return manifest


def main() -> None:
    args = parse_args(__doc__.splitlines()[1])
    with tempfile.TemporaryDirectory() as workdir:
        configure(Path(workdir), args.database_url)
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.files.storage import default_storage
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from rest_framework.test import APIClient

        from manifests.media_urls import signature_valid, signed_query, url_expiry

        name = "manifests/0f0f0f0f-0000-0000-0000-000000000000/uploads/a_hero.png"
        signed_url = per_call(lambda: default_storage.url(name))
        settings.VIDPIPE_PUBLIC_MEDIA = True
        public_url = per_call(lambda: default_storage.url(name))
        settings.VIDPIPE_PUBLIC_MEDIA = False
        query = dict(pair.split("=") for pair in signed_query(name, url_expiry()).split("&"))
        check = per_call(lambda: signature_valid(name, query["expires"], query["signature"]))
        print(f"url(), signed:  {signed_url:.1f} µs")
        print(f"url(), public:  {public_url:.1f} µs")
        print(f"signature check: {check:.1f} µs")

        manifest = build_manifest(args.assets)
        user = get_user_model().objects.create_user("bench", is_staff=True)
        client = APIClient()
        client.force_authenticate(user)
        address = f"/api/manifests/{manifest.pk}"
        for public in (False, True):
            settings.VIDPIPE_PUBLIC_MEDIA = public
            times = []
            for _ in range(REPEATS):
                connection.queries_log.clear()  # the build filled the log's 9,000 places
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    response = client.get(address)
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200
            urls = response.content.count(b"?expires=")
            print(
                f"GET manifest of {args.assets} assets, {'public' if public else 'signed'}: "
                f"{statistics.median(times) * 1000:.0f} ms (median of {REPEATS}), "
                f"{len(queries)} queries, {urls} signed URLs"
            )


if __name__ == "__main__":
    main()
