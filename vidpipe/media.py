"""Serving uploaded media from MEDIA_ROOT, for development and small deployments only.

Production should serve MEDIA_ROOT from the web server or use a remote storage; set
VIDPIPE_SERVE_MEDIA=0 then. Files are served with the type of their (validated) extension
and, through SecurityMiddleware, `X-Content-Type-Options: nosniff`.
"""

from django.conf import settings
from django.http import Http404
from django.views.static import serve


def serve_media(request, path: str):
    if not settings.VIDPIPE_SERVE_MEDIA:
        raise Http404("Media is not served by this application.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)
