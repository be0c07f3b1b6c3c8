"""Everything that touches Pillow: validating uploads, thumbnails and contact sheets.

An upload is accepted only when Pillow decodes it as one of the accepted formats; the
extension and the client's content type are never trusted. Originals are never modified:
thumbnails and contact sheets are new images derived from them. Nothing here knows about
models or storage; `manifests.services` decides what is rendered and where it is kept.
"""

import functools
import hashlib
import io
import math
import os
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.utils.text import get_valid_filename
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from manifests.exceptions import InvalidImage

# Decoded format -> canonical extension of the stored file.
ACCEPTED_FORMATS: dict[str, str] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MAX_STORED_NAME_BYTES = 100
# Thumbnail format setting -> (Pillow format, extension, save options).
THUMBNAIL_FORMATS: dict[str, tuple[str, str, dict]] = {
    "WEBP": ("WEBP", "webp", {"quality": 82, "method": 4}),
    "JPEG": ("JPEG", "jpg", {"quality": 85, "optimize": True}),
}
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
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
    return _inspect(file)[0]


def inspect_and_thumbnail(file: IO[bytes]) -> tuple[ImageInfo, "RenderedImage"]:
    """`inspect_image` and `render_thumbnail` from one decode of the file (uploads)."""
    info, decoded = _inspect(file)
    return info, _encode_thumbnail(decoded)


def _inspect(file: IO[bytes]) -> tuple[ImageInfo, Image.Image]:
    """Check `file` and decode it for real, at the reduced scale a thumbnail needs."""
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
            # which catches truncated data that verify() alone does not. A JPEG is decoded
            # at reduced scale: every byte is still read, with a fraction of the memory.
            decoded = decode_reduced(file, settings.VIDPIPE_THUMBNAIL_MAX_SIDE)
    except InvalidImage:
        raise
    except Image.DecompressionBombError:
        # Pillow's own guard fires at open() for images far beyond any sane size.
        raise InvalidImage(
            f"The image claims more pixels than the limit of {max_pixels} pixels."
        ) from None
    except UnidentifiedImageError:
        raise InvalidImage(f"The file is not an image we can read; accepted: {accepted}.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"The image is damaged or truncated ({exc}).") from None
    info = ImageInfo(format=fmt, width=width, height=height, frames=frames, sha256=_sha256(file))
    return info, decoded


def safe_image_name(client_name: str | None, info: ImageInfo) -> str:
    """A storage-safe file name: no directories or control characters, at most 100 bytes,
    and the extension of the decoded format (so the served content type is the real one)."""
    base = os.path.basename((client_name or "").replace("\\", "/"))
    base = _CONTROL_CHARACTERS.sub("", unicodedata.normalize("NFKC", base))
    stem = os.path.splitext(base)[0].strip(" .")
    try:
        stem = get_valid_filename(stem)
    except SuspiciousFileOperation:  # the name reduces to nothing, '.' or '..'
        stem = ""
    # Bounded in bytes, not characters: file systems limit a name to 255 bytes, and 100
    # characters of CJK text are 300 bytes. A character cut in half is dropped.
    limit = MAX_STORED_NAME_BYTES - len(info.extension) - 1
    stem = stem.encode()[:limit].decode(errors="ignore") or "image"
    return f"{stem}.{info.extension}"


# --- thumbnails ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedImage:
    """An image rendered in memory, ready to be stored under a name with `extension`."""

    content: bytes
    extension: str
    width: int
    height: int


def normalize_mode(image: Image.Image) -> Image.Image:
    """The image as RGB, or RGBA when it has any transparency (CMYK, palette, grey, 16-bit)."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Scale 0..65535 down to 0..255; a plain convert() would clip nearly all to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    target = "RGBA" if has_alpha else "RGB"
    return image if image.mode == target else image.convert(target)


def _flatten(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """An RGB image: transparent areas painted over `background`."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    flat = Image.new("RGB", image.size, background)
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _open(file: IO[bytes]) -> Image.Image:
    """Open an image that `inspect_image` accepted (our own pixel limit was checked there)."""
    file.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(file)


def decode_reduced(file: IO[bytes], side: int) -> Image.Image:
    """The image upright (EXIF orientation applied) in RGB or RGBA, decoded no larger than
    needed for a `side`-pixel rendition: JPEGs at 1/2, 1/4 or 1/8 scale (draft mode)."""
    with _open(file) as image:
        # Draft keeps both sides >= `side`, so any EXIF rotation still fits afterwards.
        image.draft(None, (side, side))
        ImageOps.exif_transpose(image, in_place=True)
        decoded = normalize_mode(image)
        return image.copy() if decoded is image else decoded


def render_thumbnail(
    file: IO[bytes], *, max_side: int | None = None, fmt: str | None = None
) -> RenderedImage:
    """A small upright copy of an accepted image: longest side `max_side`, RGB or RGBA.

    JPEGs are decoded at reduced scale (draft mode) so a large photo is never held at full
    size; other formats are reduced with `Image.reduce` before the final resampling.
    """
    max_side = max_side or settings.VIDPIPE_THUMBNAIL_MAX_SIDE
    try:
        decoded = decode_reduced(file, max_side)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(f"The image could not be decoded for its thumbnail ({exc}).") from None
    return _encode_thumbnail(decoded, max_side=max_side, fmt=fmt)


def thumbnail_format(fmt: str | None = None) -> tuple[str, str, dict]:
    """Pillow format, extension and save options of a thumbnail format (default: the
    VIDPIPE_THUMBNAIL_FORMAT setting, which a system check validates here at start-up)."""
    fmt = (fmt or settings.VIDPIPE_THUMBNAIL_FORMAT).upper()
    if fmt not in THUMBNAIL_FORMATS:
        raise ImproperlyConfigured(
            f"VIDPIPE_THUMBNAIL_FORMAT must be one of {', '.join(THUMBNAIL_FORMATS)}, not {fmt!r}."
        )
    return THUMBNAIL_FORMATS[fmt]


def _encode_thumbnail(
    thumbnail: Image.Image, *, max_side: int | None = None, fmt: str | None = None
) -> RenderedImage:
    """Shrink a decoded image (in place) to `max_side` and encode it as a thumbnail."""
    max_side = max_side or settings.VIDPIPE_THUMBNAIL_MAX_SIDE
    pillow_format, extension, options = thumbnail_format(fmt)
    thumbnail.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if pillow_format == "JPEG":
        thumbnail = _flatten(thumbnail, (255, 255, 255))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format=pillow_format, **options)
    return RenderedImage(buffer.getvalue(), extension, *thumbnail.size)


