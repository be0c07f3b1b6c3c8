"""How large a request body may be, by route: the one place the app's chunked-body reader
(`manifests.chunked_bodies`) and `make serve`'s nginx (`vidpipe.serve`) read it from, so
neither refuses a body the other would take.

Most requests carry at most one image (VIDPIPE_MAX_UPLOAD_BYTES); a bulk upload carries up
to VIDPIPE_BULK_MAX_BYTES of images, a bundle import up to VIDPIPE_MAX_BUNDLE_BYTES. Each
limit has room for the multipart framing and form fields around the files
(UPLOAD_MARGIN): a body just over the files' limit reaches the app, which answers with its
own, more specific 413.
"""

import re

from django.conf import settings

UPLOAD_MARGIN = 1024 * 1024

# (path pattern, setting holding the files' limit). The patterns are regular expressions
# that both Python's `re` and nginx's `location ~` read the same way; tests check that
# they match the URLs the API and the admin really route there.
LARGE_BODY_ROUTES: tuple[tuple[str, str], ...] = (
    (r"^/api/manifests/[^/]+/assets/bulk/?$", "VIDPIPE_BULK_MAX_BYTES"),
    (r"^/admin/manifests/manifest/[^/]+/bulk-upload/$", "VIDPIPE_BULK_MAX_BYTES"),
    (r"^/api/manifests/import/?$", "VIDPIPE_MAX_BUNDLE_BYTES"),
    (r"^/admin/manifests/manifest/import-bundle/$", "VIDPIPE_MAX_BUNDLE_BYTES"),
)


def files_limit(path: str) -> int:
    """The most bytes of files a request to `path` may carry."""
    for pattern, setting in LARGE_BODY_ROUTES:
        if re.match(pattern, path):
            return getattr(settings, setting)
    return settings.VIDPIPE_MAX_UPLOAD_BYTES


def large_body_locations() -> list[tuple[str, int]]:
    """Each large-body route's pattern and its whole body's limit (files and margin)."""
    return [
        (pattern, getattr(settings, setting) + UPLOAD_MARGIN)
        for pattern, setting in LARGE_BODY_ROUTES
    ]


def default_body_limit() -> int:
    """The whole body's limit everywhere else: one image and the margin."""
    return settings.VIDPIPE_MAX_UPLOAD_BYTES + UPLOAD_MARGIN
