"""REST API viewsets: they check input shape and call `manifests.services`."""

from collections.abc import Callable
from dataclasses import asdict
from functools import cached_property
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from manifests import search, services
from manifests.api_errors import PayloadTooLarge
from manifests.etags import (
    IfMatch,
    asset_etag,
    for_representation,
    manifest_etag,
    none_match,
    not_modified,
)
from manifests.filters import AssetFilter, ManifestFilter, ProjectFilter
from manifests.models import Asset, Manifest, Project
from manifests.pagination import LibraryPagination
from manifests.serializers import (
    AssetSerializer,
    BulkUploadRequestSerializer,
    BulkUploadResultSerializer,
    ConflictSerializer,
    DuplicateRequestSerializer,
    ErrorSerializer,
    ManifestDetailSerializer,
    ManifestSerializer,
    ProjectSerializer,
    UploadRequestSerializer,
)

# Room for the multipart envelope around the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
# Every action that stores files may answer this (manifests.api_errors).
STORAGE_UNAVAILABLE = OpenApiResponse(
    ErrorSerializer,
    description="File storage refused to write; nothing was saved. Retry after `Retry-After`.",
)


def declared_length(request) -> int:
    """The body's length as the request declares it (0 when it does not say)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class UnderManifest:
    """Viewset mixin for routes under `/api/manifests/{manifest_pk}/`: the live manifest,
    or a 404 for an unknown, malformed or deleted id before anything else is read."""

    @cached_property
    def manifest(self) -> Manifest:
        try:
            return Manifest.objects.get(pk=self.kwargs["manifest_pk"])
        except (Manifest.DoesNotExist, DjangoValidationError):
            raise Http404("No manifest matches the given id.") from None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.manifest  # noqa: B018  looked up now: the 404 comes before the body is read


class ConditionalRequests:
    """Viewset mixin: the answers that show one resource carry its ETag, a read whose
    If-None-Match names it is answered 304, and a change's If-Match goes to the service,
    which checks it under the row lock (a mismatch is VersionConflict: 412)."""

    etag_of: Callable[[Any], str]
    # Actions whose answers carry the ETag, and those that take an If-Match (schema.py
    # documents the operations from these).
    etag_actions = frozenset(
        {
            "retrieve",
            "create",
            "update",
            "partial_update",
            "upload",
            "duplicate",
            "restore",
            "contact_sheet",
        }
    )
    if_match_actions = frozenset({"update", "partial_update", "destroy"})
    if_match: IfMatch | None = None
    shown: Any = None  # the resource the answer shows, whose ETag it carries

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        header = request.headers.get("If-Match")
        if header is not None and self.action in self.if_match_actions:
            self.if_match = IfMatch.parse(header)  # malformed: 400, before the body is read

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        etag = for_representation(request, self.etag_of(instance))
        if not none_match(request.headers.get("If-None-Match"), etag):
            return not_modified(etag)
        self.shown = instance
        return Response(self.get_serializer(instance).data)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.shown is not None and status.is_success(response.status_code):
            response["ETag"] = for_representation(request, self.etag_of(self.shown))
        return response


@extend_schema_view(
    list=extend_schema(summary="List live manifests"),
    create=extend_schema(summary="Create a manifest"),
    retrieve=extend_schema(summary="A manifest with its ordered assets"),
    destroy=extend_schema(
        summary="Soft-delete a manifest",
        responses={
            204: None,
            409: OpenApiResponse(ConflictSerializer, description="Projects reference it."),
        },
    ),
)
class ManifestViewSet(ConditionalRequests, viewsets.ModelViewSet):
    etag_of = staticmethod(manifest_etag)
    queryset = Manifest.objects.all()
    filterset_class = ManifestFilter
    search_fields = search.search_fields(Manifest)
    ordering_fields = ["updated_at", "name", "times_used", "asset_count", "created_at"]
    ordering = ["-updated_at"]
    # Big lists: `?count=estimate` and `?pagination=cursor` (README "Pagination at scale").
    pagination_class = LibraryPagination

    def get_queryset(self):
        if self.action == "restore":
            return Manifest.all_objects.all()
        if self.action == "retrieve":
            return Manifest.objects.with_assets()
        if self.action == "list":  # rows, not instances (manifests.fast_reads)
            return ManifestSerializer.read_rows(Manifest.objects.all(), also=self.ordering_fields)
        return Manifest.objects.all()

    def get_serializer_class(self):
        if self.action == "duplicate":  # its body (and the browsable API's form) is a name
            return DuplicateRequestSerializer
        return ManifestSerializer if self.action == "list" else ManifestDetailSerializer

    def perform_create(self, serializer):
        serializer.instance = self.shown = services.manifest_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self.shown = services.manifest_update(
            manifest=serializer.instance, if_match=self.if_match, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.manifest_soft_delete(manifest=instance, if_match=self.if_match)

    def _detail_response(self, manifest: Manifest, code: int = status.HTTP_200_OK) -> Response:
        manifest = self.shown = Manifest.all_objects.with_assets().get(pk=manifest.pk)
        serializer = ManifestDetailSerializer(manifest, context=self.get_serializer_context())
        return Response(serializer.data, status=code)

    @extend_schema(
        summary="Duplicate a manifest with its assets and files",
        description=(
            "Copies the manifest and all its assets (tags, order, images) into a new DRAFT "
            "manifest whose parent is the original. Without a `name`, the copy is named like "
            'a file manager names copies: the first free "<base> (copy)", "<base> (copy 2)", '
            '"<base> (copy 3)", … where the base is the original\'s name without such a '
            'suffix (copying "Villains (copy)" gives "Villains (copy 2)"). Deleted '
            "manifests' names count as taken, since they can be restored."
        ),
        request=DuplicateRequestSerializer,
        parameters=[
            OpenApiParameter(
                "name", str, description='Name of the copy; default "<base> (copy N)".'
            )
        ],
        responses={
            201: ManifestDetailSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="An asset's image file is missing from storage."
            ),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request, pk=None):
        source = self.get_object()
        data = request.data if request.data is not None else {}
        if not data and "name" in request.query_params:
            data = {"name": request.query_params["name"]}
        params = self.get_serializer(data=data)
        params.is_valid(raise_exception=True)
        copy = services.manifest_duplicate(manifest=source, name=params.validated_data.get("name"))
        return self._detail_response(copy, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Render the manifest's contact sheet",
        description=(
            "One PNG of every asset that has an image, in sort order, each labelled with its "
            "tag and name under the manifest's name. `contact_sheet_url` then points to it; "
            "the previous sheet is removed. 400 when no asset has an image."
        ),
        request=None,
        responses={200: ManifestDetailSerializer, 503: STORAGE_UNAVAILABLE},
    )
    @action(detail=True, methods=["post"], url_path="contact-sheet")
    def contact_sheet(self, request, pk=None):
        manifest = services.manifest_render_contact_sheet(manifest=self.get_object())
        return self._detail_response(manifest)

    @extend_schema(
        summary="Restore a soft-deleted manifest",
        request=None,
        responses={200: ManifestDetailSerializer},
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return self._detail_response(services.manifest_restore(manifest=self.get_object()))


@extend_schema_view(
    list=extend_schema(summary="List assets, in manifest order"),
    destroy=extend_schema(summary="Delete an asset for good", responses={204: None}),
)
class AssetViewSet(
    ConditionalRequests,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Assets by their own id: `/api/assets/{id}`."""

    etag_of = staticmethod(asset_etag)
    if_match_actions = ConditionalRequests.if_match_actions | {"upload"}
    serializer_class = AssetSerializer
    filterset_class = AssetFilter
    search_fields = search.search_fields(Asset)
    ordering_fields = ["sort_order", "created_at", "updated_at", "name", "manifest_tag"]
    ordering = ["sort_order", "created_at"]
    pagination_class = LibraryPagination

    def get_queryset(self):
        return Asset.objects.ordered()

    def perform_update(self, serializer):
        serializer.instance = self.shown = services.asset_update(
            asset=serializer.instance, if_match=self.if_match, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.asset_delete(asset=instance, if_match=self.if_match)

    @extend_schema(
        summary="Upload the asset's reference image",
        request={"multipart/form-data": UploadRequestSerializer},
        responses={
            200: AssetSerializer,
            413: OpenApiResponse(ErrorSerializer, description="Over the upload size limit."),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request, *args, **kwargs):
        asset = self.get_object()
        self._refuse_oversized_body(request)
        params = UploadRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        asset = self.shown = services.asset_attach_image(
            asset=asset, file=params.validated_data["file"], if_match=self.if_match
        )
        return Response(AssetSerializer(asset, context=self.get_serializer_context()).data)

    @staticmethod
    def _refuse_oversized_body(request) -> None:
        """Answer 413 from the declared length, before the body is read at all."""
        limit = settings.VIDPIPE_MAX_UPLOAD_BYTES
        length = declared_length(request)
        if length > limit + MULTIPART_OVERHEAD_BYTES:
            raise PayloadTooLarge(
                f"The request is {length} bytes; files may be at most {limit} bytes."
            )


@extend_schema(
    parameters=[
        OpenApiParameter(
            "manifest_pk", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Manifest id."
        )
    ]
)
@extend_schema_view(
    list=extend_schema(summary="A manifest's assets, in order"),
    create=extend_schema(summary="Add an asset; its tag is generated"),
)
class ManifestAssetViewSet(UnderManifest, mixins.CreateModelMixin, AssetViewSet):
    """Assets under their manifest: `/api/manifests/{manifest_pk}/assets/{id}`."""

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no real request
            return Asset.objects.none()
        return super().get_queryset().filter(manifest=self.manifest)

    def perform_create(self, serializer):
        serializer.instance = self.shown = services.asset_create(
            manifest=self.manifest, **serializer.validated_data
        )

    @extend_schema(
        summary="Add many images at once, each as a new asset",
        description=(
            "Multipart: `files` (one part per image, in order), `asset_type` (the default "
            "type), optionally `names` and `types` (one field each per file, in file order; "
            "blank for the default) and `atomic`. Every file is checked (decoded, size, "
            "pixel and frame limits) before anything is written; the accepted ones become "
            "assets with generated tags, in file order, in one change: the manifest's "
            "version moves once. 201 lists the new assets (`created`) and the files refused "
            "(`refused`: index, file, reason). 400 when nothing was created: every file "
            "refused, or any with `atomic=true` (the body lists them), or wrong arguments. "
            "413 when the body declares more than VIDPIPE_BULK_MAX_BYTES, or one file is "
            "over VIDPIPE_MAX_UPLOAD_BYTES."
        ),
        request={"multipart/form-data": BulkUploadRequestSerializer},
        responses={
            201: BulkUploadResultSerializer,
            # Two shapes: files refused ({detail, refused}) or wrong arguments ({field: [..]}).
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Nothing was created. Files refused: `{detail, refused: [{index, "
                "file, reason}]}`; wrong arguments: "
                "`{field: [messages]}`.",
            ),
            413: OpenApiResponse(ErrorSerializer, description="Over a size limit."),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="bulk",
        parser_classes=[MultiPartParser, FormParser],
    )
    def bulk(self, request, *args, **kwargs):
        limit = settings.VIDPIPE_BULK_MAX_BYTES
        length = declared_length(request)
        if length > limit:
            raise PayloadTooLarge(
                f"The request is {length} bytes; a bulk upload may be at most {limit} bytes "
                "(send the images in several requests)."
            )
        params = BulkUploadRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        result = services.assets_bulk_create(manifest=self.manifest, **params.validated_data)
        created = AssetSerializer(result.created, many=True, context=self.get_serializer_context())
        return Response(
            {"created": created.data, "refused": [asdict(r) for r in result.refused]},
            status.HTTP_201_CREATED,
        )


class ProjectViewSet(viewsets.ModelViewSet):
    queryset = Project.objects.all()
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    search_fields = ["name"]
    ordering_fields = ["created_at", "name"]
    ordering = ["-created_at"]

    def perform_create(self, serializer):
        serializer.instance = services.project_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.project_update(
            project=serializer.instance, **serializer.validated_data
        )