# --- contact sheets --------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetTile:
    """One asset on a contact sheet: its labels and how to open its (thumbnail) image."""

    tag: str
    name: str
    open: Callable[[], AbstractContextManager[IO[bytes]]]


@dataclass(frozen=True)
class SheetLayout:
    """Where everything goes on a contact sheet of `count` tiles.

    The geometry depends on the count alone: cells have a fixed size, so labels stay the same
    size (and legible) whether the sheet holds 1 asset or 200; the grid is about square, at
    most MAX_COLUMNS wide, filled row by row in sort order.
    """

    MAX_COLUMNS = 15
    MIN_WIDTH = 720
    MARGIN = 24
    GUTTER = 16
    HEADER_HEIGHT = 72
    IMAGE_SIDE = 256
    LABEL_HEIGHT = 76
    PADDING = 8

    count: int

    @property
    def columns(self) -> int:
        return max(1, min(self.MAX_COLUMNS, math.ceil(math.sqrt(self.count))))

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.count / self.columns))

    @property
    def cell_size(self) -> tuple[int, int]:
        return self.IMAGE_SIDE, self.IMAGE_SIDE + self.LABEL_HEIGHT

    @property
    def grid_size(self) -> tuple[int, int]:
        cell_width, cell_height = self.cell_size
        return (
            self.columns * cell_width + (self.columns - 1) * self.GUTTER,
            self.rows * cell_height + (self.rows - 1) * self.GUTTER,
        )

    @property
    def size(self) -> tuple[int, int]:
        grid_width, grid_height = self.grid_size
        width = max(self.MIN_WIDTH, grid_width + 2 * self.MARGIN)
        return width, self.HEADER_HEIGHT + grid_height + self.MARGIN

    def cell_box(self, index: int) -> tuple[int, int, int, int]:
        cell_width, cell_height = self.cell_size
        row, column = divmod(index, self.columns)
        left = (self.size[0] - self.grid_size[0]) // 2 + column * (cell_width + self.GUTTER)
        top = self.HEADER_HEIGHT + row * (cell_height + self.GUTTER)
        return left, top, left + cell_width, top + cell_height

    def image_box(self, index: int) -> tuple[int, int, int, int]:
        left, top, right, _ = self.cell_box(index)
        return left, top, right, top + self.IMAGE_SIDE

    def label_box(self, index: int) -> tuple[int, int, int, int]:
        left, _, right, bottom = self.cell_box(index)
        return left, bottom - self.LABEL_HEIGHT, right, bottom


