"""The asset inline a page at a time (`?assets_page=`): a manifest with more assets than a
page renders one page of rows, links to the others, and saves exactly the rows of the page
it was rendered with (submitted as a browser submits it: tests/admin_forms.py)."""

import pytest

from manifests import services
from manifests.admin.assets import AssetInline
from manifests.models import Asset, Manifest
from tests.admin_forms import (
    add_inline_row,
    assert_saved,
    form_of,
    image_file,
    inline_rows,
    manifest_url,
    save,
)
from tests.conftest import image_upload
from tests.queries import assert_same_query_count, count_queries

PER_PAGE = 5


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    monkeypatch.setattr(AssetInline, "per_page", PER_PAGE)


@pytest.fixture
def crowded(make_manifest, make_asset):
    """“Crowd”: twelve assets A00…A11 in that order (three pages of five, the last of two)."""
    manifest = make_manifest("Crowd")
    for number in range(12):
        make_asset(manifest, f"A{number:02}", sort_order=number * 10)
    return Manifest.objects.get(pk=manifest.pk)


def page_of(app, manifest, page: int | str | None = None, **kwargs):
    url = manifest_url(manifest)
    return app.get(url if page is None else f"{url}?assets_page={page}", **kwargs)


def row_names(page) -> list[str]:
    form = form_of(page)
    rows = inline_rows(form) - 1  # the blank extra row
    return [form[f"assets-{row}-name"].value for row in range(rows)]


def names_in_order(manifest) -> list[str]:
    return list(Asset.objects.filter(manifest=manifest).ordered().values_list("name", flat=True))


def test_the_inline_shows_one_page_of_assets_in_order(curator, crowded):
    assert row_names(page_of(curator, crowded)) == ["A00", "A01", "A02", "A03", "A04"]
    assert row_names(page_of(curator, crowded, 2)) == ["A05", "A06", "A07", "A08", "A09"]
    assert row_names(page_of(curator, crowded, 3)) == ["A10", "A11"]


def test_the_inline_links_to_the_other_pages_and_the_asset_list(curator, crowded):
    nav = page_of(curator, crowded, 2).html.select_one("nav.vidpipe-asset-pages")

    assert "Assets 6\N{EN DASH}10 of 12" in nav.get_text(" ", strip=True)
    links = {a.get_text(strip=True): a["href"] for a in nav.select("a")}
    assert links["previous"] == "?assets_page=1"
    assert links["next"] == "?assets_page=3"
    assert links["3"] == "?assets_page=3"
    assert links["all of them in the asset list"].endswith(
        f"/admin/manifests/asset/?manifest__id__exact={crowded.pk}"
    )
    listed = curator.get(links["all of them in the asset list"])
    assert len(listed.context["cl"].result_list) == 12


def test_a_manifest_that_fits_on_one_page_has_no_page_links(curator, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)

    assert page_of(curator, manifest).html.select_one("nav.vidpipe-asset-pages") is None


def test_a_page_past_the_last_shows_the_last(curator, crowded):
    assert row_names(page_of(curator, crowded, 99)) == ["A10", "A11"]


def test_a_blank_page_is_the_first(curator, crowded):
    assert row_names(page_of(curator, crowded, ""))[0] == "A00"


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_page_that_is_not_a_number_from_1_is_a_400_naming_the_parameter(
    admin_client, crowded, value
):
    response = admin_client.get(manifest_url(crowded), {"assets_page": value})

    assert response.status_code == 400
    assert b"assets_page" in response.content


def test_saving_page_two_as_rendered_edits_adds_and_keeps_every_other_page(curator, crowded):
    version = crowded.version
    page = page_of(curator, crowded, 2)
    assert inline_rows(form_of(page)) == PER_PAGE + 1  # the page's rows and the blank one

    response = save(
        page,
        **{
            "assets-1-name": "A06 edited",
            "assets-5-name": "Newcomer",
            "assets-5-asset_type": "OBJECT",
        },
    )

    assert_saved(response, then=["was changed successfully"])
    expected = [f"A{n:02}" for n in range(12)]
    expected[6] = "A06 edited"
    assert names_in_order(crowded) == [*expected, "Newcomer"]
    manifest = Manifest.objects.get(pk=crowded.pk)
    assert manifest.asset_count == 13
    assert manifest.version == version + 2  # one asset changed, one added: nothing else


def test_deleting_a_row_of_page_two_deletes_that_asset_only(curator, crowded):
    form = form_of(page_of(curator, crowded, 2))
    form["assets-0-DELETE"] = True

    assert_saved(form.submit("_save"))

    assert names_in_order(crowded) == [f"A{n:02}" for n in range(12) if n != 5]


def test_add_another_on_the_last_page_adds_after_the_last_asset(curator, crowded):
    form = form_of(page_of(curator, crowded, 3))
    form["assets-2-name"] = "First new"
    form["assets-2-asset_type"] = "STYLE"
    row = add_inline_row(form)
    form[f"assets-{row}-name"] = "Second new"
    form[f"assets-{row}-asset_type"] = "STYLE"
    form[f"assets-{row}-image"] = image_file("second.png")

    assert_saved(form.submit("_save"))

    assert names_in_order(crowded)[-3:] == ["A11", "First new", "Second new"]
    assert Asset.objects.get(name="Second new").image_format == "PNG"


def test_a_page_saved_after_the_pages_shifted_is_refused_not_applied_to_other_rows(
    curator, crowded, make_asset
):
    page = page_of(curator, crowded, 2)
    # Meanwhile someone adds two assets before every other: page 2 now starts at A03.
    make_asset(crowded, "Early 1", sort_order=-2)
    make_asset(crowded, "Early 2", sort_order=-1)

    response = save(page, **{"assets-0-name": "A05 edited"})

    assert response.status_code == 200
    assert "changed by someone else" in response.text
    assert names_in_order(crowded) == ["Early 1", "Early 2", *(f"A{n:02}" for n in range(12))]


def test_save_and_continue_returns_to_the_same_page_of_assets(curator, crowded):
    response = save(page_of(curator, crowded, 2), "_continue", **{"assets-0-name": "A05 b"})

    assert response.status_code == 302
    assert "assets_page=2" in response.location
    assert row_names(response.follow())[0] == "A05 b"


def test_a_deleted_manifest_shows_its_assets_a_page_at_a_time_read_only(curator, crowded):
    services.manifest_soft_delete(manifest=crowded)

    page = page_of(curator, crowded, 3)

    text = page.html.select_one("#assets-group").get_text(" ", strip=True)
    assert "A10" in text and "A11" in text and "A09" not in text
    nav = page.html.select_one("nav.vidpipe-asset-pages")
    assert "Assets 11\N{EN DASH}12 of 12" in nav.get_text(" ", strip=True)
    assert "asset list" not in nav.get_text()  # the asset list hides deleted manifests


def test_a_page_of_assets_costs_the_same_queries_whatever_the_manifest_size(
    admin_client, make_manifest, make_asset
):
    def build(manifest, count):
        for number in range(count):
            asset = make_asset(manifest, f"Hero {number}")
            if number % 2:  # thumbnails on half the rows: they must not cost a query each
                services.asset_attach_image(asset=asset, file=image_upload("hero.png"))
        return Manifest.objects.get(pk=manifest.pk)

    def cost(manifest):
        url = f"{manifest_url(manifest)}?assets_page=2"
        assert admin_client.get(url).status_code == 200
        return count_queries(lambda: admin_client.get(url))

    small = build(make_manifest("Small"), PER_PAGE + 3)
    large = build(make_manifest("Large"), PER_PAGE * 6)

    assert_same_query_count(cost(small), cost(large))
