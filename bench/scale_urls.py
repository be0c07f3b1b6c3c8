"""The project's URLs plus the floor of bench_scale.py: a bare Django view that returns the
first list page's 50 rows from `.values()` as JSON (no DRF, no serializer, no auth).

bench_scale.py points ROOT_URLCONF here (`override_settings`); nothing else imports it.
"""

from django.conf import settings
from django.http import JsonResponse
from django.urls import path

from manifests.models import Manifest
from manifests.serializers import ManifestSerializer
from vidpipe.urls import handler400, handler404, handler500  # noqa: F401  the project's
from vidpipe.urls import urlpatterns as project_urlpatterns

FLOOR_URL = "/bench/floor"
# The list serializer's fields, the two files (`*_url`) as their stored names.
FLOOR_FIELDS = tuple(name.removesuffix("_url") for name in ManifestSerializer.Meta.fields)


def floor(request):
    size = settings.REST_FRAMEWORK["PAGE_SIZE"]
    rows = list(Manifest.objects.order_by("-updated_at").values(*FLOOR_FIELDS)[:size])
    return JsonResponse({"results": rows})


urlpatterns = [path(FLOOR_URL.lstrip("/"), floor, name="bench-floor"), *project_urlpatterns]
