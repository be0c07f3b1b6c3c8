"""The admin as the library grows: every list and page costs the same number of queries
whatever the number of rows, and no form lists every manifest or asset in a select (raw-id
or autocomplete widgets instead)."""

import pytest
from bs4 import BeautifulSoup  # WebTest's own parser
from django.urls import reverse

from manifests import services
from manifests.admin.assets import AssetInline
from manifests.models import (
    Asset,
    DeliveryAttempt,
    Manifest,
    Project,
    WebhookDelivery,
)
from tests.conftest import image_upload
from tests.queries import count_queries


@pytest.fixture(autouse=True)
def _counted_every_view(settings):
    # The tag filter's counts are cached; here every view counts, so that the measured
    # changelists include the counting query at both sizes.
    settings.VIDPIPE_ADMIN_TAG_COUNTS_SECONDS = 0
    # Exact counts at both sizes: these tests look for queries that grow with the rows. (Past
    # a page an estimated count adds one EXPLAIN, the same at any size: test_pagination.py.)
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 1000
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = True


def admin_url(model: str, page: str = "changelist", *args) -> str:
    return reverse(f"admin:manifests_{model}_{page}", args=args)


def response_html(response) -> BeautifulSoup:
    return BeautifulSoup(response.content, "html.parser")


# --- no N+1: the same queries at two sizes ---------------------------------------------------


def grow(start: int, count: int) -> None:
    """`count` more of everything the admin lists: manifests (every third deleted) with an
    asset (every other one with an image), projects, a subscription whose deliveries have
    attempts, and the events all of it writes."""
    subscription, _ = services.webhook_create(url=f"http://127.0.0.1:9/hook{start}")
    for number in range(start, start + count):
        manifest = services.manifest_create(name=f"Set {number}", tags=["hero", f"t{number}"])
        asset = services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")
        if number % 2:
            services.asset_attach_image(asset=asset, file=image_upload("hero.png"))
        if number % 3 == 0:
            services.manifest_soft_delete(manifest=manifest)
        else:
            services.project_create(name=f"Film {number}", manifest=manifest)
    for delivery in WebhookDelivery.objects.filter(subscription=subscription):
        DeliveryAttempt.objects.create(
            delivery=delivery, number=1, attempted_at=delivery.created_at, status_code=500
        )


def grow_one_of_each(manifest: Manifest, delivery: WebhookDelivery, count: int) -> None:
    """`count` more assets on `manifest` (half with images) and attempts on `delivery`."""
    start = Asset.all_objects.filter(manifest=manifest).count()
    for number in range(start, start + count):
        asset = services.asset_create(manifest=manifest, name=f"Extra {number}", asset_type="STYLE")
        if number % 2:
            services.asset_attach_image(asset=asset, file=image_upload("extra.png"))
    for number in range(count):
        DeliveryAttempt.objects.create(
            delivery=delivery, number=number + 2, attempted_at=delivery.created_at
        )


def pages(manifest: Manifest, delivery: WebhookDelivery) -> dict[str, str]:
    """Every list of the admin (with its filters) and every change page, by name."""
    project = Project.objects.filter(manifest=manifest).get()
    asset = Asset.objects.filter(manifest=manifest).ordered().first()
    subscription = delivery.subscription
    return {
        "manifests": admin_url("manifest"),
        "manifests, deleted": admin_url("manifest") + "?deleted=yes",
        "manifests, all": admin_url("manifest") + "?deleted=all",
        "manifests, a tag": admin_url("manifest") + "?tag=hero",
        "manifests, category and status": admin_url("manifest")
        + "?category__exact=CHARACTERS&status__exact=DRAFT",
        "assets": admin_url("asset"),
        "assets, a type": admin_url("asset") + "?asset_type__exact=CHARACTER",
        "assets of a manifest": admin_url("asset") + f"?manifest__id__exact={manifest.pk}",
        "projects": admin_url("project"),
        "subscriptions": admin_url("webhooksubscription"),
        "deliveries": admin_url("webhookdelivery"),
        "deliveries, a subscription": admin_url("webhookdelivery")
        + f"?subscription__id__exact={subscription.pk}",
        "events": admin_url("event"),
        "manifest page": admin_url("manifest", "change", manifest.pk),
        "manifest, page 2 of assets": admin_url("manifest", "change", manifest.pk)
        + "?assets_page=2",
        "asset page": admin_url("asset", "change", asset.pk),
        "project page": admin_url("project", "change", project.pk),
        "subscription page": admin_url("webhooksubscription", "change", subscription.pk),
        "delivery page": admin_url("webhookdelivery", "change", delivery.pk),
    }