SHEET_BACKGROUND = (236, 236, 236)
CELL_BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (17, 17, 17)
SECONDARY_TEXT_COLOUR = (68, 68, 68)
MISSING_COLOUR = (200, 60, 60)
TITLE_FONT_SIZE = 34
TAG_FONT_SIZE = 28
NAME_FONT_SIZE = 20


@functools.lru_cache(maxsize=16)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path:
        return ImageFont.truetype(path, size)
    # The scalable font embedded in Pillow (needs FreeType, which Pillow's wheels include).
    return ImageFont.load_default(size=size)


def sheet_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The contact-sheet font: VIDPIPE_CONTACT_SHEET_FONT if set, else Pillow's own."""
    return _load_font(settings.VIDPIPE_CONTACT_SHEET_FONT, size)


def _single_line(text: str) -> str:
    return " ".join(_CONTROL_CHARACTERS.sub(" ", text).split())


def fit_text(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """`text` on one line, cut with an ellipsis so that it fits in `width` pixels."""
    text = _single_line(text)
    if draw.textlength(text, font=font) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that still fits with the ellipsis
        middle = (low + high + 1) // 2
        if draw.textlength(text[:middle].rstrip() + "…", font=font) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


def _paste_tile_image(sheet: Image.Image, tile: SheetTile, box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    side = min(right - left, bottom - top)
    try:
        with tile.open() as file:
            picture = decode_reduced(file, side)
    except (OSError, SyntaxError, ValueError, EOFError, UnidentifiedImageError):
        # A missing or unreadable file must not cost the whole sheet: mark the cell instead.
        draw = ImageDraw.Draw(sheet)
        draw.line((left, top, right - 1, bottom - 1), fill=MISSING_COLOUR, width=3)
        draw.line((left, bottom - 1, right - 1, top), fill=MISSING_COLOUR, width=3)
        return
    picture.thumbnail((side, side), Image.Resampling.LANCZOS)
    picture = _flatten(picture, CELL_BACKGROUND)
    offset = (left + (side - picture.width) // 2, top + (side - picture.height) // 2)
    sheet.paste(picture, offset)


def render_contact_sheet(*, title: str, tiles: Sequence[SheetTile]) -> RenderedImage:
    """One PNG of all tiles in order: each image labelled with its tag and name, the title
    as a header. See SheetLayout for the geometry."""
    layout = SheetLayout(len(tiles))
    width, height = layout.size
    sheet = Image.new("RGB", (width, height), SHEET_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    title_font = sheet_font(TITLE_FONT_SIZE)
    count_font = sheet_font(NAME_FONT_SIZE)
    tag_font = sheet_font(TAG_FONT_SIZE)
    name_font = sheet_font(NAME_FONT_SIZE)

    count_text = f"{len(tiles)} asset{'s' if len(tiles) != 1 else ''}"
    count_width = int(draw.textlength(count_text, font=count_font))
    title_width = width - 3 * layout.MARGIN - count_width
    header_middle = layout.HEADER_HEIGHT // 2
    draw.text(
        (layout.MARGIN, header_middle),
        fit_text(draw, title, title_font, title_width),
        font=title_font,
        fill=TEXT_COLOUR,
        anchor="lm",
    )
    draw.text(
        (width - layout.MARGIN, header_middle),
        count_text,
        font=count_font,
        fill=SECONDARY_TEXT_COLOUR,
        anchor="rm",
    )

    text_width = layout.IMAGE_SIDE - 2 * layout.PADDING
    for index, tile in enumerate(tiles):
        draw.rectangle(layout.cell_box(index), fill=CELL_BACKGROUND)
        _paste_tile_image(sheet, tile, layout.image_box(index))
        left, top, _, bottom = layout.label_box(index)
        draw.line((left, top, left + layout.IMAGE_SIDE - 1, top), fill=SHEET_BACKGROUND)
        draw.text(
            (left + layout.PADDING, top + layout.PADDING),
            fit_text(draw, tile.tag, tag_font, text_width),
            font=tag_font,
            fill=TEXT_COLOUR,
            anchor="la",
            stroke_width=0.6,  # a touch of weight: the tag is what a reader looks for
            stroke_fill=TEXT_COLOUR,
        )
        draw.text(
            (left + layout.PADDING, bottom - layout.PADDING),
            fit_text(draw, tile.name, name_font, text_width),
            font=name_font,
            fill=SECONDARY_TEXT_COLOUR,
            anchor="ld",
        )

    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", compress_level=6)
    return RenderedImage(buffer.getvalue(), "png", width, height)
