from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from manifests import views


class OptionalSlashRouter(DefaultRouter):
    """Every route answers with or without its trailing slash (no redirect, no 404)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
# Before "manifests": its detail route would take `import` for a manifest id.
router.register("manifests", views.ManifestBundleViewSet, basename="manifest-bundle")
router.register("manifests", views.ManifestViewSet, basename="manifest")
router.register(
    r"manifests/(?P<manifest_pk>[^/.]+)/assets",
    views.ManifestAssetViewSet,
    basename="manifest-asset",
)
router.register(
    r"manifests/(?P<manifest_pk>[^/.]+)/versions",
    views.ManifestVersionViewSet,
    basename="manifest-version",
)
router.register(
    r"manifests/(?P<manifest_pk>[^/.]+)/versions",
    views.ManifestVersionBundleViewSet,
    basename="manifest-version-bundle",
)
router.register("assets", views.AssetViewSet, basename="asset")
# Before "projects": the API root lists one entry per prefix, the last registered one's,
# and this viewset has detail actions only (no list to link to).
router.register("projects", views.ProjectPinViewSet, basename="project-pin")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("events", views.EventViewSet, basename="event")
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]
