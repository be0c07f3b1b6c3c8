"""Real image files made with Pillow, friendly and hostile, for the image tests."""

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

# EXIF orientation 6: the stored pixels must be turned 90 degrees clockwise to be upright.
ROTATE_CLOCKWISE = 6


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def upload(content: bytes, name: str = "upload.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def two_colour(size: tuple[int, int] = (60, 30), left="red", right="blue") -> Image.Image:
    """Left half one colour, right half another: shows which way an image was turned."""
    image = Image.new("RGB", size, left)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return image


def sideways_jpeg() -> bytes:
    """A landscape JPEG whose EXIF says it is really portrait (a phone held upright)."""
    exif = Image.Exif()
    exif[0x0112] = ROTATE_CLOCKWISE
    return encode(two_colour((60, 30)), "JPEG", exif=exif.tobytes(), quality=95)


def cmyk_jpeg(size=(40, 40)) -> bytes:
    return encode(Image.new("CMYK", size, (0, 255, 255, 0)), "JPEG", quality=95)  # red ink


def palette_png_with_transparency(size=(40, 40)) -> bytes:
    """A palette PNG: left half transparent (index 0), right half green (index 1)."""
    image = Image.new("P", size, 0)
    image.putpalette([0, 0, 0, 0, 255, 0])
    image.paste(1, (size[0] // 2, 0, size[0], size[1]))
    return encode(image, "PNG", transparency=0)


def sixteen_bit_png(value: int = 40000, size=(40, 40)) -> bytes:
    return encode(Image.new("I;16", size, value), "PNG")


def animated_gif(frames: int, size=(16, 16)) -> bytes:
    images = [Image.new("P", size, index % 2) for index in range(frames)]
    for image in images:
        image.putpalette([255, 0, 0, 0, 0, 255])
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=40)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
SVG += b'<script>alert(1)</script><rect width="10" height="10"/></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
TEXT = b"just some text, not an image\n"


def truncated(content: bytes) -> bytes:
    return content[: len(content) // 2]


def noisy_jpeg(size: tuple[int, int], quality: int = 90) -> bytes:
    """A photo-like JPEG (gradients and noise) that does not compress to nothing."""
    noise = Image.effect_noise(size, 40)
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge(
        "RGB", (noise, gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    )
    return encode(image, "JPEG", quality=quality)
