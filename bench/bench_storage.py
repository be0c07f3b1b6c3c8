#!/usr/bin/env python
"""Storage figures, local disk against S3 (moto_server on 127.0.0.1) in one run.

- upload + thumbnail of a 24 MP JPEG (`asset_attach_image`), on each backend;
- duplicate of a 1,000-asset manifest, on each backend: time, SQL queries, S3 requests and
  the bytes that pass through the app (files opened for reading plus files saved, counted
  by wrapping the storages' `_open` and `_save` here, in the bench only);
- purge of 10,000 soft-deleted manifests (one file each) on S3, and of a fifth as many to
  show memory staying flat: time, queries, S3 requests (a botocore event hook on the
  storage's client), peak Python memory (tracemalloc).

    .venv/bin/python bench/bench_storage.py [--assets 1000] [--manifests 10000]

Runs on a throw-away SQLite database, MEDIA_ROOT and moto server (in memory); moto is a
local stand-in for an object store, so S3 times are those of HTTP round trips on one
machine, not of a real store across a network.
"""

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from scratch import configure, free_port, png  # bench/scratch.py, beside this script

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--assets", type=int, default=1000, help="assets of the duplicated manifest"
    )
    parser.add_argument("--manifests", type=int, default=10_000, help="manifests purged on S3")
    parser.add_argument("--repeat", type=int, default=3, help="uploads of the 24 MP JPEG")
    return parser.parse_args()


@contextmanager
def moto_server():
    port = free_port()
    binary = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


class Traffic:
    """Bytes through the app and requests to S3, while counting."""

    def __init__(self):
        self.bytes_read = self.bytes_written = 0
        self.requests: Counter[str] = Counter()

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written


TRAFFIC = Traffic()


def wrap_storages() -> None:
    """Count every byte a storage hands the app (a file opened: its size, as S3File
    downloads it whole) or takes from it (a file saved)."""
    from django.core.files.storage import FileSystemStorage
    from storages.backends.s3 import S3Storage

    for cls in (FileSystemStorage, S3Storage):
        original_open, original_save = cls._open, cls._save

        def _open(self, name, mode="rb", _original=original_open):
            file = _original(self, name, mode)
            TRAFFIC.bytes_read += file.size
            return file

        def _save(self, name, content, _original=original_save):
            TRAFFIC.bytes_written += content.size
            return _original(self, name, content)

        cls._open, cls._save = _open, _save


@contextmanager
def counting():
    """Fresh counts of bytes, S3 requests (per operation) and SQL queries."""
    from django.core.files.storage import default_storage
    from django.db import connection

    global TRAFFIC
    TRAFFIC = Traffic()
    queries = [0]

    def count_query(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    def count_request(model, **kwargs):
        TRAFFIC.requests[model.name] += 1

    events = None
    if hasattr(default_storage, "bucket_name"):
        events = default_storage.connection.meta.client.meta.events
        events.register("before-call.s3", count_request)
    try:
        with connection.execute_wrapper(count_query):
            yield TRAFFIC, queries
    finally:
        if events is not None:
            events.unregister("before-call.s3", count_request)


def s3_settings(endpoint: str, bucket: str) -> dict:
    from django.conf import settings

    from vidpipe.settings import s3_storage

    return {**settings.STORAGES, "default": s3_storage(bucket, endpoint_url=endpoint)}


def photo_jpeg(size=(6000, 4000)) -> bytes:
    """A photo-like 24 MP JPEG (as bench_images.py makes it): gradients with noise."""
    from PIL import Image

    noise = Image.effect_noise(size, 24)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, noise, gradient.rotate(90).resize(size)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload_photo(photo: bytes, repeat: int) -> float:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from manifests import services

    manifest = services.manifest_create(name=f"Photos {uuid.uuid4()}")
    times = []
    for index in range(repeat):
        asset = services.asset_create(manifest=manifest, name=f"P{index}", asset_type="CHARACTER")
        upload = SimpleUploadedFile("photo.jpg", photo, content_type="image/jpeg")
        started = time.perf_counter()
        services.asset_attach_image(asset=asset, file=upload)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def build_manifest(asset_count: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from manifests import services

    manifest = services.manifest_create(name=f"Bench {uuid.uuid4()}", category="MIXED")
    for index in range(asset_count):
        asset = services.asset_create(manifest=manifest, name=f"A{index}", asset_type="CHARACTER")
        upload = SimpleUploadedFile(f"asset-{index}.png", png(index), content_type="image/png")
        services.asset_attach_image(asset=asset, file=upload)
    manifest.refresh_from_db()
    return manifest


def duplicate(asset_count: int) -> tuple[float, int, Traffic, float]:
    from manifests import services

    started = time.perf_counter()
    manifest = build_manifest(asset_count)
    built = time.perf_counter() - started
    with counting() as (traffic, queries):
        started = time.perf_counter()
        services.manifest_duplicate(manifest=manifest)
        elapsed = time.perf_counter() - started
    return elapsed, queries[0], traffic, built


def build_deleted(endpoint: str, bucket: str, count: int) -> None:
    """`count` manifests deleted a year ago, one asset each, its file in the bucket (put
    straight through boto3, in parallel: building is not what is measured)."""
    import boto3
    from botocore.config import Config
    from django.utils import timezone

    from manifests.models import Asset, Manifest, manifest_media_path

    deleted_at = timezone.now() - timedelta(days=365)
    manifests, assets = [], []
    for index in range(count):
        manifest = Manifest(
            id=uuid.uuid4(), name=f"Old {index}", deleted_at=deleted_at, asset_count=1
        )
        asset = Asset(
            id=uuid.uuid4(),
            manifest=manifest,
            asset_type="CHARACTER",
            name="Asset",
            manifest_tag="CHAR_01",
        )
        asset.reference_image = manifest_media_path(manifest.id, "uploads", f"{asset.id}.png")
        manifests.append(manifest)
        assets.append(asset)
    Manifest.all_objects.bulk_create(manifests, batch_size=1000)
    Asset.all_objects.bulk_create(assets, batch_size=1000)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    )
    body = b"\x89PNG" + bytes(60)
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda a: client.put_object(Bucket=bucket, Key=a.reference_image.name, Body=body),
                assets,
            )
        )


