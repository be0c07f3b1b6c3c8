"""The REST API's views, one module per capability: `manifests` (manifests, assets,
projects), `versions` (frozen versions), `pins` (what a project pins), `bundles` (export
and import as a zip) and `events` (the change feed, webhook subscriptions). They check
input shape and call `manifests.services`."""

from manifests.views.bundles import ManifestBundleViewSet, ManifestVersionBundleViewSet
from manifests.views.events import EventViewSet, WebhookViewSet
from manifests.views.manifests import (
    MULTIPART_OVERHEAD_BYTES,
    AssetViewSet,
    ManifestAssetViewSet,
    ManifestViewSet,
    ProjectViewSet,
)
from manifests.views.pins import ProjectPinViewSet
from manifests.views.versions import ManifestVersionViewSet

__all__ = [
    "MULTIPART_OVERHEAD_BYTES",
    "AssetViewSet",
    "EventViewSet",
    "ManifestAssetViewSet",
    "ManifestBundleViewSet",
    "ManifestVersionBundleViewSet",
    "ManifestVersionViewSet",
    "ManifestViewSet",
    "ProjectPinViewSet",
    "ProjectViewSet",
    "WebhookViewSet",
]
