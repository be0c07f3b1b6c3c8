"""OpenAPI generation: documents the error answers that every operation can give.

Clients (and the schema fuzzer in tests/test_fuzz.py) can then rely on the document for
every status code and body the API really sends, not only the happy path.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from manifests.serializers import ErrorSerializer, PreconditionFailedSerializer

WRITE_METHODS = {"POST", "PUT", "PATCH"}

ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201, 304, 412],
    description="The resource's entity tag, strong (see `If-Match`): "
    '`"<id>-r<revision>"` for a manifest, `"<id>-<digest>"` for an asset.',
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="Change only if the resource still has one of these ETags (or exists: `*`); "
    "else 412 with the current ETag, and nothing changes. Weak tags never match. Without "
    "it, the change is unconditional.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="Answer 304 (no body) when the resource still has one of these ETags.",
)


class ApiAutoSchema(AutoSchema):
    """Adds to every operation the error answers it can give, and to those of viewsets
    with conditional requests (views.ConditionalRequests) their headers, 304 and 412."""

    def _conditional(self) -> tuple[bool, bool, bool]:
        """(answers carry an ETag, takes If-Match, takes If-None-Match) for this operation."""
        action = getattr(self.view, "action", None)
        etag = action in getattr(self.view, "etag_actions", ())
        if_match = action in getattr(self.view, "if_match_actions", ())
        return etag, if_match, etag and action == "retrieve"

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        etag, if_match, if_none_match = self._conditional()
        if if_match:
            parameters.append(IF_MATCH)
        if if_none_match:
            parameters.append(IF_NONE_MATCH)
        if etag or if_match:
            parameters.append(ETAG_HEADER)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        _, if_match, if_none_match = self._conditional()
        if if_none_match:
            responses["304"] = self._get_response_for_code(
                OpenApiResponse(None, description="Not modified: If-None-Match names the ETag."),
                "304",
                direction=direction,
            )
        defaults = {
            "401": (ErrorSerializer, "Missing or invalid credentials."),
            "403": (ErrorSerializer, "Not allowed: writes need a staff user (and CSRF)."),
            "429": (ErrorSerializer, "Too many requests; retry after `Retry-After` seconds."),
        }
        if "{" in self.path:
            defaults["404"] = (ErrorSerializer, "Unknown, malformed or deleted id.")
        if self.method in WRITE_METHODS:
            defaults["400"] = (OpenApiTypes.OBJECT, "Bad input: `{field: [messages]}`.")
            defaults["413"] = (ErrorSerializer, "The request body is too large.")
            defaults["415"] = (ErrorSerializer, "Unsupported media type.")
        if if_match:
            defaults["400"] = (OpenApiTypes.OBJECT, "Bad input, or a malformed `If-Match`.")
            defaults["412"] = (
                PreconditionFailedSerializer,
                "`If-Match` does not match: the resource changed since it was read; nothing "
                "changed. The body and the ETag header give the current ETag.",
            )
        if self.method == "GET" and self._is_list_view():
            defaults["400"] = (OpenApiTypes.OBJECT, "Bad filter: `{parameter: [messages]}`.")
            defaults["404"] = (ErrorSerializer, "No such page.")
        for code, (schema, description) in defaults.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(schema, description=description), code, direction=direction
                )
        return responses


def _links(**operations: tuple[str, str, str]) -> dict:
    return {
        name: {"operationId": operation_id, "parameters": {parameter: f"$response.body#/{field}"}}
        for name, (operation_id, parameter, field) in operations.items()
    }


_MANIFEST_LINKS = _links(
    GetManifest=("manifests_retrieve", "id", "id"),
    UpdateManifest=("manifests_partial_update", "id", "id"),
    DeleteManifest=("manifests_destroy", "id", "id"),
    DuplicateManifest=("manifests_duplicate_create", "id", "id"),
    RestoreManifest=("manifests_restore_create", "id", "id"),
    AddAsset=("manifests_assets_create", "manifest_pk", "id"),
    ListAssets=("manifests_assets_list", "manifest_pk", "id"),
)
_ASSET_LINKS = _links(
    GetAsset=("assets_retrieve", "id", "id"),
    UpdateAsset=("assets_partial_update", "id", "id"),
    DeleteAsset=("assets_destroy", "id", "id"),
    UploadImage=("assets_upload_create", "id", "id"),
    GetItsManifest=("manifests_retrieve", "id", "manifest_id"),
)
_PROJECT_LINKS = _links(
    GetProject=("projects_retrieve", "id", "id"),
    UpdateProject=("projects_partial_update", "id", "id"),
    DeleteProject=("projects_destroy", "id", "id"),
    DeleteLinkedManifest=("manifests_destroy", "id", "manifest_id"),
)
LINKS = {
    ("/api/manifests/", "post", "201"): _MANIFEST_LINKS,
    ("/api/manifests/{id}/duplicate/", "post", "201"): _MANIFEST_LINKS,
    ("/api/manifests/{manifest_pk}/assets/", "post", "201"): _ASSET_LINKS,
    ("/api/projects/", "post", "201"): _PROJECT_LINKS,
}


def add_links(result, generator, request, public):
    """OpenAPI links from each created resource to the operations on it.

    They tell clients (and stateful fuzzing) how responses chain: a created manifest's id
    feeds its detail, assets, duplicate and delete operations, and so on.
    """
    for (path, method, code), links in LINKS.items():
        result["paths"][path][method]["responses"][code]["links"] = links
    return result
