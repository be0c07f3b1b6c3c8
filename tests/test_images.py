"""manifests.images on its own: validation, thumbnails and sheet geometry, real Pillow."""

import io

import pytest
from PIL import Image

from manifests.exceptions import InvalidImage
from manifests.images import (
    ImageInfo,
    decode_reduced,
    inspect_image,
    render_thumbnail,
    safe_image_name,
)
from tests import image_factories as make


def thumbnail_of(content: bytes, **kwargs) -> Image.Image:
    rendered = render_thumbnail(io.BytesIO(content), **kwargs)
    image = Image.open(io.BytesIO(rendered.content))
    image.load()
    assert image.size == (rendered.width, rendered.height)
    return image


@pytest.mark.parametrize(
    ("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGBA"), ("GIF", "P")]
)
def test_inspect_image_describes_each_accepted_format(fmt, mode):
    content = make.encode(Image.new(mode, (30, 20)), fmt)

    info = inspect_image(io.BytesIO(content))

    assert (info.format, info.width, info.height, info.frames) == (fmt, 30, 20, 1)
    assert len(info.sha256) == 64


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (make.SVG, "not an image"),
        (make.HTML, "not an image"),
        (make.TEXT, "not an image"),
        (make.truncated(make.noisy_jpeg((64, 64))), "truncated"),
        (make.truncated(make.encode(Image.new("RGB", (64, 64)), "PNG")), "truncated"),
        (make.png_bomb(), "pixels"),
        (make.encode(Image.new("RGB", (10, 10)), "BMP"), "BMP format"),
        (make.encode(Image.new("RGB", (10, 10)), "TIFF"), "TIFF format"),
    ],
    ids=["empty", "svg", "html", "text", "truncated-jpeg", "truncated-png", "bomb", "bmp", "tiff"],
)
def test_inspect_image_refuses_hostile_input_with_a_reason(content, message):
    with pytest.raises(InvalidImage, match=message):
        inspect_image(io.BytesIO(content))


def test_inspect_image_refuses_images_over_the_pixel_limit(settings):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 99

    with pytest.raises(InvalidImage, match="10x10 pixels; the limit is 99"):
        inspect_image(io.BytesIO(make.encode(Image.new("L", (10, 10)), "PNG")))


def test_inspect_image_refuses_animations_over_the_frame_limit(settings):
    settings.VIDPIPE_MAX_IMAGE_FRAMES = 3

    assert inspect_image(io.BytesIO(make.animated_gif(3))).frames == 3
    with pytest.raises(InvalidImage, match="4 frames; the limit is 3"):
        inspect_image(io.BytesIO(make.animated_gif(4)))


def test_thumbnail_fits_the_configured_longest_side(settings):
    settings.VIDPIPE_THUMBNAIL_MAX_SIDE = 100

    assert thumbnail_of(make.noisy_jpeg((1000, 400))).size == (100, 40)
    assert thumbnail_of(make.noisy_jpeg((400, 1000))).size == (40, 100)
    assert thumbnail_of(make.noisy_jpeg((50, 30))).size == (50, 30)  # never enlarged


def test_thumbnail_is_webp_by_default_and_jpeg_when_configured(settings):
    content = make.encode(Image.new("RGBA", (40, 40), (0, 0, 255, 0)), "PNG")

    assert thumbnail_of(content).format == "WEBP"
    settings.VIDPIPE_THUMBNAIL_FORMAT = "JPEG"
    as_jpeg = thumbnail_of(content)
    assert (as_jpeg.format, as_jpeg.mode) == ("JPEG", "RGB")
    assert as_jpeg.getpixel((20, 20)) == pytest.approx((255, 255, 255), abs=3)  # no alpha


def test_thumbnail_of_exif_rotated_photo_is_upright():
    thumbnail = thumbnail_of(make.sideways_jpeg())

    # Stored 60x30 with red on the left; turned clockwise red is on top.
    assert thumbnail.size == (30, 60)
    top, bottom = thumbnail.getpixel((15, 5)), thumbnail.getpixel((15, 55))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_thumbnail_of_cmyk_jpeg_is_rgb():
    thumbnail = thumbnail_of(make.cmyk_jpeg())

    assert thumbnail.mode == "RGB"
    assert thumbnail.getpixel((20, 20)) == pytest.approx((255, 0, 0), abs=12)


def test_thumbnail_of_palette_png_keeps_its_transparency():
    thumbnail = thumbnail_of(make.palette_png_with_transparency())

    assert thumbnail.mode == "RGBA"
    assert thumbnail.getpixel((5, 20))[3] == 0
    assert thumbnail.getpixel((35, 20)) == pytest.approx((0, 255, 0, 255), abs=3)


def test_thumbnail_of_16_bit_png_scales_levels_instead_of_clipping():
    thumbnail = thumbnail_of(make.sixteen_bit_png(40000))

    assert thumbnail.mode == "RGB"
    assert thumbnail.getpixel((20, 20)) == pytest.approx((156, 156, 156), abs=3)


def test_thumbnail_of_animated_gif_is_its_first_frame():
    thumbnail = thumbnail_of(make.animated_gif(5))

    assert thumbnail.getpixel((8, 8))[:3] == pytest.approx((255, 0, 0), abs=3)


def test_large_jpeg_is_decoded_at_reduced_scale_for_its_thumbnail():
    """Draft mode: a 6000x4000 photo is decoded at 1/8 scale, never at full size."""
    content = make.noisy_jpeg((6000, 4000), quality=70)

    assert decode_reduced(io.BytesIO(content), 256).size == (750, 500)
    assert thumbnail_of(content).size == (256, 171)


@pytest.mark.parametrize(
    ("client_name", "stored"),
    [
        ("hero.png", "hero.jpg"),
        ("../../etc/passwd", "passwd.jpg"),
        ("C:\\Users\\me\\evil.html", "evil.jpg"),
        ("bad\x00name\r\n.png", "badname.jpg"),
        ("..", "image.jpg"),
        (None, "image.jpg"),
        ("a" * 500 + ".png", "a" * 96 + ".jpg"),
        ("漢" * 120 + ".png", "漢" * 32 + ".jpg"),  # 96 bytes: whole characters only
        ("é" * 60 + ".png", "é" * 48 + ".jpg"),
    ],
)
def test_safe_image_name_has_no_directories_or_control_characters(client_name, stored):
    info = ImageInfo(format="JPEG", width=1, height=1, frames=1, sha256="0" * 64)

    assert safe_image_name(client_name, info) == stored
