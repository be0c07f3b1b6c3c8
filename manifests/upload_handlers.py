"""Multipart upload handling that refuses an oversized file while it is still arriving.

The API also checks Content-Length before reading a body, but that header may be absent,
wrong, or the body may be parsed before the view runs (session authentication reads the
form for its CSRF check). This handler sits first in FILE_UPLOAD_HANDLERS and stops the
parse as soon as one file passes VIDPIPE_MAX_UPLOAD_BYTES, so at most that many bytes of a
file are ever read, in memory or on disk. A bundle import (a whole manifest as one zip)
swaps it for BundleSizeLimitHandler, whose limit is VIDPIPE_MAX_BUNDLE_BYTES, before the
body is parsed (`accept_bundle_upload`).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest


class UploadedFileTooBig(RequestDataTooBig):
    """One file of a multipart body is over VIDPIPE_MAX_UPLOAD_BYTES. A RequestDataTooBig,
    so that outside the API Django answers it as it answers any oversized body (400)."""


class UploadSizeLimitHandler(FileUploadHandler):
    """Raise UploadedFileTooBig (413 in the API, 400 elsewhere) once a file is too large."""

    limit_setting = "VIDPIPE_MAX_UPLOAD_BYTES"

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        limit = getattr(settings, self.limit_setting)
        if start + len(raw_data) > limit:
            self._discard_partial_files()
            # Named: in a bulk upload, the client must know which of its files it was.
            raise UploadedFileTooBig(
                f"An uploaded file ({self.file_name}) is larger than the limit of {limit} bytes."
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the file

    def _discard_partial_files(self) -> None:
        # The parser only closes files it has finished; the one in progress (a temporary
        # file for large uploads) would otherwise live until garbage collection.
        for handler in self.request.upload_handlers if self.request else ():
            partial = getattr(handler, "file", None)
            if partial is not None and handler is not self:
                partial.close()


class BundleSizeLimitHandler(UploadSizeLimitHandler):
    """The same, for a bundle: one file of up to VIDPIPE_MAX_BUNDLE_BYTES."""

    limit_setting = "VIDPIPE_MAX_BUNDLE_BYTES"


def accept_bundle_upload(request: HttpRequest) -> None:
    """Let this request's file be as large as a bundle may be. Call it before anything
    reads the body (a view that does must be csrf_exempt and check CSRF itself after)."""
    request.upload_handlers = [
        BundleSizeLimitHandler(request) if type(handler) is UploadSizeLimitHandler else handler
        for handler in request.upload_handlers
    ]
