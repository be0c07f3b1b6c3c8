import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from vidpipe.favicon import favicon
from vidpipe.media import serve_media

urlpatterns = [
    path("", RedirectView.as_view(url="/api/docs", permanent=False)),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", include("manifests.urls")),
    path("api-auth/", include("rest_framework.urls")),
]

if settings.MEDIA_URL.startswith("/"):
    # Local media, in production too: the view checks each URL's signature (vidpipe.media).
    # A remote MEDIA_URL needs none.
    media_prefix = re.escape(settings.MEDIA_URL.lstrip("/"))
    urlpatterns.append(re_path(rf"^{media_prefix}(?P<path>.*)$", serve_media, name="media"))

handler400 = "vidpipe.errors.bad_request"
handler404 = "vidpipe.errors.not_found"
handler500 = "vidpipe.errors.server_error"
