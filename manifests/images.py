"""Everything that touches Pillow: validating uploads and naming stored images.

An upload is accepted only when Pillow decodes it as one of the accepted formats; the
extension and the client's content type are never trusted. Originals are never modified.
"""

import hashlib
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.utils.text import get_valid_filename
from PIL import Image, UnidentifiedImageError

from manifests.exceptions import InvalidImage

# Decoded format -> canonical extension of the stored file.
ACCEPTED_FORMATS: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MAX_STORED_NAME_LENGTH = 100
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    frames: int
    sha256: str

    @property
    def extension(self) -> str:
        return ACCEPTED_FORMATS[self.format]


def _sha256(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    for chunk in iter(lambda: file.read(1024 * 1024), b""):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()


def inspect_image(file: IO[bytes]) -> ImageInfo:
    """Decode `file` with Pillow and describe it, or raise InvalidImage saying why."""
    accepted = ", ".join(ACCEPTED_FORMATS)
    max_pixels = settings.VIDPIPE_MAX_IMAGE_PIXELS
    file.seek(0)
    if not file.read(1):
        raise InvalidImage("The file is empty.")
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked below; Pillow's bomb warning must not leak out.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            file.seek(0)
            with Image.open(file) as image:
                fmt = image.format
                width, height = image.size
                if fmt not in ACCEPTED_FORMATS:
                    raise InvalidImage(f"Images in {fmt} format are not accepted; use {accepted}.")
                if width * height > max_pixels:
                    raise InvalidImage(
                        f"The image is {width}x{height} pixels; the limit is {max_pixels} pixels."
                    )
                frames = getattr(image, "n_frames", 1)
                max_frames = settings.VIDPIPE_MAX_IMAGE_FRAMES
                if frames > max_frames:
                    raise InvalidImage(
                        f"The image has {frames} frames; the limit is {max_frames} frames."
                    )
                image.verify()
            # verify() leaves the image unusable: decode it for real from a fresh open,
            # which catches truncated data that verify() alone does not.
            file.seek(0)
            with Image.open(file) as image:
                if image.format == "JPEG":
                    # Decode at reduced scale: still reads every byte, far less memory.
                    image.draft("RGB", (1024, 1024))
                image.load()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise InvalidImage(f"The file is not an image we can read; accepted: {accepted}.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"The image is damaged or truncated ({exc}).") from None
    return ImageInfo(format=fmt, width=width, height=height, frames=frames, sha256=_sha256(file))


def safe_image_name(client_name: str | None, info: ImageInfo) -> str:
    """A storage-safe file name: no directories or control characters, bounded length,
    and the extension of the decoded format (so the served content type is the real one)."""
    base = os.path.basename((client_name or "").replace("\\", "/"))
    base = _CONTROL_CHARACTERS.sub("", unicodedata.normalize("NFKC", base))
    stem = os.path.splitext(base)[0].strip(" .")
    try:
        stem = get_valid_filename(stem)
    except SuspiciousFileOperation:  # the name reduces to nothing, '.' or '..'
        stem = ""
    stem = stem[: MAX_STORED_NAME_LENGTH - len(info.extension) - 1] or "image"
    return f"{stem}.{info.extension}"
