"""The manifest changelist: columns, the deletion, category, status and tag filters, search,
previews and its constant query count."""

import pytest
from django.urls import reverse

from manifests import services
from tests.admin_forms import (
    MANIFEST_CHANGELIST,
)
from tests.conftest import image_upload
from tests.queries import assert_same_query_count, count_queries

# --- changelist --------------------------------------------------------------------------


def test_changelist_shows_live_manifests_with_their_columns(admin_client, make_manifest):
    make_manifest("Heroes", category="CHARACTERS", tags=["hero"])
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)

    response = admin_client.get(MANIFEST_CHANGELIST)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Heroes" in page
    assert "Old set" not in page
    for header in ["Preview", "Category", "Status", "Asset count", "Times used", "Version"]:
        assert header in page
    assert [m.name for m in response.context["cl"].result_list] == ["Heroes"]


def test_deleted_view_lists_only_deleted_manifests_clearly_marked(admin_client, make_manifest):
    make_manifest("Heroes")
    gone = make_manifest("Old set")
    services.manifest_soft_delete(manifest=gone)

    deleted = admin_client.get(MANIFEST_CHANGELIST, {"deleted": "yes"})
    everything = admin_client.get(MANIFEST_CHANGELIST, {"deleted": "all"})

    assert [m.name for m in deleted.context["cl"].result_list] == ["Old set"]
    assert 'class="vidpipe-deleted"' in deleted.content.decode()
    assert {m.name for m in everything.context["cl"].result_list} == {"Heroes", "Old set"}


def test_changelist_filters_by_category_status_and_tag(admin_client, make_manifest):
    make_manifest("Heroes", category="CHARACTERS", tags=["hero", "night"])
    make_manifest("Forests", category="ENVIRONMENTS", tags=["day"])

    def names(**params):
        response = admin_client.get(MANIFEST_CHANGELIST, params)
        assert response.status_code == 200
        return sorted(m.name for m in response.context["cl"].result_list)

    assert names(category__exact="ENVIRONMENTS") == ["Forests"]
    assert names(status__exact="DRAFT") == ["Forests", "Heroes"]
    assert names(tag="night") == ["Heroes"]
    tag_choices = admin_client.get(MANIFEST_CHANGELIST).content.decode()
    assert "?tag=night" in tag_choices


def test_changelist_searches_name_description_and_tags(admin_client, make_manifest):
    make_manifest("Heroes", description="Brave knights")
    make_manifest("Forests", tags=["woodland"])

    def found(term):
        response = admin_client.get(MANIFEST_CHANGELIST, {"q": term})
        return [m.name for m in response.context["cl"].result_list]

    assert found("hero") == ["Heroes"]
    assert found("knights") == ["Heroes"]
    assert found("woodland") == ["Forests"]


def test_changelist_previews_the_first_asset_thumbnail(admin_client, make_manifest, make_asset):
    manifest = make_manifest()
    asset = make_asset(manifest)
    asset = services.asset_attach_image(asset=asset, file=image_upload("hero.png"))

    page = admin_client.get(MANIFEST_CHANGELIST).content.decode()

    assert asset.thumbnail.name.startswith(f"manifests/{manifest.pk}/thumbnails/{asset.pk}_")
    assert f'src="/media/{asset.thumbnail.name}?expires=' in page  # signed (vidpipe.media)


def test_changelist_costs_constant_queries(admin_client, make_manifest, make_asset):
    def build(count):
        for number in range(count):
            manifest = make_manifest(f"Set {number}", tags=["hero", f"t{number}"])
            asset = make_asset(manifest)
            services.asset_attach_image(asset=asset, file=image_upload("hero.png"))

    def cost():
        # warm the session and the content-type cache
        assert admin_client.get(MANIFEST_CHANGELIST).status_code == 200
        return count_queries(lambda: admin_client.get(MANIFEST_CHANGELIST))

    build(5)
    few = cost()
    build(45)
    many = cost()

    assert len(admin_client.get(MANIFEST_CHANGELIST).context["cl"].result_list) == 50
    assert_same_query_count(few, many)


@pytest.mark.parametrize("model", ["manifest", "asset", "project"])
def test_admin_search_takes_the_first_20_words(admin_client, make_manifest, model):
    make_manifest("a b")
    words = " ".join(["a"] * 1000)

    response = admin_client.get(reverse(f"admin:manifests_{model}_changelist"), {"q": words})

    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"]]
    assert shown == ["Searched for the first 20 of 1000 words only."]
