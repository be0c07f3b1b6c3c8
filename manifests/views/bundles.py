"""Bundles in the API: a manifest, or one of its frozen versions, exported as a zip
(`GET …/export`, streamed), and a bundle imported as a new DRAFT manifest
(`POST /api/manifests/import`). `manifests.services.bundles` does the work."""

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from manifests import services
from manifests.api_errors import PayloadTooLarge
from manifests.etags import for_representation, manifest_etag
from manifests.models import Manifest
from manifests.serializers import ErrorSerializer, ManifestDetailSerializer
from manifests.upload_handlers import accept_bundle_upload
from manifests.views.manifests import MULTIPART_OVERHEAD_BYTES, STORAGE_UNAVAILABLE, UnderManifest
from manifests.views.versions import MANIFEST_PK, NUMBER, UNKNOWN_VERSION, resolve_version

ZIP = "application/zip"
EXPORTED = {(200, ZIP): OpenApiResponse(OpenApiTypes.BINARY, description="The bundle (a zip).")}
IMAGE_MISSING = OpenApiResponse(
    ErrorSerializer, description="An asset's image file is missing from storage."
)


class BundleUploadSerializer(serializers.Serializer):
    bundle = serializers.FileField(
        help_text="A zip made by an export: manifest.json and images/<tag>.<ext>."
    )
    name = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Default: the bundle's."
    )


class BundleRefusalSerializer(serializers.Serializer):
    """A refused bundle names the entry; a missing or empty file, or a bad name, is an
    ordinary field error."""

    bundle = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Why, naming the entry."
    )
    entry = serializers.CharField(
        required=False,
        help_text="The entry at fault: a name in the zip, manifest.json, or `bundle`.",
    )
    name = serializers.ListField(child=serializers.CharField(), required=False)


def bundle_response(chunks, name: str, number: int) -> StreamingHttpResponse:
    """The zip as a download: `<name>-v<number>.zip`, the name reduced to safe ASCII."""
    file_name = f"{slugify(name)[:80] or 'manifest'}-v{number}.zip"
    response = StreamingHttpResponse(chunks, content_type=ZIP)
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


class StreamsZip:
    """Viewset mixin: the export actions answer a zip whatever the Accept header says (an
    error is answered in JSON)."""

    zip_actions = frozenset({"export"})

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(
            request, force=force or self.action in self.zip_actions
        )


class ManifestBundleViewSet(StreamsZip, viewsets.GenericViewSet):
    """`/api/manifests/{id}/export` and `/api/manifests/import`. Registered before the
    manifests' own routes, so that `import` is never read as a manifest id."""

    queryset = Manifest.objects.all()
    serializer_class = BundleUploadSerializer
    filter_backends: list = []

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        if self.action == "import_bundle":
            accept_bundle_upload(request)  # before authentication reads the body (CSRF)
        return drf_request

    @extend_schema(
        summary="Export the manifest as a bundle (a zip, streamed)",
        description="`manifest.json` (`format` 1, the manifest's fields, its assets in "
        "order with tags, names, types, descriptions, user tags, and each image's sha256 "
        "and entry) and the original images under `images/<tag>.<ext>`.",
        responses={**EXPORTED, 409: IMAGE_MISSING},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        manifest = self.get_object()
        chunks = services.manifest_export(manifest=manifest)
        return bundle_response(chunks, manifest.name, manifest.version)

    @extend_schema(
        summary="Import a bundle as a new DRAFT manifest",
        description="The same assets, order and tags as the bundle's (new tags continue "
        "after the highest imported number), images stored anew with their thumbnails. "
        "A bundle is checked through before anything is kept: a refusal is a 400 naming "
        "the entry and the reason, and leaves nothing behind.",
        request={"multipart/form-data": BundleUploadSerializer},
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                description="The new manifest's URL.",
                response=[201],
            )
        ],
        responses={
            201: ManifestDetailSerializer,
            400: OpenApiResponse(BundleRefusalSerializer, description="The bundle is refused."),
            413: OpenApiResponse(ErrorSerializer, description="Over VIDPIPE_MAX_BUNDLE_BYTES."),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_bundle(self, request):
        limit = settings.VIDPIPE_MAX_BUNDLE_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLarge(f"The request is {length} bytes; a bundle may be {limit} bytes.")
        params = BundleUploadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        manifest = services.manifest_import(
            bundle=params.validated_data["bundle"], name=params.validated_data.get("name")
        )
        manifest = Manifest.objects.with_assets().get(pk=manifest.pk)
        body = ManifestDetailSerializer(manifest, context=self.get_serializer_context()).data
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Location"] = reverse("manifest-detail", args=[manifest.pk], request=request)
        response["ETag"] = for_representation(request, manifest_etag(manifest))
        return response


@extend_schema(parameters=[MANIFEST_PK])
class ManifestVersionBundleViewSet(StreamsZip, UnderManifest, viewsets.GenericViewSet):
    """`/api/manifests/{manifest_pk}/versions/{number}/export`."""

    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    filter_backends: list = []

    @extend_schema(
        summary="Export a frozen version as a bundle (a zip, streamed)",
        description="As the manifest's export, with the version's fields, assets and "
        "frozen images.",
        parameters=[NUMBER],
        responses={**EXPORTED, 404: UNKNOWN_VERSION, 409: IMAGE_MISSING},
    )
    @action(detail=True, methods=["get"])
    def export(self, request, *args, **kwargs):
        version = resolve_version(self.manifest.pk, self.kwargs["number"])
        chunks = services.manifest_export_version(version=version)
        return bundle_response(chunks, version.fields["name"], version.number)
