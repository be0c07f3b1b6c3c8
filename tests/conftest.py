import io
import os
import urllib.parse
import urllib.request

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from manifests import services
from manifests.counting import forget_estimates
from tests import object_storage
from tests.object_storage import S3_PASS


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users need no brute-force resistance; the default hasher dominates run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Rate-limit counters live in the cache, planner estimates in the process (a kept one
    would be of another test's rows); each test starts with none."""
    cache.clear()
    forget_estimates()


@pytest.fixture(scope="session")
def s3_endpoint():
    """The URL of a moto S3 server running for the session (skips without moto_server)."""
    saved = {name: os.environ.get(name) for name in object_storage.CREDENTIALS}
    os.environ.update(object_storage.CREDENTIALS)
    try:
        yield from object_storage.start_moto_server()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(request, settings, s3_endpoint):
    """A fresh bucket on the test S3 server, made the storage of every file field."""
    bucket = object_storage.new_bucket(s3_endpoint)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": object_storage.storage_settings(s3_endpoint, bucket),
    }
    _active_bucket[:] = [(s3_endpoint, bucket)]
    request.addfinalizer(_active_bucket.clear)
    return bucket


# The bucket `stored_files` lists instead of MEDIA_ROOT, while a test stores files in one.
_active_bucket: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def media_root(request, settings, tmp_path):
    """Every test writes its files under its own temporary MEDIA_ROOT, or, in the S3 pass
    (VIDPIPE_TEST_STORAGE=s3), in its own bucket of the test S3 server."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    if S3_PASS:
        request.getfixturevalue("s3_bucket")
    return root


def pytest_runtest_setup(item):
    if S3_PASS and (marker := item.get_closest_marker("disk_only")):
        pytest.skip(f"local disk only: {marker.args[0] if marker.args else 'disk behaviour'}")


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 6), color="red", **save) -> bytes:
    mode = "RGBA" if fmt in {"PNG", "WEBP"} else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def image_upload(name: str = "hero.png", fmt: str = "PNG", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(fmt, **kwargs), content_type="image/png")


def stored_files(root) -> list[str]:
    """Every file under MEDIA_ROOT, relative and sorted (every key of the test's bucket
    while it stores files in one: the S3 pass, or a test that asked for `s3_bucket`)."""
    if _active_bucket:
        return object_storage.bucket_keys(*_active_bucket[0])
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def unsigned(url: str | None) -> str | None:
    """A media URL without its signature (`?expires=…&signature=…`): where the file is."""
    return url and url.split("?", 1)[0]


def stored_bytes(root, name: str) -> bytes:
    """The bytes of a stored file, read from MEDIA_ROOT or the test's bucket."""
    if _active_bucket:
        endpoint, bucket = _active_bucket[0]
        return object_storage.client(endpoint).get_object(Bucket=bucket, Key=name)["Body"].read()
    return (root / name).read_bytes()


def file_name_of(url: str) -> str:
    """The stored name a file URL the API handed out points at: a media URL on disk, a
    presigned URL of the test's bucket on S3."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    if _active_bucket:
        return path.removeprefix(f"/{_active_bucket[0][1]}/")
    return path.removeprefix("/media/")


def url_path(name: str) -> str:
    """The path of a stored file's URL: under /media/ on disk, /<bucket>/ on S3."""
    return f"/{_active_bucket[0][1]}/{name}" if _active_bucket else f"/media/{name}"


def fetch(api, url: str) -> tuple[str, bytes]:
    """The Content-Type and bytes a file URL the API handed out serves: through the media
    view on disk, over HTTP from the test S3 server on S3."""
    if url.startswith("http://testserver/"):
        served = api.get(url)
        assert served.status_code == 200, url
        return served["Content-Type"], b"".join(served.streaming_content)
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def is_stored(root, name: str) -> bool:
    return name in stored_files(root) if _active_bucket else (root / name).is_file()


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("curator", password="pw", is_staff=True)


@pytest.fixture
def reader_user(db):
    return get_user_model().objects.create_user("reader", password="pw")


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api(staff_user) -> APIClient:
    """A REST client authenticated as staff with a token."""
    return token_client(staff_user)


@pytest.fixture
def reader_api(reader_user) -> APIClient:
    return token_client(reader_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_manifest(db):
    def make(name: str = "Hero Characters", **fields):
        return services.manifest_create(name=name, **fields)

    return make


@pytest.fixture
def make_asset(db):
    def make(manifest, name: str = "Hero", asset_type: str = "CHARACTER", **fields):
        return services.asset_create(manifest=manifest, name=name, asset_type=asset_type, **fields)

    return make


@pytest.fixture
def curator(db):
    """A browser (WebTest) signed in through the login page as a superuser curator; pages
    are submitted with the helpers of tests/admin_forms.py."""
    from tests.admin_forms import PASSWORD, signed_in_browser

    get_user_model().objects.create_superuser("curator", "curator@example.com", PASSWORD)
    return signed_in_browser("curator")