def costs(client, urls: dict[str, str]) -> dict[str, int]:
    def cost(url):
        assert client.get(url).status_code == 200, url  # warm sessions and caches
        return count_queries(lambda: client.get(url)).count

    return {name: cost(url) for name, url in urls.items()}


def test_every_admin_list_and_page_costs_the_same_queries_at_two_sizes(
    admin_client, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(AssetInline, "per_page", 5)
    grow(0, 4)
    manifest = Manifest.objects.get(name="Set 1")
    delivery = WebhookDelivery.objects.order_by("created_at").first()
    grow_one_of_each(manifest, delivery, 2)
    urls = pages(manifest, delivery)
    few = costs(admin_client, urls)

    grow(4, 16)  # 20 of each
    grow_one_of_each(manifest, delivery, 10)  # 13 assets: pages 1 and 2 full
    many = costs(admin_client, urls)

    assert many == few
    for name, url in urls.items():
        with django_assert_max_num_queries(few[name]):
            assert admin_client.get(url).status_code == 200, name


# --- no select that lists every manifest or asset -------------------------------------------


@pytest.fixture
def library(make_manifest, make_asset):
    """300 manifests, one with an asset and a project."""
    Manifest.all_objects.bulk_create(Manifest(name=f"Bulk {n:03}") for n in range(299))
    manifest = make_manifest("Linked")
    make_asset(manifest, "Hero")
    services.project_create(name="Film", manifest=manifest)
    return manifest


def test_no_form_lists_every_manifest_or_asset(admin_client, library):
    asset = Asset.objects.get()
    project = Project.objects.get()
    subscription, _ = services.webhook_create(url="http://127.0.0.1:9/hook")
    manifest_ids = {str(pk) for pk in Manifest.all_objects.values_list("pk", flat=True)}
    asset_ids = {str(asset.pk)}
    forms = [
        admin_url("manifest", "add"),
        admin_url("manifest", "change", library.pk),
        admin_url("asset", "add"),
        admin_url("asset", "change", asset.pk),
        admin_url("project", "add"),
        admin_url("project", "change", project.pk),
        admin_url("webhooksubscription", "add"),
        admin_url("webhooksubscription", "change", subscription.pk),
    ]

    for url in forms:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        options = {option.get("value") for option in response_html(response).select("option")}
        # An autocomplete renders the one option it holds; a select would hold 300.
        assert len(options & manifest_ids) <= 1, url
        assert not options & asset_ids, url
        assert len(options) < 40, url


def test_the_duplicate_action_page_lists_only_the_selected_manifests(admin_client, library):
    response = admin_client.post(
        admin_url("manifest"),
        {"action": "duplicate_selected", "_selected_action": [str(library.pk)]},
    )

    assert response.status_code == 200
    assert len(response_html(response).select("option")) == 0
    assert response.content.decode().count("Bulk ") == 0


def test_the_upgrade_action_page_does_not_list_every_manifest(admin_client, library):
    project = Project.objects.get()
    response = admin_client.post(
        admin_url("project"),
        {"action": "upgrade_selected", "_selected_action": [str(project.pk)]},
    )

    assert response.status_code in (200, 302)
    assert response.content.decode().count("Bulk ") == 0
