"""The REST API's views, one module per capability: `manifests` (manifests, assets,
projects) and `versions` (frozen versions and the pins of projects). They check input
shape and call `manifests.services`."""

from manifests.views.manifests import (
    MULTIPART_OVERHEAD_BYTES,
    AssetViewSet,
    ManifestAssetViewSet,
    ManifestViewSet,
    ProjectViewSet,
)
from manifests.views.versions import ManifestVersionViewSet, ProjectPinViewSet

__all__ = [
    "MULTIPART_OVERHEAD_BYTES",
    "AssetViewSet",
    "ManifestAssetViewSet",
    "ManifestVersionViewSet",
    "ManifestViewSet",
    "ProjectPinViewSet",
    "ProjectViewSet",
]
