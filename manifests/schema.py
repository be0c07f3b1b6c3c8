"""OpenAPI generation: documents the error answers that every operation can give.

Clients (and the schema fuzzer in tests/test_fuzz.py) can then rely on the document for
every status code and body the API really sends, not only the happy path.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from manifests.serializers import ErrorSerializer

WRITE_METHODS = {"POST", "PUT", "PATCH"}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
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
