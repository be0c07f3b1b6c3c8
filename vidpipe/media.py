"""The media view: a stored file from MEDIA_ROOT, to whoever holds a valid signed URL for it
(`manifests.media_urls`), or to anyone with VIDPIPE_PUBLIC_MEDIA. Routed in production too.

Anything else (no signature, a tampered or expired one, one made for another path) is 403
with no bytes. With VIDPIPE_MEDIA_ACCEL_REDIRECT (nginx's internal location aliasing
MEDIA_ROOT, as `make serve` configures it) the view only checks, and nginx sends the file
(`X-Accel-Redirect`); else the app streams it. Files are served with the type of their
(validated) extension and `X-Content-Type-Options: nosniff`.
"""

import mimetypes
import os
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils._os import safe_join
from django.views.static import serve

from manifests.media_urls import media_urls_expire, signature_valid

REFUSED = "This media URL is not signed for this file, or it has expired. Ask the API again."


def serve_media(request, path: str):
    """A stored file, to whoever holds a valid signed URL for it (anyone when public)."""
    if media_urls_expire() and not signature_valid(
        path, request.GET.get("expires", ""), request.GET.get("signature", "")
    ):
        return HttpResponseForbidden(REFUSED, content_type="text/plain; charset=utf-8")
    try:
        full = Path(safe_join(settings.MEDIA_ROOT, path))
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None
    if not full.is_file():
        raise Http404("No such file.")
    relative = full.relative_to(os.path.abspath(settings.MEDIA_ROOT)).as_posix()
    accel = settings.VIDPIPE_MEDIA_ACCEL_REDIRECT
    if accel:
        # The web server sends the file, from its internal location (which clients cannot
        # ask for); the type by extension is the one the upload was decoded as.
        response = HttpResponse()
        response["X-Accel-Redirect"] = accel + quote(relative)
        response["Content-Type"] = mimetypes.guess_type(relative)[0] or "application/octet-stream"
    else:
        response = serve(request, relative, document_root=settings.MEDIA_ROOT)
    if media_urls_expire():
        # A browser may keep it while its URL is valid, never a shared cache.
        left = max(0, int(request.GET["expires"]) - int(time.time()))
        response["Cache-Control"] = f"private, max-age={left}"
    return response
