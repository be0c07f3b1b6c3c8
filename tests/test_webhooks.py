"""Webhook subscriptions: the API (staff only, the secret shown once, refusals with a
reason) and the admin (secret once, send test event, redeliver, why one was switched off)."""

import importlib

import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from manifests import services
from manifests.models import (
    DeliveryAttempt,
    EventCounter,
    WebhookDelivery,
    WebhookSubscription,
)
from manifests.outbound import TargetRefused, check_url
from tests.admin_forms import assert_saved, form_with_button, messages_on, save
from tests.queries import assert_num_queries, count_queries
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/webhooks"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = True


# --- API --------------------------------------------------------------------------------------


def test_creating_a_subscription_shows_its_secret_once(api):
    response = api.post(
        WEBHOOKS,
        {"url": "http://127.0.0.1:9/hook", "event_types": ["asset.created", "asset.created"]},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["asset.created"]
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == body["secret"]
    assert "secret" not in api.get(f"{WEBHOOKS}/{subscription.pk}").json()
    assert "secret" not in api.get(WEBHOOKS).json()["results"][0]
    assert body["secret"] not in api.get(WEBHOOKS).content.decode()


def test_rotating_the_secret_shows_the_new_one_once(api):
    subscription, old = services.webhook_create(url="http://127.0.0.1:9/hook")

    response = api.post(f"{WEBHOOKS}/{subscription.pk}/rotate-secret")

    assert response.status_code == 200
    new = response.json()["secret"]
    assert new != old and new.startswith("whsec_")
    subscription.refresh_from_db()
    assert subscription.secret == new


def test_switching_a_subscription_back_on_forgets_why_it_was_off(api):
    subscription, _ = services.webhook_create(url="http://127.0.0.1:9/hook")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, disabled_reason="The target answered 410 Gone"
    )

    response = api.patch(f"{WEBHOOKS}/{subscription.pk}", {"active": True})

    assert response.status_code == 200
    assert response.json()["disabled_reason"] == ""
    assert response.json()["active"] is True


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.5/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://100.100.100.200/", "metadata"),
        ("http://0.0.0.0/", "not a public address"),
        ("http://[::ffff:10.1.2.3]/", "private"),
        ("ftp://example.com/hook", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("http://user:pw@example.com/", "credentials"),
        ("http:///nohost", "no host"),
        ("http://exa mple.com/", "spaces"),
        ("https://" + "a" * 2000 + ".com/", "longer than"),
        ("not a url", "spaces"),
        ("example.com/hook", "Only http and https"),
    ],
)
def test_refused_targets_get_400_with_the_reason(api, url, reason):
    response = api.post(WEBHOOKS, {"url": url})

    assert response.status_code == 400
    assert reason in str(response.json()["url"])
    assert not WebhookSubscription.objects.exists()


def test_loopback_is_refused_unless_the_setting_allows_it(api, settings):
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = False

    for url in ["http://127.0.0.1:8000/hook", "http://[::1]/hook", "http://localhost/hook"]:
        response = api.post(WEBHOOKS, {"url": url})
        assert response.status_code == 400, url
        assert "loopback" in str(response.json()["url"])


def test_a_host_that_resolves_to_a_private_address_is_refused(settings):
    # localhost resolves (from /etc/hosts, no DNS needed) to loopback: refused by address.
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = False
    with pytest.raises(TargetRefused, match=r"localhost resolves to .+, a loopback address"):
        check_url("http://localhost:8000/hook")


@pytest.mark.parametrize(
    ("event_types", "reason"),
    [
        (["asset.exploded"], "Unknown event type"),
        (["asset.created"] * 50, "At most"),
        (["manifest.created"] * 15 + ["asset.created"], "At most"),
        ("asset.created", "list"),
    ],
)
def test_bad_or_oversized_event_filters_get_400_with_the_reason(api, event_types, reason):
    response = api.post(WEBHOOKS, {"url": "http://127.0.0.1:9/", "event_types": event_types})

    assert response.status_code == 400
    assert reason in str(response.json()["event_types"])


def test_webhooks_are_for_staff_only(reader_api, anon_api):
    assert reader_api.get(WEBHOOKS).status_code == 403
    assert reader_api.post(WEBHOOKS, {"url": "http://127.0.0.1:9/"}).status_code == 403
    assert anon_api.get(WEBHOOKS).status_code == 401


def test_the_api_lists_deliveries_with_their_attempts(api, make_manifest, settings):
    settings.VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS = 0
    with receiver(lambda n, r: 500 if n == 0 else 200) as target:
        subscription, _ = services.webhook_create(url=target.url)
        make_manifest("Listed")
        delivery = WebhookDelivery.objects.get()
        services.webhook_attempt(delivery_id=str(delivery.pk))
        services.webhook_attempt(delivery_id=str(delivery.pk))

    body = api.get(f"{WEBHOOKS}/{subscription.pk}/deliveries").json()

    (listed,) = body["results"]
    assert listed["status"] == "SUCCEEDED"
    assert [a["status_code"] for a in listed["attempt_log"]] == [500, 200]
    assert listed["attempt_log"][0]["response_excerpt"].startswith("answer 0: 500")


