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