def purge(endpoint: str, bucket: str, count: int):
    from manifests.services.purging import manifests_purge

    build_deleted(endpoint, bucket, count)
    with counting() as (traffic, queries):
        tracemalloc.start()
        started = time.perf_counter()
        report = manifests_purge(older_than=timedelta(days=30))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return report, elapsed, queries[0], traffic, peak


def requests_summary(traffic: Traffic) -> str:
    total = sum(traffic.requests.values())
    if not total:
        return "0"
    parts = ", ".join(f"{n} {name}" for name, n in traffic.requests.most_common())
    return f"{total} ({parts})"


def main() -> int:
    args = parse_args()
    os.environ.update(CREDENTIALS)
    os.environ["DJANGO_DEBUG"] = "0"  # as in production: no query log growing in memory
    os.environ.setdefault("DJANGO_SECRET_KEY", f"bench-only-{uuid.uuid4()}-{uuid.uuid4()}")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")
    with tempfile.TemporaryDirectory(prefix="vidpipe-bench-") as tmp, moto_server() as endpoint:
        configure(Path(tmp), None)
        import boto3
        from botocore.config import Config
        from django.test.utils import override_settings

        wrap_storages()
        client = boto3.client(
            "s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"})
        )
        buckets = {name: f"vidpipe-bench-{name}" for name in ("files", "purge")}
        for bucket in buckets.values():
            client.create_bucket(Bucket=bucket)
        on_s3 = override_settings(STORAGES=s3_settings(endpoint, buckets["files"]))

        photo = photo_jpeg()
        print(
            f"upload + thumbnail of a 24 MP JPEG ({len(photo) / 1e6:.1f} MB), "
            f"median of {args.repeat}"
        )
        print(f"  local disk  {upload_photo(photo, args.repeat):6.2f} s")
        with on_s3:
            print(f"  S3 (moto)   {upload_photo(photo, args.repeat):6.2f} s")

        print(f"\nduplicate of a {args.assets}-asset manifest (an image and a thumbnail each)")
        print(
            f"  {'storage':<11} {'time':>8} {'queries':>8} {'bytes through app':>18}  S3 requests"
        )
        for label, context in (("local disk", None), ("S3 (moto)", on_s3)):
            if context is not None:
                context.enable()
            elapsed, queries, traffic, built = duplicate(args.assets)
            if context is not None:
                context.disable()
            print(
                f"  {label:<11} {elapsed:>7.2f}s {queries:>8} {traffic.bytes:>18,}  "
                f"{requests_summary(traffic)}   (built in {built:.0f} s)"
            )

        print("\npurge on S3 (moto), one file per manifest, batches of 100")
        print(
            f"  {'manifests':>9} {'time':>8} {'queries':>8} {'peak memory':>12} {'files':>7}"
            "  S3 requests"
        )
        with override_settings(STORAGES=s3_settings(endpoint, buckets["purge"])):
            for count in (max(args.manifests // 5, 1), args.manifests):
                report, elapsed, queries, traffic, peak = purge(endpoint, buckets["purge"], count)
                print(
                    f"  {report.manifests:>9} {elapsed:>7.2f}s {queries:>8} "
                    f"{peak / 1024 / 1024:>10.1f}MB {report.files:>7}  {requests_summary(traffic)}"
                )
            left = client.list_objects_v2(Bucket=buckets["purge"]).get("KeyCount", 0)
            print(f"  objects left in the bucket: {left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
