from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 (not 500) for a document nested too deeply for
    Python's decoder, like any other JSON it cannot parse. DRF reads JSON through
    `request.body`, so DATA_UPLOAD_MAX_MEMORY_SIZE bounds the body (413 above it)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
