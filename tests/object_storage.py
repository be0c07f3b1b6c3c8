"""A real S3-protocol server for the tests: moto's standalone server (`moto_server`), run on
127.0.0.1 on a free port for the whole session, and a fresh bucket per test.

`VIDPIPE_TEST_STORAGE=s3 pytest -m s3` (the S3 pass of .ci/run) runs the modules marked
`s3` with every file in a bucket of that server instead of on disk; `stored_files` then
lists the bucket. Never a mock of boto3: the app's own requests go over HTTP to the server.
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.processes import free_port
from vidpipe.settings import s3_storage

S3_PASS = os.environ.get("VIDPIPE_TEST_STORAGE", "disk") == "s3"
MOTO_SERVER = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
# moto accepts any credentials; boto3 needs some, and no developer's real ones are used.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "vidpipe-tests",
    "AWS_SECRET_ACCESS_KEY": "vidpipe-tests-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_moto_server() -> Iterator[str]:
    """Yield the endpoint URL of a moto server started for the caller; stop it after."""
    if not os.path.exists(MOTO_SERVER):
        pytest.skip("moto_server is not installed (pip install 'moto[server]'): no S3 server")
    port = free_port()
    process = subprocess.Popen(
        [MOTO_SERVER, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {endpoint}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def client(endpoint: str):
    """A boto3 client of the test server, for the tests' own look at the bucket."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def new_bucket(endpoint: str) -> str:
    name = f"vidpipe-test-{uuid.uuid4().hex[:20]}"
    client(endpoint).create_bucket(Bucket=name)
    return name


def storage_settings(endpoint: str, bucket: str, **options) -> dict:
    return s3_storage(bucket, endpoint_url=endpoint, region="us-east-1", **options)


def bucket_keys(endpoint: str, bucket: str) -> list[str]:
    """Every key in the bucket, sorted."""
    pages = client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
