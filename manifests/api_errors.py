"""Turns domain and Django errors into DRF's error answers, so views stay thin."""

from dataclasses import asdict

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from manifests.exceptions import (
    BulkUploadRefused,
    BundleRefused,
    InvalidImage,
    MalformedETag,
    ManifestInUse,
    StorageUnavailable,
    StoredFileMissing,
    UploadTooLarge,
    VersionConflict,
)
from manifests.upload_handlers import UploadedFileTooBig


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The resource changed since you read it."
    default_code = "precondition_failed"


class StorageUnavailableError(exceptions.APIException):
    """503 with Retry-After (DRF sends `wait` as that header)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "File storage is unavailable; try again later."
    default_code = "storage_unavailable"

    def __init__(self, detail: str, wait: int):
        super().__init__(detail)
        self.wait = wait


def to_api_exception(exc: Exception) -> Exception:
    """The DRF exception that answers a domain or Django error (others pass through)."""
    if isinstance(exc, ManifestInUse):
        return Conflict({"detail": str(exc), "projects": exc.projects})
    if isinstance(exc, VersionConflict):
        return PreconditionFailed({"detail": str(exc), "etag": exc.current_etag})
    if isinstance(exc, MalformedETag):
        return exceptions.ValidationError({"If-Match": [str(exc)]})
    if isinstance(exc, StoredFileMissing):
        return Conflict({"detail": str(exc)})
    if isinstance(exc, StorageUnavailable):
        return StorageUnavailableError(str(exc), settings.VIDPIPE_STORAGE_RETRY_AFTER)
    if isinstance(exc, BulkUploadRefused):
        return exceptions.ValidationError({"detail": str(exc)})  # `refused`: exception_handler
    if isinstance(exc, BundleRefused):
        return exceptions.ValidationError({"bundle": [str(exc)], "entry": exc.entry})
    if isinstance(exc, InvalidImage):
        return exceptions.ValidationError({"file": [str(exc)]})
    if isinstance(exc, UploadTooLarge | UploadedFileTooBig):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return exceptions.ValidationError({"detail": f"More than {limit} form fields were sent."})
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return exceptions.ValidationError(
            {"detail": f"More than {limit} files were sent; at most {limit} per request."}
        )
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, ObjectDoesNotExist):
        return Http404(str(exc))
    return exc


def exception_handler(exc, context):
    original, exc = exc, to_api_exception(exc)
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, list):
        # Error bodies are always objects: a bare list of messages becomes non-field errors.
        exc = exceptions.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.detail})
    response = drf_exception_handler(exc, context)
    if isinstance(original, VersionConflict) and response is not None:
        response["ETag"] = original.current_etag  # what to read again, then send in If-Match
    if isinstance(original, BulkUploadRefused) and response is not None:
        # As the 201 lists them: indexes stay numbers (a ValidationError makes all text).
        response.data["refused"] = [asdict(r) for r in original.refused]
    return response
