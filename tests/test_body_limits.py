"""Body limits by route (manifests.body_limits): the patterns match the routes they are for,
and the app's chunked-body reader takes the larger limits there."""

import re
import uuid

import pytest
from django.urls import reverse

from manifests.body_limits import (
    LARGE_BODY_ROUTES,
    UPLOAD_MARGIN,
    default_body_limit,
    files_limit,
    large_body_locations,
)

MANIFEST = uuid.UUID("00000000-0000-4000-8000-000000000001")  # fixed: test ids must not vary
ROUTES = {
    "VIDPIPE_BULK_MAX_BYTES": [
        reverse("manifest-asset-bulk", kwargs={"manifest_pk": MANIFEST}),
        reverse("manifest-asset-bulk", kwargs={"manifest_pk": MANIFEST}) + "/",
        reverse("admin:manifests_manifest_bulk_upload", args=[MANIFEST]),
    ],
    "VIDPIPE_MAX_BUNDLE_BYTES": [
        reverse("manifest-bundle-import"),
        reverse("admin:manifests_manifest_import_bundle"),
    ],
}


@pytest.mark.parametrize(
    ("setting", "path"), [(setting, path) for setting, paths in ROUTES.items() for path in paths]
)
def test_the_large_body_routes_are_the_ones_the_app_serves(settings, setting, path):
    assert files_limit(path) == getattr(settings, setting)
    assert [s for pattern, s in LARGE_BODY_ROUTES if re.match(pattern, path)] == [setting]


@pytest.mark.parametrize(
    "path",
    [
        f"/api/assets/{MANIFEST}/upload",
        f"/api/manifests/{MANIFEST}",
        f"/api/manifests/{MANIFEST}/assets",
        f"/api/manifests/{MANIFEST}/assets/bulk/extra",
        f"/admin/manifests/manifest/{MANIFEST}/change/",
        "/api/manifests/import/x",
    ],
)
def test_other_routes_take_one_image(settings, path):
    assert files_limit(path) == settings.VIDPIPE_MAX_UPLOAD_BYTES


def test_whole_body_limits_leave_room_for_the_multipart_framing(settings):
    settings.VIDPIPE_MAX_UPLOAD_BYTES = 1000
    settings.VIDPIPE_BULK_MAX_BYTES = 5000
    settings.VIDPIPE_MAX_BUNDLE_BYTES = 9000
    assert default_body_limit() == 1000 + UPLOAD_MARGIN
    assert [limit for _, limit in large_body_locations()] == [
        5000 + UPLOAD_MARGIN,
        5000 + UPLOAD_MARGIN,
        9000 + UPLOAD_MARGIN,
        9000 + UPLOAD_MARGIN,
    ]
