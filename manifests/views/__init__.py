"""The REST API's views, one module per capability: `manifests` (manifests, assets,
projects), `versions` (frozen versions) and `pins` (what a project pins). They check input
shape and call `manifests.services`."""

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
    "ManifestAssetViewSet",
    "ManifestVersionViewSet",
    "ManifestViewSet",
    "ProjectPinViewSet",
    "ProjectViewSet",
]
