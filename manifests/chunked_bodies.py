"""Request bodies sent with `Transfer-Encoding: chunked`, read within the usual size limits.

Such a body has no Content-Length. A WSGI server passes it decoded in `wsgi.input` without
CONTENT_LENGTH, and Django then reads nothing: an upload would be told "No file was
submitted". An ASGI server hands Django the whole body, but with no length Django's size
check on `request.body` never fires and its multipart parser reads nothing either.

So this middleware, first in MIDDLEWARE, reads such a body before anything else does,
counting the bytes as they arrive into a temporary file that spills to disk past
FILE_UPLOAD_MAX_MEMORY_SIZE. It stops at the limit a body of its type could lawfully
reach, answering 413 without reading the rest, and otherwise hands the body on with its
length: every later check (the API's 413s, Django's DATA_UPLOAD_MAX_MEMORY_SIZE, the
upload handlers) then runs as for a body sent with a Content-Length.
"""

import tempfile
from collections.abc import Callable
from typing import IO

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream, WSGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse

from manifests.body_limits import files_limit

READ_SIZE = 64 * 1024


class ChunkedBodyTooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


def is_chunked(request: HttpRequest) -> bool:
    codings = request.META.get("HTTP_TRANSFER_ENCODING", "")
    chunked = "chunked" in (c.strip().lower() for c in codings.split(","))
    return chunked and not request.META.get("CONTENT_LENGTH")


def body_limit(request: HttpRequest) -> int:
    """The most bytes a chunked body may have: the files its route takes (one image, or a
    bulk upload's or a bundle's limit: `manifests.body_limits`) and form fields of
    DATA_UPLOAD_MAX_MEMORY_SIZE for multipart, else the latter alone."""
    fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if fields is None:
        fields = settings.VIDPIPE_MAX_UPLOAD_BYTES
    if request.content_type == "multipart/form-data":
        return files_limit(request.path) + fields
    return fields


def spool(source: IO[bytes], body: IO[bytes], limit: int) -> int:
    """Copy `source` into `body` and rewind it; refuse once it passes `limit` bytes."""
    size = 0
    while chunk := source.read(min(READ_SIZE, limit + 1 - size)):
        size += len(chunk)
        if size > limit:
            raise ChunkedBodyTooLarge(limit)
        body.write(chunk)
    body.seek(0)
    return size


def refusal(detail: str, status: int) -> JsonResponse:
    """The API's error body, with its length: this middleware answers before the
    middleware that would add it, and the connection closes after it."""
    response = JsonResponse({"detail": detail}, status=status)
    response["Content-Length"] = str(len(response.content))
    return response


class ChunkedBodyMiddleware:
    """Give a chunked request body its length, or refuse it (413, or 400 if malformed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_chunked(request):
            return self.get_response(request)
        # A WSGI request's stream is cut at the missing length (nothing); the server's
        # input holds the decoded body. An ASGI request's stream is the body itself.
        source = (
            request.environ["wsgi.input"] if isinstance(request, WSGIRequest) else request._stream
        )
        limit = body_limit(request)
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            try:
                size = spool(source, body, limit)
            except ChunkedBodyTooLarge:
                return refusal(f"The chunked request body is over the limit of {limit} bytes.", 413)
            except Exception:
                # The server's decoder raises its own errors for a malformed chunk (gunicorn:
                # ParseException) and OSError for a connection closed before the last chunk.
                return refusal("The chunked request body is malformed or incomplete.", 400)
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(body, size)
            request._read_started = False
            return self.get_response(request)
