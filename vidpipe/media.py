"""Who may read the stored files on local disk: signed, expiring media URLs.

The storage (`SignedURLStorage`, STORAGES["default"] on local disk) hands out
`/media/<name>?expires=<unix time>&signature=<…>`, the signature being Django's (HMAC of
SECRET_KEY, `SECRET_KEY_FALLBACKS` accepted) over the name and the expiry together. The
media view (`serve_media`) serves a file only for a valid, unexpired signature of exactly
its path; anything else is 403 with no bytes. Whoever holds a signed URL may read that one
file until it expires, signed in or not: the URL is the permission, handed out only by the
API and the admin, which check who asks.

A URL lives at least VIDPIPE_MEDIA_URL_SECONDS: its expiry is that far ahead, rounded up to
the next multiple of a quarter of it (`url_window`). Every URL made within one window is
therefore the same, so an answer that lists files is the same body from one request to the
next (ETags and 304s keep their meaning) and browsers cache the images while it lasts.

VIDPIPE_PUBLIC_MEDIA=1 turns all this off: plain URLs, served to anyone (for a CDN).
In production the view hands the file to the web server by `X-Accel-Redirect` when
VIDPIPE_MEDIA_ACCEL_REDIRECT names nginx's internal location, else streams it itself.
Files are served with the type of their (validated) extension and `nosniff`.
"""

import mimetypes
import os
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils._os import safe_join
from django.views.static import serve

SALT = "vidpipe.media"
REFUSED = "This media URL is not signed for this file, or it has expired. Ask the API again."


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
    signed = signing.Signer(salt=SALT).sign(f"{expires}/{name}")
    return signed.rsplit(signing.Signer().sep, 1)[1]


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
    expires = url_expiry() if expires is None else expires
    return urlencode({"expires": expires, "signature": media_signature(name, expires)})


def media_path(name: str) -> str:
    """A stored name as the media view receives it (its URL path after MEDIA_URL)."""
    return str(name).replace("\\", "/").lstrip("/")


class SignedURLStorage(FileSystemStorage):
    """Local disk whose URLs are signed and expire (plain with VIDPIPE_PUBLIC_MEDIA)."""

    def url(self, name: str | None) -> str:
        url = super().url(name)
        if settings.VIDPIPE_PUBLIC_MEDIA:
            return url
        return f"{url}?{signed_query(media_path(name))}"


def serve_media(request, path: str):
    """A stored file, to whoever holds a valid signed URL for it (anyone when public)."""
    if not settings.VIDPIPE_PUBLIC_MEDIA and not signature_valid(
        path, request.GET.get("expires", ""), request.GET.get("signature", "")
    ):
        return HttpResponseForbidden(REFUSED, content_type="text/plain; charset=utf-8")
    accel = settings.VIDPIPE_MEDIA_ACCEL_REDIRECT
    if not accel:
        response = serve(request, path, document_root=settings.MEDIA_ROOT)
    else:
        try:
            full = Path(safe_join(settings.MEDIA_ROOT, path))
        except SuspiciousFileOperation:
            raise Http404("No such file.") from None
        if not full.is_file():
            raise Http404("No such file.")
        relative = full.relative_to(os.path.abspath(settings.MEDIA_ROOT)).as_posix()
        # The web server sends the file (its internal location, which clients cannot ask
        # for); the type by extension is the one the upload was decoded as.
        response = HttpResponse()
        response["X-Accel-Redirect"] = accel + quote(relative)
        response["Content-Type"] = mimetypes.guess_type(relative)[0] or "application/octet-stream"
    if not settings.VIDPIPE_PUBLIC_MEDIA:
        # A browser may keep it while its URL is valid, never a shared cache.
        left = max(0, int(request.GET["expires"]) - int(time.time()))
        response["Cache-Control"] = f"private, max-age={left}"
    return response
