"""Frozen versions in the API: a manifest's versions, one version, one tag in it, diffs,
branching a version (what a project pins is in `views.pins`, which shares the helpers).

A numbered version never changes: its answers carry a strong ETag (its content's sha256)
and may be cached for good. `latest` and a project's pin move: their ETag also names the
version they resolved to, and caches revalidate them (`If-None-Match` → 304).

Unless media is public, the image URLs in those answers expire (`manifests.media_urls`):
the ETag then also names the URLs' expiry (the body changes with it, once a window), and a
numbered version is cached only while its URLs have half their lifetime left, never for good.
"""

import re
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from manifests import services
from manifests.etags import for_representation, not_modified
from manifests.media_urls import media_urls_expire, url_expiry
from manifests.models import Manifest, ManifestVersion
from manifests.serializers import (
    DuplicateRequestSerializer,
    ErrorSerializer,
    ManifestDetailSerializer,
)
from manifests.serializers_versions import (
    ResolvedAssetSerializer,
    UnknownTagSerializer,
    UnknownVersionSerializer,
    VersionDetailSerializer,
    VersionDiffSerializer,
    VersionSummarySerializer,
)
from manifests.views.manifests import STORAGE_UNAVAILABLE, UnderManifest

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"
# A version number as a URL or `against` names it (within the column's range), or latest.
NUMBER_PATTERN = re.compile(r"[1-9][0-9]{0,9}")
MAX_NUMBER = 2**31 - 1
CURRENT = "current"

MANIFEST_PK = OpenApiParameter(
    "manifest_pk", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Manifest id."
)
NUMBER = OpenApiParameter(
    "number",
    str,
    OpenApiParameter.PATH,
    description="A frozen version number, or `latest` (the newest frozen version).",
    pattern=r"^([1-9][0-9]*|latest)$",
)
TAG = OpenApiParameter("tag", str, OpenApiParameter.PATH, description="A tag such as CHAR_01.")
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="An ETag from an earlier answer: 304 without a body while it still matches.",
)
# Response headers of the cached answers (200 and 304).
CACHE_HEADERS = [
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        description='Strong: `"<content_sha256>"` for a numbered version; for `latest` and '
        'a project\'s pin `"<manifest_id>.<number>.<content_sha256>"`. Unless media is '
        "public, `.<expires>` follows: when the answer's image URLs expire (they change "
        "once a window, and the answer with them).",
        response=[200, 304],
    ),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        description=f"`{IMMUTABLE}` for a numbered version (`private, max-age=<seconds>` "
        "unless media is public: until its image URLs have half their lifetime left), "
        f"`{REVALIDATE}` for `latest` and a project's pin (they move).",
        response=[200, 304],
    ),
]
NOT_MODIFIED = OpenApiResponse(description="The If-None-Match ETag still matches; no body.")
UNKNOWN_VERSION = OpenApiResponse(
    UnknownVersionSerializer,
    description="Unknown or deleted manifest, or a version that is not frozen "
    "(`versions` lists the frozen numbers).",
)
UNKNOWN_TAG = OpenApiResponse(
    UnknownTagSerializer,
    description="Unknown manifest or version (`versions`), or a tag the version does not "
    "have (`tags` lists the ones it has).",
)


class NotFoundNaming(exceptions.NotFound):
    """A 404 whose body names what there is beside its `detail` (kept as given: DRF would
    turn every item of a dict detail into a string)."""

    def __init__(self, detail: str, **named: list):
        super().__init__(detail)
        self.detail = {"detail": self.detail, **named}


def is_version_number(value: str) -> bool:
    return bool(NUMBER_PATTERN.fullmatch(value)) and int(value) <= MAX_NUMBER


def frozen_numbers(manifest_id: Any) -> list[int]:
    return list(
        ManifestVersion.objects.filter(manifest_id=manifest_id)
        .order_by("number")
        .values_list("number", flat=True)
    )


def unknown_version(manifest_id: Any, asked: str) -> NotFoundNaming:
    numbers = frozen_numbers(manifest_id)
    frozen = ", ".join(map(str, numbers)) or "none yet"
    what = "no frozen version" if asked == "latest" else f"no frozen version {asked!r}"
    return NotFoundNaming(
        f"The manifest has {what}; its frozen versions are: {frozen}.", versions=numbers
    )


