"""Manifest contact sheets: one labelled image of all assets, for people and models."""

import io

import pytest
from PIL import Image

from manifests import services
from manifests.images import SheetLayout
from manifests.models import Manifest
from tests import image_factories as make
from tests.conftest import fetch, file_name_of, stored_files
from tests.queries import assert_num_queries

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py

# Distinct, saturated colours so each cell can be matched to its asset.
PALETTE = [(220, 30, 30), (30, 160, 60), (40, 70, 220), (230, 160, 20), (150, 40, 170)]


def colour(index: int) -> tuple[int, int, int]:
    base = PALETTE[index % len(PALETTE)]
    shade = (index // len(PALETTE)) * 3 % 60
    return tuple(max(0, channel - shade) for channel in base)


def manifest_with_images(make_manifest, make_asset, count: int, name="Hero Characters"):
    manifest = make_manifest(name)
    for index in range(count):
        asset = make_asset(manifest, f"Asset number {index}", "CHARACTER")
        content = make.encode(Image.new("RGB", (64, 48), colour(index)), "PNG")
        services.asset_attach_image(asset=asset, file=make.upload(content, "a.png"))
    return manifest


def open_sheet(manifest: Manifest) -> Image.Image:
    manifest = Manifest.all_objects.get(pk=manifest.pk)
    with manifest.contact_sheet.open("rb") as file:
        image = Image.open(io.BytesIO(file.read()))
        image.load()
    return image


def ink_in(image: Image.Image, box) -> bool:
    """Whether the area holds dark text pixels (not only the blank cell background)."""
    darkest, _ = image.crop(box).convert("L").getextrema()
    return darkest < 100


@pytest.mark.parametrize(
    ("count", "grid", "size"),
    [(1, (1, 1), (720, 428)), (7, (3, 3), (848, 1124)), (60, (8, 8), (2208, 2864))],
)
def test_contact_sheet_lays_out_every_asset_with_a_legible_label(
    make_manifest, make_asset, count, grid, size
):
    manifest = manifest_with_images(make_manifest, make_asset, count)

    services.manifest_render_contact_sheet(manifest=manifest)

    sheet = open_sheet(manifest)
    layout = SheetLayout(count)
    assert (sheet.format, sheet.size) == ("PNG", size)
    assert (layout.columns, layout.rows) == grid
    assert ink_in(sheet, (0, 0, sheet.width, layout.HEADER_HEIGHT))  # the manifest's name
    for index in range(count):
        left, top, right, bottom = layout.label_box(index)
        tag_area = (left, top, right, top + (bottom - top) // 2)
        name_area = (left, top + (bottom - top) // 2, right, bottom)
        assert ink_in(sheet, tag_area), f"tag label of cell {index} is blank"
        assert ink_in(sheet, name_area), f"name label of cell {index} is blank"
        image_left, image_top, image_right, image_bottom = layout.image_box(index)
        centre = ((image_left + image_right) // 2, (image_top + image_bottom) // 2)
        assert sheet.getpixel(centre) == pytest.approx(colour(index), abs=6), index


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_contact_sheet_layout_is_stable_up_to_200_assets():
    previous_height = 0
    for count in range(1, 201):
        layout = SheetLayout(count)
        width, height = layout.size
        for left, top, right, bottom in map(layout.cell_box, range(count)):
            assert left >= 0 and top >= layout.HEADER_HEIGHT
            assert right <= width and bottom <= height
        assert height >= previous_height  # adding an asset never shrinks the sheet
        previous_height = height
    boxes = [SheetLayout(200).cell_box(index) for index in range(200)]
    assert not any(overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert SheetLayout(200).size == (4112, 4952)  # 15 columns, 14 rows of 256 px cells


def test_contact_sheet_endpoint_returns_the_manifest_with_the_sheet(
    api, make_manifest, make_asset, media_root
):
    manifest = manifest_with_images(make_manifest, make_asset, 2)
    make_asset(manifest, "Without image")
    version = Manifest.objects.get(pk=manifest.pk).version

    response = api.post(f"/api/manifests/{manifest.pk}/contact-sheet")

    assert response.status_code == 200, response.data
    body = response.json()
    assert body["id"] == str(manifest.pk) and len(body["assets"]) == 3
    prefix = f"manifests/{manifest.pk}/contact_sheets/"
    assert file_name_of(body["contact_sheet_url"]).startswith(prefix)
    assert body["version"] == version  # a derived file is not a new version
    content_type, content = fetch(api, body["contact_sheet_url"])
    assert content_type == "image/png"
    sheet = Image.open(io.BytesIO(content))
    assert sheet.size == SheetLayout(2).size  # only the assets that have an image


def test_rendering_again_keeps_only_the_newest_sheet(
    api, make_manifest, make_asset, media_root, django_capture_on_commit_callbacks
):
    manifest = manifest_with_images(make_manifest, make_asset, 1)
    folder = f"manifests/{manifest.pk}/contact_sheets/"
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/api/manifests/{manifest.pk}/contact-sheet").json()
        second = api.post(f"/api/manifests/{manifest.pk}/contact-sheet/").json()

    assert second["contact_sheet_url"] != first["contact_sheet_url"]
    sheets = [f for f in stored_files(media_root) if f.startswith(folder)]
    assert sheets == [file_name_of(second["contact_sheet_url"])]


def test_contact_sheet_follows_the_sort_order(make_manifest, make_asset):
    manifest = manifest_with_images(make_manifest, make_asset, 3)
    last = manifest.assets.order_by("sort_order").last()
    services.asset_update(asset=last, sort_order=-1)

    services.manifest_render_contact_sheet(manifest=manifest)

    sheet, layout = open_sheet(manifest), SheetLayout(3)
    first_cell = layout.image_box(0)
    centre = ((first_cell[0] + first_cell[2]) // 2, (first_cell[1] + first_cell[3]) // 2)
    assert sheet.getpixel(centre) == pytest.approx(colour(2), abs=6)


def test_contact_sheet_without_any_image_is_refused(api, make_manifest, make_asset, media_root):
    manifest = make_manifest()
    make_asset(manifest)

    response = api.post(f"/api/manifests/{manifest.pk}/contact-sheet")

    assert response.status_code == 400
    assert "no asset with an image" in str(response.json())
    assert stored_files(media_root) == []


def test_contact_sheet_with_a_missing_thumbnail_file_still_renders(
    make_manifest, make_asset, media_root
):
    manifest = manifest_with_images(make_manifest, make_asset, 2)
    broken = manifest.assets.order_by("sort_order").first()
    broken.thumbnail.storage.delete(broken.thumbnail.name)

    services.manifest_render_contact_sheet(manifest=manifest)

    sheet, layout = open_sheet(manifest), SheetLayout(2)
    assert ink_in(sheet, layout.label_box(0))  # still labelled, with a cross for the image
    centre = layout.image_box(1)
    assert sheet.getpixel(((centre[0] + centre[2]) // 2, (centre[1] + centre[3]) // 2)) == (
        pytest.approx(colour(1), abs=6)
    )


def test_contact_sheet_of_deleted_manifest_is_not_found(api, make_manifest, make_asset):
    manifest = manifest_with_images(make_manifest, make_asset, 1)
    services.manifest_soft_delete(manifest=manifest)

    assert api.post(f"/api/manifests/{manifest.pk}/contact-sheet").status_code == 404


def test_readers_cannot_render_contact_sheets(reader_api, make_manifest, make_asset):
    manifest = manifest_with_images(make_manifest, make_asset, 1)

    assert reader_api.post(f"/api/manifests/{manifest.pk}/contact-sheet").status_code == 403
    assert not Manifest.objects.get(pk=manifest.pk).contact_sheet


def test_contact_sheet_costs_constant_queries(make_manifest, make_asset):
    small = manifest_with_images(make_manifest, make_asset, 2, name="Small")
    large = manifest_with_images(make_manifest, make_asset, 12, name="Large")

    # Read the manifest and its assets; lock, save points, store: whatever the size.
    with assert_num_queries(6):
        services.manifest_render_contact_sheet(manifest=small)
    with assert_num_queries(6):
        services.manifest_render_contact_sheet(manifest=large)


def test_a_change_during_the_render_renders_the_sheet_again(make_manifest, make_asset):
    """The sheet is rendered without the lock; if the manifest changed meanwhile, the
    stale render is dropped and the sheet made again from what the manifest now holds."""
    manifest = manifest_with_images(make_manifest, make_asset, 1)
    services.manifest_render_contact_sheet(manifest=manifest)
    one_asset = open_sheet(manifest)
    renders = []

    def add_an_asset_during_the_first_render():
        renders.append(1)
        if len(renders) == 1:
            late = make_asset(manifest, "Late", "CHARACTER")
            content = make.encode(Image.new("RGB", (64, 48), colour(1)), "PNG")
            services.asset_attach_image(asset=late, file=make.upload(content, "late.png"))

    result = services.manifest_render_contact_sheet(
        manifest=manifest, on_rendered=add_an_asset_during_the_first_render
    )

    assert len(renders) == 2
    stored = open_sheet(manifest)
    assert f"_v{result.version}_" in result.contact_sheet.name
    services.manifest_render_contact_sheet(manifest=manifest)  # a fresh one, of both assets
    assert stored.tobytes() == open_sheet(manifest).tobytes() != one_asset.tobytes()


def test_a_manifest_that_keeps_changing_gets_its_sheet_under_the_lock(make_manifest, make_asset):
    manifest = manifest_with_images(make_manifest, make_asset, 1)
    renders = []

    def change_every_time():
        renders.append(1)
        services.manifest_update(manifest=manifest, description=f"change {len(renders)}")

    result = services.manifest_render_contact_sheet(
        manifest=manifest, on_rendered=change_every_time
    )

    assert len(renders) == 2  # then one more render, under the lock
    current = Manifest.objects.get(pk=manifest.pk)
    assert current.contact_sheet.name == result.contact_sheet.name
    assert f"_v{current.version}_" in current.contact_sheet.name
