"""What a project pins, in the API: its frozen version (`/api/projects/{id}/manifest`),
a tag in it (`…/assets/{tag}`), and re-pinning it to the current version (`…/upgrade`)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from manifests import services
from manifests.api_errors import Conflict
from manifests.models import Manifest, ManifestVersion, Project
from manifests.serializers import ErrorSerializer, ProjectSerializer
from manifests.serializers_versions import (
    ResolvedAssetSerializer,
    UnknownTagSerializer,
    UpgradeSerializer,
    VersionDetailSerializer,
)
from manifests.views.versions import (
    CACHE_HEADERS,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    TAG,
    cached_response,
    frozen_asset,
)

NO_PIN = OpenApiResponse(
    ErrorSerializer,
    description="Unknown project, a project linked to no manifest, or a pin made before "
    "versions were frozen (upgrade it to pin a frozen version).",
)


class ProjectPinViewSet(viewsets.GenericViewSet):
    """What a project pins: `/api/projects/{id}/manifest`, `…/assets/{tag}`, `…/upgrade`.

    Pins resolve through the frozen record, so they stay readable when the manifest was
    deleted since."""

    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    filter_backends: list = []

    def get_pinned_version(self) -> ManifestVersion:
        project = self.get_object()
        if project.manifest_id is None:
            raise exceptions.NotFound(f"Project “{project.name}” is linked to no manifest.")
        version = ManifestVersion.objects.filter(
            manifest_id=project.manifest_id, number=project.manifest_version
        ).first()
        if version is None:
            raise exceptions.NotFound(
                f"Project “{project.name}” pins version {project.manifest_version} of "
                f"manifest {project.manifest_id}, pinned before versions were frozen: no "
                "record of it exists. POST /api/projects/{id}/upgrade pins the current "
                "version, frozen."
            )
        return version

    @extend_schema(
        summary="The manifest version the project pins, as frozen",
        description="What a generation stage reads to resolve tags: the same answer as "
        "`GET /api/manifests/{id}/versions/{number}` for the pinned number.",
        parameters=[IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: VersionDetailSerializer,
            304: NOT_MODIFIED,
            404: NO_PIN,
        },
    )
    @action(detail=True, methods=["get"])
    def manifest(self, request, *args, **kwargs):
        version = self.get_pinned_version()
        return cached_response(
            request,
            version,
            lambda: VersionDetailSerializer(version, context=self.get_serializer_context()).data,
            moving=True,
        )

    @extend_schema(
        summary="The asset a tag means in the project's pinned version",
        parameters=[TAG, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: ResolvedAssetSerializer,
            304: NOT_MODIFIED,
            404: OpenApiResponse(
                UnknownTagSerializer,
                description=f"{NO_PIN.description} Or a tag the pinned version does not "
                "have (`tags` lists the ones it has).",
            ),
        },
    )
    @action(detail=True, methods=["get"], url_path=r"assets/(?P<tag>[^/]+)")
    def asset(self, request, *args, tag: str, **kwargs):
        version = self.get_pinned_version()
        asset = frozen_asset(version, tag)
        return cached_response(
            request,
            version,
            lambda: ResolvedAssetSerializer(asset, context=self.get_serializer_context()).data,
            moving=True,
        )

    @extend_schema(
        summary="Re-pin the project to its manifest's current version (frozen)",
        description="Answers with the project, the old and new numbers and what changed "
        "between them (`diff` null when the old pin predates frozen versions). No body.",
        request=None,
        responses={
            200: UpgradeSerializer,
            409: OpenApiResponse(ErrorSerializer, description="The manifest is deleted."),
        },
    )
    @action(detail=True, methods=["post"])
    def upgrade(self, request, *args, **kwargs):
        project = self.get_object()
        try:
            upgrade = services.project_upgrade(project=project)
        except Manifest.DoesNotExist:
            raise Conflict(
                "The project's manifest is deleted: restore it to upgrade the pin."
            ) from None
        before = upgrade.before.number if upgrade.before else project.manifest_version
        body = {
            "project": upgrade.project,
            "from": before,
            "to": upgrade.after.number,
            "diff": upgrade.diff,
        }
        return Response(UpgradeSerializer(body, context=self.get_serializer_context()).data)