def resolve_version(manifest_id: Any, asked: str) -> ManifestVersion:
    """The manifest's frozen version `asked` (a number or `latest`), else a 404 naming the
    frozen numbers."""
    if asked != "latest" and not is_version_number(asked):
        raise unknown_version(manifest_id, asked)
    version = ManifestVersion.objects.filter(manifest_id=manifest_id).resolve(asked)
    if version is None:
        raise unknown_version(manifest_id, asked)
    return version


def frozen_asset(version: ManifestVersion, tag: str) -> dict[str, Any]:
    """The asset `tag` meant in `version`, with where it comes from; else a 404 naming the
    version's tags."""
    for asset in version.assets:
        if asset["manifest_tag"] == tag:
            return {**asset, "manifest_id": version.manifest_id, "version": version.number}
    tags = [asset["manifest_tag"] for asset in version.assets]
    raise NotFoundNaming(
        f"Version {version.number} has no asset tagged {tag!r}; its tags are: "
        f"{', '.join(tags) or 'none'}.",
        tags=tags,
    )


def cacheable_seconds(expires: int) -> int:
    """How long a body whose file URLs expire at `expires` may be reused: until half their
    lifetime is left, for the client to fetch them (at least half of it, as a URL lives at
    least its lifetime)."""
    left_at_the_end = settings.VIDPIPE_MEDIA_URL_SECONDS // 2
    return max(0, expires - int(time.time()) - left_at_the_end)


def cached_response(
    request, version: ManifestVersion, render: Callable[[], Any], *, moving: bool
) -> Response:
    """An answer about a frozen version, with its ETag and caching, or 304 when the
    client's If-None-Match still matches. A moving URL's ETag also names the version it
    resolved to: the same content at another number is another representation."""
    etag = version.content_sha256
    if moving:
        etag = f"{version.manifest_id}.{version.number}.{etag}"
    cache_control = REVALIDATE if moving else IMMUTABLE
    if media_urls_expire():
        expires = url_expiry()
        etag = f"{etag}.{expires}"
        if not moving:
            cache_control = f"private, max-age={cacheable_seconds(expires)}"
    etag = for_representation(request, f'"{etag}"')
    asked = request.headers.get("If-None-Match")
    matched = asked is not None and (
        asked.strip() == "*" or etag in {tag.removeprefix("W/") for tag in parse_etags(asked)}
    )
    if matched:
        return not_modified(etag, Cache_Control=cache_control)
    response = Response(render())
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