def test_the_api_queues_a_test_event(api):
    subscription, _ = services.webhook_create(url="http://127.0.0.1:9/hook")

    response = api.post(f"{WEBHOOKS}/{subscription.pk}/test")

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.event is None
    assert '"type":"webhook.test"' in delivery.body


# --- Admin ------------------------------------------------------------------------------------


def test_adding_a_subscription_in_the_admin_shows_the_secret_once(curator):
    page = curator.get(reverse("admin:manifests_webhooksubscription_add"))
    form = page.forms["webhooksubscription_form"]
    form["url"] = "http://127.0.0.1:9/hook"
    form["event_types"] = ["asset.created", "manifest.status_changed"]
    response = form.submit("_save")

    assert response.status_code == 302
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["asset.created", "manifest.status_changed"]
    shown = response.follow()
    assert any(subscription.secret in m for m in messages_on(shown)), messages_on(shown)
    again = curator.get(
        reverse("admin:manifests_webhooksubscription_change", args=[subscription.pk])
    )
    assert subscription.secret not in again.text


def test_the_admin_refuses_an_internal_target_on_the_field(curator, settings):
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = False
    page = curator.get(reverse("admin:manifests_webhooksubscription_add"))
    form = page.forms["webhooksubscription_form"]
    form["url"] = "http://127.0.0.1:9/hook"
    response = form.submit("_save")

    assert response.status_code == 200
    assert "loopback address" in response.text
    assert not WebhookSubscription.objects.exists()


def test_the_admin_shows_why_a_subscription_was_switched_off(curator):
    subscription, _ = services.webhook_create(url="http://127.0.0.1:9/hook")
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        active=False, disabled_reason="8 attempts to deliver msg_x failed (HTTP 500)."
    )

    page = curator.get(
        reverse("admin:manifests_webhooksubscription_change", args=[subscription.pk])
    )

    assert "Switched off by delivery: 8 attempts to deliver msg_x failed" in page.text
    assert_saved(save(page, active=True))
    subscription.refresh_from_db()
    assert subscription.active and subscription.disabled_reason == ""


def test_send_test_event_and_rotate_secret_buttons(curator):
    subscription, old = services.webhook_create(url="http://127.0.0.1:9/hook")
    url = reverse("admin:manifests_webhooksubscription_change", args=[subscription.pk])

    sent = form_with_button(curator.get(url), "Send test event").submit().follow()
    assert any("Test event queued" in m for m in messages_on(sent))
    assert WebhookDelivery.objects.get().event is None

    rotated = form_with_button(curator.get(url), "Rotate secret").submit().follow()
    subscription.refresh_from_db()
    assert subscription.secret != old
    assert any(subscription.secret in m for m in messages_on(rotated))


def test_redeliver_action_queues_the_same_delivery_again(curator, make_manifest):
    services.webhook_create(url="http://127.0.0.1:9/hook")
    make_manifest("Again")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="FAILED", attempts=8)
    DeliveryAttempt.objects.create(delivery=delivery, number=1, attempted_at=delivery.created_at)

    page = curator.get(reverse("admin:manifests_webhookdelivery_changelist"))
    form = page.forms["changelist-form"]
    form["action"] = "redeliver"
    form["_selected_action"] = [str(delivery.pk)]
    done = form.submit().follow()

    assert any("Queued 1 deliveries again" in m for m in messages_on(done))
    delivery.refresh_from_db()
    assert delivery.status == "PENDING" and delivery.attempts == 0
    detail = curator.get(reverse("admin:manifests_webhookdelivery_change", args=[delivery.pk]))
    assert delivery.webhook_id in detail.text


def test_deliveries_cost_constant_queries_however_many_events_a_change_writes(make_manifest):
    from tests.conftest import image_upload
    from tests.queries import assert_same_query_count

    services.webhook_create(url="http://127.0.0.1:9/hook", event_types=["asset.created"])

    def bulk(count: int):
        manifest = make_manifest(f"Bulk {count}")
        EventCounter.objects.update(delivery_run_queued=False)  # the worker took the last run
        files = [image_upload(f"{i}.png") for i in range(count)]
        return count_queries(
            lambda: services.assets_bulk_create(
                manifest=manifest, files=files, asset_type="CHARACTER"
            )
        )

    small, large = bulk(2), bulk(20)

    assert_same_query_count(small, large)
    assert WebhookDelivery.objects.count() == 22


# --- The counter row says who is subscribed; what a change costs ------------------------------


def subscribers() -> dict[str, list[str]]:
    return EventCounter.objects.get().subscribers


