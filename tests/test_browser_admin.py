"""A curator's session in a real browser: headless Chromium (the system's own, never a
download) driven by Playwright against a live server.

It takes the screenshots the README shows: into a temporary folder in a normal run, into
docs/screenshots/ only when asked (`make screenshots` sets VIDPIPE_SCREENSHOTS_DIR), so
running the suite never rewrites committed files.
"""

import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from PIL import Image, ImageDraw

from manifests import services
from manifests.models import Asset, Manifest

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a-long-curator-password"

# Skipped without Chromium, except when screenshots were asked for (`make screenshots`):
# then a missing browser must fail, not leave stale screenshots behind a green run.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("VIDPIPE_SCREENSHOTS_DIR"),
    reason="Chromium is not installed (.ci/run installs it)",
)


def portrait(color: str, accent: str) -> bytes:
    """A small PNG that reads as a character card in the screenshots."""
    image = Image.new("RGB", (240, 320), color)
    draw = ImageDraw.Draw(image)
    draw.ellipse((70, 40, 170, 140), fill=accent)
    draw.rounded_rectangle((50, 150, 190, 300), radius=30, fill=accent)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_file(name: str, color: str, accent: str) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": portrait(color, accent)}


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; the test's own ORM calls
    # are plain synchronous ones, which Django would otherwise refuse next to that loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield browser
        browser.close()
        # Next to Playwright's loop, Django hands this thread its own connection: close it,
        # or the test database cannot be dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where this run's screenshots go: VIDPIPE_SCREENSHOTS_DIR (relative to the repository)
    when set, else a temporary folder."""
    chosen = os.environ.get("VIDPIPE_SCREENSHOTS_DIR")
    folder = Path(settings.BASE_DIR) / chosen if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, live_server, transactional_db):
    get_user_model().objects.create_superuser("curator", "curator@example.com", PASSWORD)
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Console errors too: a missing favicon or stylesheet is one on every page.
    page.on(
        "console", lambda msg: msg.type == "error" and errors.append(f"{msg.text} {msg.location}")
    )
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "curator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Curation")
    # The admin's own stylesheets are served: the screenshots show the real thing.
    header = page.eval_on_selector("#header", "el => getComputedStyle(el).backgroundColor")
    assert header not in ("", "rgba(0, 0, 0, 0)")
    yield page
    page.close()
    assert errors == [], "errors in the browser console on the admin pages"


def seed_other_manifests():
    """Two more manifests, so the changelist screenshot looks like a working library."""
    forests = services.manifest_create(
        name="Forest environments", category="ENVIRONMENTS", tags=["day", "outdoor"]
    )
    clearing = services.asset_create(manifest=forests, name="Clearing", asset_type="ENVIRONMENT")
    services.asset_attach_image(
        asset=clearing, file=io.BytesIO(portrait("#2e5e3a", "#9ccc65")), filename="clearing.png"
    )
    services.manifest_create(name="Noir style", category="STYLES", tags=["night"])


def images_loaded(page, selector: str) -> list[bool]:
    """Whether each image decoded, once the browser is done loading them all (on a busy
    machine they may still be arriving when the page's text is already there)."""
    page.wait_for_function(
        "selector => [...document.querySelectorAll(selector)].every(img => img.complete)",
        arg=selector,
    )
    return page.eval_on_selector_all(
        selector, "imgs => imgs.map(img => img.complete && img.naturalWidth > 0)"
    )


def test_curator_builds_duplicates_deletes_and_restores_a_manifest(page, live_server, screenshots):
    seed_other_manifests()

    # Create a manifest with two characters, images uploaded through the inline.
    page.goto(f"{live_server.url}/admin/manifests/manifest/add/")
    page.fill("#id_name", "Hero Characters")
    page.select_option("#id_category", "CHARACTERS")
    page.fill("#id_tags", "hero, night")
    page.fill("#id_assets-0-name", "Hero")
    page.select_option("#id_assets-0-asset_type", "CHARACTER")
    page.set_input_files("#id_assets-0-image", png_file("hero.png", "#1e3a5f", "#f4b942"))
    page.click("text=Add another Asset")
    page.fill("#id_assets-1-name", "Sidekick")
    page.select_option("#id_assets-1-asset_type", "CHARACTER")
    page.fill("#id_assets-1-user_tags", "small, loyal")
    page.set_input_files("#id_assets-1-image", png_file("sidekick.png", "#5f1e3a", "#7fd1b9"))
    page.click("input[name=_continue]")

    page.wait_for_selector("text=was added successfully")
    inline = page.locator("#assets-group")
    assert inline.locator("td.field-manifest_tag").all_inner_texts()[:2] == ["CHAR_01", "CHAR_02"]
    assert images_loaded(page, "#assets-group img.vidpipe-preview") == [True, True]
    manifest = Manifest.objects.get(name="Hero Characters")
    assert (manifest.asset_count, manifest.version) == (2, 5)
    page.screenshot(path=str(screenshots / "manifest-change-form.png"), full_page=True)

    # Duplicate it under a new name, from the change form.
    page.click(".object-tools >> text=Duplicate")
    page.fill(f"#id_name_{manifest.pk}", "Hero Characters, night shoot")
    page.click("#duplicate-form input[type=submit]")
    page.wait_for_selector("text=a copy of “Hero Characters” with its 2 assets")
    copy = Manifest.objects.get(name="Hero Characters, night shoot")
    assert copy.parent_manifest_id == manifest.pk
    assert sorted(Asset.objects.filter(manifest=copy).values_list("manifest_tag", flat=True)) == [
        "CHAR_01",
        "CHAR_02",
    ]
    assert images_loaded(page, "#assets-group img.vidpipe-preview") == [True, True]

    # Soft-delete the original from the changelist, then restore it from its page.
    page.goto(f"{live_server.url}/admin/manifests/manifest/")
    page.check(f"input[name=_selected_action][value='{manifest.pk}']")
    page.select_option("select[name=action]", "soft_delete_selected")
    page.click("button[name=index]")
    page.wait_for_selector("text=Deleted 1 manifest(s)")
    assert Manifest.deleted_objects.filter(pk=manifest.pk).exists()

    page.click("#changelist-filter >> text=Deleted")
    page.click("#result_list >> text=Hero Characters")
    page.wait_for_selector("text=This manifest was deleted")
    page.screenshot(path=str(screenshots / "manifest-deleted.png"), full_page=True)
    page.click("input[name=_restore]")
    page.wait_for_selector("text=Restored “Hero Characters”")
    assert Manifest.objects.filter(pk=manifest.pk).exists()

    page.goto(f"{live_server.url}/admin/manifests/manifest/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 4
    assert all(images_loaded(page, "#result_list img.vidpipe-preview"))
    page.screenshot(path=str(screenshots / "manifest-changelist.png"), full_page=True)


def test_curator_edits_a_manifest_without_filling_every_row(page, live_server):
    """The page as rendered, blank extra row and all, saves: a description alone, then a new
    asset typed into the blank row, then one ticked for deletion."""
    manifest = services.manifest_create(name="Villains", category="CHARACTERS")
    for name in ["Count", "Henchman"]:
        services.asset_create(manifest=manifest, name=name, asset_type="CHARACTER")
    change = f"{live_server.url}/admin/manifests/manifest/{manifest.pk}/change/"

    page.goto(change)
    page.fill("#id_description", "The people our heroes fight.")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    assert Manifest.objects.get(pk=manifest.pk).description == "The people our heroes fight."

    page.fill("#id_assets-2-name", "Spy")
    page.select_option("#id_assets-2-asset_type", "CHARACTER")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    tags = page.locator("#assets-group td.field-manifest_tag").all_inner_texts()
    assert [tag.strip() for tag in tags][:3] == ["CHAR_01", "CHAR_02", "CHAR_03"]

    page.check("#id_assets-1-DELETE")
    page.click("input[name=_continue]")
    page.wait_for_selector("text=was changed successfully")
    names = page.locator("#assets-group td.field-name input").evaluate_all(
        "inputs => inputs.map(input => input.value)"
    )
    assert names[:2] == ["Count", "Spy"]
    assert "Henchman" not in names
    manifest.refresh_from_db()
    assert (manifest.asset_count, manifest.version) == (2, 6)


def test_duplicate_page_buttons_line_up_as_on_djangos_confirmation_pages(
    page, live_server, tmp_path
):
    manifest = services.manifest_create(name="Villains")
    pages = f"{live_server.url}/admin/manifests/manifest/{manifest.pk}"

    def buttons(url: str, screenshot: str) -> tuple[dict, dict, dict]:
        """The submit button's box, the cancel link's box and that of the link's text."""
        page.goto(url)
        page.screenshot(path=str(tmp_path / screenshot))
        form = page.locator("#content form")
        cancel = form.locator(".cancel-link")
        text = cancel.evaluate(
            """link => {
                const range = document.createRange();
                range.selectNodeContents(link);
                const {x, y, width, height} = range.getBoundingClientRect();
                return {x, y, width, height};
            }"""
        )
        return form.locator("input[type=submit]").bounding_box(), cancel.bounding_box(), text

    django_submit, django_cancel, _ = buttons(f"{pages}/delete/", "delete.png")
    submit, cancel, cancel_text = buttons(f"{pages}/duplicate/", "duplicate.png")

    def middle(box: dict) -> float:
        return box["y"] + box["height"] / 2

    def gap(left: dict, right: dict) -> float:
        return right["x"] - (left["x"] + left["width"])

    assert middle(cancel) == pytest.approx(middle(submit), abs=1)
    assert middle(cancel_text) == pytest.approx(middle(submit), abs=1)
    assert cancel["height"] == pytest.approx(submit["height"], abs=1)
    # As Django's delete confirmation shows the same pair of buttons.
    assert cancel["height"] == pytest.approx(django_cancel["height"], abs=1)
    assert submit["height"] == pytest.approx(django_submit["height"], abs=1)
    assert gap(submit, cancel) == pytest.approx(gap(django_submit, django_cancel), abs=1)


def test_curator_drops_several_images_on_the_manifest_page(page, live_server, screenshots):
    manifest = services.manifest_create(name="Street cast", category="CHARACTERS")
    services.asset_create(manifest=manifest, name="Courier", asset_type="CHARACTER")
    page.goto(f"{live_server.url}/admin/manifests/manifest/{manifest.pk}/change/")
    assert page.locator("#bulk-drop-zone").inner_text().startswith("Drop images here")
    assert page.locator("#bulk-upload-submit").is_hidden()  # the script uploads on choice

    # Three images and a file that is not one: each line says what became of it.
    page.select_option("#id_bulk_asset_type", "CHARACTER")
    page.set_input_files(
        "#id_bulk_files",
        [
            png_file("street_vendor.png", "#3a5f1e", "#f4b942"),
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"},
            png_file("night_guard.png", "#1e1e3a", "#7fd1b9"),
            png_file("cyclist.png", "#5f3a1e", "#e0e0e0"),
        ],
    )
    page.wait_for_selector("#bulk-reload")
    lines = page.locator("#bulk-results li").all_inner_texts()
    assert lines == [
        "street_vendor.png: added as CHAR_02 “street vendor”",
        "notes.txt: not added: The file is not an image we can read; accepted: JPEG, PNG, "
        "WEBP, GIF.",
        "night_guard.png: added as CHAR_03 “night guard”",
        "cyclist.png: added as CHAR_04 “cyclist”",
    ]
    assert page.locator("#bulk-summary").inner_text().startswith("Added 3, refused 1.")
    page.locator("#bulk-upload").screenshot(path=str(screenshots / "manifest-bulk-upload.png"))

    page.click("#bulk-reload")
    page.wait_for_selector("text=Added 3 assets from images")
    tags = page.locator("#assets-group td.field-manifest_tag").all_inner_texts()
    assert [tag.strip() for tag in tags][:4] == ["CHAR_01", "CHAR_02", "CHAR_03", "CHAR_04"]
    assert images_loaded(page, "#assets-group img.vidpipe-preview") == [True, True, True]
    manifest.refresh_from_db()
    assert (manifest.asset_count, manifest.version) == (4, 3)

    # Every file accepted: the page reloads by itself and shows them.
    page.set_input_files(
        "#id_bulk_files",
        [
            png_file("hero_front.png", "#1e3a5f", "#f4b942"),
            png_file("hero_back.png", "#1e3a5f", "#aaa"),
        ],
    )
    page.wait_for_selector("text=Added 2 assets from images")
    assert images_loaded(page, "#assets-group img.vidpipe-preview") == [True] * 5
    assert Asset.objects.filter(manifest=manifest).count() == 6
