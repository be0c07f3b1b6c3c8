from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from manifests import views

# "/?": every route answers with or without its trailing slash.
router = DefaultRouter(trailing_slash="/?")
router.register("manifests", views.ManifestViewSet, basename="manifest")
router.register(
    r"manifests/(?P<manifest_pk>[^/.]+)/assets",
    views.ManifestAssetViewSet,
    basename="manifest-asset",
)
router.register("assets", views.AssetViewSet, basename="asset")
router.register("projects", views.ProjectViewSet, basename="project")

urlpatterns = [
    re_path(r"^schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *router.urls,
]
