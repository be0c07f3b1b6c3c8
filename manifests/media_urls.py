"""Who may read the stored files: the URLs the API and the admin hand out are signed and
expire (README "Who may read the files").

On local disk, `SignedURLStorage` (STORAGES["default"]) hands out
`/media/<name>?expires=<unix time>&signature=<…>`, the signature being Django's (an HMAC of
SECRET_KEY; SECRET_KEY_FALLBACKS are accepted) over the name and the expiry together; the
media view (`vidpipe.media.serve_media`) serves a file only for a valid, unexpired signature
of exactly its path. Whoever holds a signed URL may read that one file until it expires,
signed in or not: the URL is the permission, and only the API and the admin, which check
who asks, hand it out. VIDPIPE_PUBLIC_MEDIA=1 turns this off: plain URLs, read by anyone.

A URL lives at least VIDPIPE_MEDIA_URL_SECONDS: its expiry is that far ahead, rounded up to
the next multiple of a quarter of it (`url_window`). Every URL made within one window is
therefore the same, so an answer listing files is the same body from one request to the
next within it (a strong ETag still names one body) and browsers keep the images cached.
"""

import time
from functools import lru_cache
from urllib.parse import urljoin

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.utils.encoding import filepath_to_uri

SALT = "vidpipe.media"


def url_window(lifetime: int) -> int:
    """Seconds over which media URLs stay the same: a quarter of their lifetime."""
    return max(1, lifetime // 4)


def url_expiry(now: float | None = None) -> int:
    """When a URL made `now` expires: VIDPIPE_MEDIA_URL_SECONDS ahead, rounded up to the
    next window boundary (so at least that long, at most a quarter longer)."""
    lifetime = settings.VIDPIPE_MEDIA_URL_SECONDS
    window = url_window(lifetime)
    ahead = int(time.time() if now is None else now) + lifetime
    return -(-ahead // window) * window


@lru_cache(maxsize=4)
def _signer(secret_key: str, fallbacks: tuple[str, ...]) -> signing.Signer:
    return signing.Signer(key=secret_key, fallback_keys=list(fallbacks), salt=SALT)


def media_signer() -> signing.Signer:
    """Django's signer of media URLs for the current SECRET_KEY (made once per key: an
    answer signs a URL per file)."""
    return _signer(*_signing_keys())


def media_signature(name: str, expires: int) -> str:
    """The signature of `name` (as the media view's URL names it) until `expires`: what
    `Signer.sign` appends to `<expires>/<name>`."""
    return _signature(*_signing_keys(), f"{expires}/{name}")


def _signing_keys() -> tuple[str, tuple[str, ...]]:
    return settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS)


# A memo of a pure function (key and message in, signature out), never stale: within a URL
# window the files of the pages read most (a list's first page) are signed once per process
# instead of once per answer. 8,192 entries of ~150 bytes at most.
@lru_cache(maxsize=8192)
def _signature(secret_key: str, fallbacks: tuple[str, ...], message: str) -> str:
    return _signer(secret_key, fallbacks).signature(message)


def signature_valid(name: str, expires: str, signature: str, now: float | None = None) -> bool:
    """Whether `signature` was made for `name` until `expires`, and that is still ahead."""
    if not expires.isdigit() or not signature:
        return False
    try:
        media_signer().unsign(f"{expires}/{name}:{signature}")
    except signing.BadSignature:
        return False
    return int(expires) > (time.time() if now is None else now)


def signed_query(name: str, expires: int | None = None) -> str:
    """The query string that lets anyone read `name` until `expires` (default: now's)."""
    if expires is None:
        expires = url_expiry()
    return _signed_query(name, expires, *_signing_keys())


def _signed_query(name: str, expires: int, secret_key: str, fallbacks: tuple[str, ...]) -> str:
    # Both URL-safe as they are: digits, and base64's URL-safe alphabet.
    return f"expires={expires}&signature={_signature(secret_key, fallbacks, f'{expires}/{name}')}"


def media_path(name: str) -> str:
    """A stored name as the media view receives it (its URL path after MEDIA_URL)."""
    return str(name).replace("\\", "/").lstrip("/")


class SignedURLStorage(FileSystemStorage):
    """Local disk whose URLs are signed and expire (plain with VIDPIPE_PUBLIC_MEDIA)."""

    def url(self, name: str | None) -> str:
        # This storage is local disk: only VIDPIPE_PUBLIC_MEDIA decides (media_urls_expire
        # would first ask which storage is in use, for every URL of an answer).
        if name is None or self.base_url is None:
            return super().url(name)
        if settings.VIDPIPE_PUBLIC_MEDIA:
            return _joined(self.base_url, name)
        return _signed_url(self.base_url, name, url_expiry(), *_signing_keys())


def _joined(base_url: str, name: str) -> str:
    """FileSystemStorage.url: urljoin(base_url, the quoted name), joined by hand where
    urljoin would only concatenate (no empty or dot segment for it to fold), since an
    answer builds a URL per file and urljoin costs more than the signature."""
    relative = filepath_to_uri(name).lstrip("/")
    if relative and "//" not in relative and "/." not in f"/{relative}":
        return base_url + relative
    return urljoin(base_url, relative)


# A memo of a pure function, never stale: the URL of a name is the same for every request
# of a URL window (the expiry is in the key, and so are the base URL and the keys that
# sign), so the files of the pages read most are joined, quoted and signed once per window
# and process, not once per answer. 8,192 entries of ~250 bytes at most.
@lru_cache(maxsize=8192)
def _signed_url(
    base_url: str, name: str, expires: int, secret_key: str, fallbacks: tuple[str, ...]
) -> str:
    query = _signed_query(media_path(name), expires, secret_key, fallbacks)
    return f"{_joined(base_url, name)}?{query}"


def media_urls_expire() -> bool:
    """Whether the file URLs in answers expire (else they are public and last): on disk
    unless VIDPIPE_PUBLIC_MEDIA; on S3 when they are presigned (no public base URL)."""
    from manifests.files.backends import files_storage, is_s3

    storage = files_storage()
    if is_s3(storage):
        return bool(storage.querystring_auth)
    return not settings.VIDPIPE_PUBLIC_MEDIA