@extend_schema(parameters=[MANIFEST_PK])
@extend_schema_view(
    list=extend_schema(
        summary="A manifest's frozen versions, newest first",
        description="Each with its asset count and how many projects pin it (`pinned_by`).",
    )
)
class ManifestVersionViewSet(UnderManifest, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Frozen versions under their manifest: `/api/manifests/{manifest_pk}/versions/{number}`."""

    serializer_class = VersionSummarySerializer
    lookup_field = "number"
    lookup_value_regex = "[^/]+"
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no real request
            return ManifestVersion.objects.none()
        return ManifestVersion.objects.filter(manifest=self.manifest).with_pin_counts()

    def get_version(self) -> ManifestVersion:
        return resolve_version(self.manifest.pk, self.kwargs["number"])

    @extend_schema(
        summary="Freeze the manifest's current version",
        description="Idempotent: 201 with the new record, 200 with the existing one when "
        "the current version is frozen already. No body.",
        request=None,
        responses={201: VersionSummarySerializer, 200: VersionSummarySerializer},
    )
    def create(self, request, *args, **kwargs):
        version, created = services.manifest_freeze_current(manifest=self.manifest)
        summary = self.get_queryset().get(pk=version.pk)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(self.get_serializer(summary).data, status=code)

    @extend_schema(
        summary="A frozen version: the manifest and its assets exactly as frozen",
        description="Image URLs serve the frozen bytes, whatever happened to the assets "
        "since. A numbered version never changes: strong ETag, cacheable for good.",
        parameters=[NUMBER, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: VersionDetailSerializer,
            304: NOT_MODIFIED,
            404: UNKNOWN_VERSION,
        },
    )
    def retrieve(self, request, *args, **kwargs):
        version = self.get_version()
        return cached_response(
            request,
            version,
            lambda: VersionDetailSerializer(version, context=self.get_serializer_context()).data,
            moving=self.kwargs["number"] == "latest",
        )

    @extend_schema(
        summary="The asset a tag meant in a frozen version",
        parameters=[NUMBER, TAG, IF_NONE_MATCH, *CACHE_HEADERS],
        responses={
            200: ResolvedAssetSerializer,
            304: NOT_MODIFIED,
            404: UNKNOWN_TAG,
        },
    )
    @action(detail=True, methods=["get"], url_path=r"assets/(?P<tag>[^/]+)")
    def asset(self, request, *args, tag: str, **kwargs):
        version = self.get_version()
        asset = frozen_asset(version, tag)
        return cached_response(
            request,
            version,
            lambda: ResolvedAssetSerializer(asset, context=self.get_serializer_context()).data,
            moving=self.kwargs["number"] == "latest",
        )

    @extend_schema(
        summary="What changed from a frozen version to another (or to the current content)",
        description="Assets added, removed and changed, by tag, from version `number` to "
        "`against`; each changed asset names its changed fields (a new image shows as "
        "`image_sha256`), and `manifest` the manifest's changed fields.",
        parameters=[
            NUMBER,
            OpenApiParameter(
                "against",
                str,
                required=True,
                description="A frozen version number, or `current` (the manifest as it is).",
            ),
        ],
        responses={
            200: VersionDiffSerializer,
            400: OpenApiResponse(
                description="`against` is neither a frozen version number nor `current`; "
                "the message lists the frozen versions."
            ),
            404: UNKNOWN_VERSION,
        },
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, *args, **kwargs):
        version = self.get_version()
        against = request.query_params.get("against", "")
        if against == CURRENT:
            newer = services.manifest_content(self.manifest)
            to = self.manifest.version
        else:
            other = None
            if is_version_number(against):
                other = ManifestVersion.objects.filter(
                    manifest=self.manifest, number=against
                ).first()
            if other is None:
                frozen = frozen_numbers(self.manifest.pk)
                raise exceptions.ValidationError(
                    {
                        "against": [
                            f"Must be a frozen version number or {CURRENT!r}, not {against!r}; "
                            f"the frozen versions are: {', '.join(map(str, frozen)) or 'none'}."
                        ]
                    }
                )
            newer, to = other.content, other.number
        diff = services.versions_diff(version.content, newer)
        body = {
            "manifest_id": self.manifest.pk,
            "from": version.number,
            "to": to,
            "against": against,
            **diff,
        }
        return Response(VersionDiffSerializer(body).data)

    @extend_schema(
        summary="Branch a frozen version into a new DRAFT manifest",
        description="Like duplicate, but from the frozen record: the version's fields, "
        "assets (tags, order) and image files, parent the source; tag numbering continues "
        "from the source's.",
        request=DuplicateRequestSerializer,
        parameters=[
            NUMBER,
            OpenApiParameter(
                "name", str, description='Name of the copy; default "<frozen name> (copy N)".'
            ),
        ],
        responses={
            201: ManifestDetailSerializer,
            404: UNKNOWN_VERSION,
            409: OpenApiResponse(
                ErrorSerializer, description="A frozen image file is missing from storage."
            ),
            503: STORAGE_UNAVAILABLE,
        },
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request, *args, **kwargs):
        version = self.get_version()
        data = request.data if request.data is not None else {}
        if not data and "name" in request.query_params:
            data = {"name": request.query_params["name"]}
        params = DuplicateRequestSerializer(data=data)
        params.is_valid(raise_exception=True)
        copy = services.manifest_duplicate_version(
            version=version, name=params.validated_data.get("name")
        )
        copy = Manifest.objects.with_assets().get(pk=copy.pk)
        context = self.get_serializer_context()
        return Response(
            ManifestDetailSerializer(copy, context=context).data, status=status.HTTP_201_CREATED
        )