def test_every_write_of_subscriptions_keeps_the_counters_subscribers_in_step(api):
    first, _ = services.webhook_create(url="http://127.0.0.1:9/a", event_types=["asset.created"])
    second, _ = services.webhook_create(url="http://127.0.0.1:9/b")
    assert subscribers() == {str(first.pk): ["asset.created"], str(second.pk): []}

    api.patch(f"{WEBHOOKS}/{first.pk}", {"event_types": ["asset.deleted"]}, format="json")
    assert subscribers()[str(first.pk)] == ["asset.deleted"]
    services.webhook_update(subscription=second, active=False)
    assert set(subscribers()) == {str(first.pk)}
    WebhookSubscription.objects.filter(pk=second.pk).update(active=True)
    assert set(subscribers()) == {str(first.pk), str(second.pk)}

    assert api.delete(f"{WEBHOOKS}/{first.pk}").status_code == 204
    assert set(subscribers()) == {str(second.pk)}
    WebhookSubscription.objects.all().delete()
    assert subscribers() == {}


def test_deleting_subscriptions_in_the_admin_keeps_the_counters_subscribers_in_step(curator):
    kept, _ = services.webhook_create(url="http://127.0.0.1:9/kept")
    gone, _ = services.webhook_create(url="http://127.0.0.1:9/gone")

    page = curator.get(reverse("admin:manifests_webhooksubscription_changelist"))
    form = page.forms["changelist-form"]
    form["action"] = "delete_selected"
    form["_selected_action"] = [str(gone.pk)]
    form.submit().forms[1].submit()  # "Yes, I'm sure"

    assert list(WebhookSubscription.objects.all()) == [kept]
    assert subscribers() == {str(kept.pk): []}


def test_a_change_after_a_subscription_is_deleted_makes_no_delivery(make_manifest):
    services.webhook_create(url="http://127.0.0.1:9/hook")
    WebhookSubscription.objects.all().delete()

    make_manifest("Nobody listens")

    assert not WebhookDelivery.objects.exists()


def test_the_migration_fills_the_subscribers_of_existing_subscriptions():
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    # The models as the migration sees them (after its fields are added), not today's.
    state = MigrationLoader(connection).project_state(
        ("manifests", "0007_event_counter_subscribers")
    )
    apps = state.apps
    migration = importlib.import_module("manifests.migrations.0007_event_counter_subscribers")
    on, _ = services.webhook_create(url="http://127.0.0.1:9/on", event_types=["asset.created"])
    services.webhook_create(url="http://127.0.0.1:9/off", active=False)
    EventCounter.objects.update(subscribers={})  # as it was before the migration

    migration.fill_subscribers(apps, None)

    assert subscribers() == {str(on.pk): ["asset.created"]}


def test_an_asset_creation_costs_one_insert_more_with_a_subscription(api, make_manifest):
    manifest = make_manifest()
    url = f"/api/manifests/{manifest.pk}/assets"
    number = iter(range(100))

    def create():
        response = api.post(url, {"name": f"a{next(number)}", "asset_type": "CHARACTER"})
        assert response.status_code == 201

    nobody = count_queries(create)
    # The event: the ids taken (which also tell who subscribes and whether a run is queued)
    # and the INSERT; no look-up of subscriptions.
    assert [sql.split()[:2] for sql in nobody.sql if "manifests_event" in sql] == [
        ["UPDATE", '"manifests_eventcounter"'],
        ["INSERT", "INTO"],
    ]
    assert not any("webhooksubscription" in sql for sql in nobody.sql)

    services.webhook_create(url="http://127.0.0.1:9/hook", event_types=["asset.created"])
    # The first change queues the run: its delivery, the flag, the task.
    with assert_num_queries(nobody.count + 3):
        create()
    # While that run waits, each change adds its delivery only.
    with assert_num_queries(nobody.count + 1):
        create()
    with assert_num_queries(nobody.count + 1):
        create()
    assert WebhookDelivery.objects.count() == 3
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_subscription_deleted_by_raw_sql_breaks_no_write(api):
    """`EventCounter.subscribers` is a cache: a row deleted behind the models' back (an ops
    script, psql) must not make the deliveries' foreign key fail every write."""
    from django.db import connection

    gone, _ = services.webhook_create(url="http://127.0.0.1:9/gone")
    kept, _ = services.webhook_create(url="http://127.0.0.1:9/kept")
    column = WebhookSubscription._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM manifests_webhooksubscription WHERE id = %s",
            [column.get_db_prep_value(gone.pk, connection)],
        )
    assert str(gone.pk) in subscribers()

    assert api.post("/api/manifests", {"name": "x"}, format="json").status_code == 201
    assert api.post("/api/manifests", {"name": "y"}, format="json").status_code == 201

    assert {d.subscription_id for d in WebhookDelivery.objects.all()} == {kept.pk}
    assert WebhookDelivery.objects.count() == 2
    # The stale entry was dropped from the cache by the first write that met it.
    assert subscribers() == {str(kept.pk): []}


@pytest.mark.django_db(transaction=True)
def test_a_subscription_switched_off_by_raw_sql_gets_no_delivery(make_manifest):
    from django.db import connection

    services.webhook_create(url="http://127.0.0.1:9/off")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE manifests_webhooksubscription SET active = %s", [False])

    make_manifest("Nobody listens")

    assert not WebhookDelivery.objects.exists()
    assert subscribers() == {}
