import io

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from manifests import services


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users need no brute-force resistance; the default hasher dominates run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Every test writes its files under its own temporary MEDIA_ROOT."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 6), color="red", **save) -> bytes:
    mode = "RGBA" if fmt in {"PNG", "WEBP"} else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def image_upload(name: str = "hero.png", fmt: str = "PNG", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(fmt, **kwargs), content_type="image/png")


def stored_files(root) -> list[str]:
    """Every file under MEDIA_ROOT, relative and sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def unsigned(url: str | None) -> str | None:
    """A media URL without its signature (`?expires=…&signature=…`): where the file is."""
    return url and url.split("?", 1)[0]


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
