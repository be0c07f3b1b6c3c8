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

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage

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


def media_signature(name: str, expires: int) -> str:
    """The signature of `name` (as the media view's URL names it) until `expires`."""
    signer = signing.Signer(salt=SALT)
    return signer.sign(f"{expires}/{name}").rsplit(signer.sep, 1)[1]


def signature_valid(name: str, expires: str, signature: str, now: float | None = None) -> bool:
    """Whether `signature` was made for `name` until `expires`, and that is still ahead."""
    if not expires.isdigit() or not signature:
        return False
    try:
        signing.Signer(salt=SALT).unsign(f"{expires}/{name}:{signature}")
    except signing.BadSignature:
        return False
    return int(expires) > (time.time() if now is None else now)


def signed_query(name: str, expires: int | None = None) -> str:
    """The query string that lets anyone read `name` until `expires` (default: now's)."""
    if expires is None:
        expires = url_expiry()
    # Both URL-safe as they are: digits, and base64's URL-safe alphabet.
    return f"expires={expires}&signature={media_signature(name, expires)}"


def media_path(name: str) -> str:
    """A stored name as the media view receives it (its URL path after MEDIA_URL)."""
    return str(name).replace("\\", "/").lstrip("/")


class SignedURLStorage(FileSystemStorage):
    """Local disk whose URLs are signed and expire (plain with VIDPIPE_PUBLIC_MEDIA)."""

    def url(self, name: str | None) -> str:
        url = super().url(name)
        # This storage is local disk: only VIDPIPE_PUBLIC_MEDIA decides (media_urls_expire
        # would first ask which storage is in use, for every URL of an answer).
        if settings.VIDPIPE_PUBLIC_MEDIA:
            return url
        return f"{url}?{signed_query(media_path(name))}"


def media_urls_expire() -> bool:
    """Whether the file URLs in answers expire (else they are public and last): on disk
    unless VIDPIPE_PUBLIC_MEDIA; on S3 when they are presigned (no public base URL)."""
    from manifests.files.backends import files_storage, is_s3

    storage = files_storage()
    if is_s3(storage):
        return bool(storage.querystring_auth)
    return not settings.VIDPIPE_PUBLIC_MEDIA
