"""Webhook deliveries, for real: the database backend's worker (`db_worker`) sends signed
requests to an HTTP receiver on 127.0.0.1 served by a thread of the test.

The worker runs in this process and closes its database connection between tasks, as in
production: the tests commit (`transaction=True`) so that it finds their rows again."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from manifests import services
from manifests.models import (
    DeliveryAttempt,
    Event,
    EventCounter,
    WebhookDelivery,
    WebhookSubscription,
)
from tests.webhook_receiver import receiver, verify

pytestmark = pytest.mark.django_db(transaction=True)

Status = WebhookDelivery.Status


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = True
    settings.VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.VIDPIPE_WEBHOOK_READ_TIMEOUT = 5
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # A run's successor is ready at once, so that `run_worker` goes on until a run finds
    # nothing (tests of the linger set their own).
    settings.VIDPIPE_WEBHOOK_RUN_LINGER = 0


def run_worker() -> None:
    """The database backend's worker, until no task is ready."""
    call_command(
        "db_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval", "0", verbosity=0
    )


def subscribe(url: str, *types: str) -> tuple[WebhookSubscription, str]:
    return services.webhook_create(url=url, event_types=list(types))


def test_deliveries_are_signed_and_tell_of_the_right_changes(make_manifest, make_asset):
    with receiver() as target:
        subscription, secret = subscribe(target.url, "asset.created", "manifest.status_changed")
        manifest = make_manifest("Cast")
        asset = make_asset(manifest, "Hero")
        services.manifest_update(manifest=manifest, status="PROCESSING")

        run_worker()
        received = target.wait_for(2)

    assert [r.json["type"] for r in received] == ["asset.created", "manifest.status_changed"]
    for request in received:
        assert verify(secret, request.headers, request.body)
        assert request.headers["webhook-id"].startswith("msg_")
        assert request.headers["content-type"] == "application/json"
    created = received[0].json["data"]
    assert created["manifest_id"] == str(manifest.pk)
    assert created["payload"]["asset_id"] == str(asset.pk)
    assert created["id"] == Event.objects.get(type="asset.created").id
    assert received[1].json["data"]["payload"] == {"old": "DRAFT", "new": "PROCESSING"}
    # A signature made with another secret does not verify.
    assert not verify(services.webhooks.new_secret(), received[0].headers, received[0].body)
    deliveries = WebhookDelivery.objects.filter(subscription=subscription)
    assert {d.status for d in deliveries} == {Status.SUCCEEDED}


def test_three_failures_then_success_log_four_attempts_and_one_delivery(make_manifest):
    with receiver(lambda n, r: 500 if n < 3 else 200) as target:
        subscribe(target.url, "manifest.created")
        make_manifest("Flaky")

        run_worker()
        received = target.wait_for(4)

    assert len({r.headers["webhook-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempts == 4
    log = list(delivery.attempt_log.values_list("number", "status_code"))
    assert log == [(1, 500), (2, 500), (3, 500), (4, 200)]
    last = delivery.attempt_log.last()
    assert last.response_excerpt.startswith("answer 3: 200")
    assert len(last.response_excerpt) == 1024


def test_a_hanging_receiver_times_out_and_is_retried_while_others_are_delivered(
    settings, make_manifest
):
    settings.VIDPIPE_WEBHOOK_READ_TIMEOUT = 0.5
    release = threading.Event()

    def hang_first(number, received):
        if number == 0:
            release.wait(10)
        return 200

    with receiver(hang_first) as slow, receiver() as fast:
        subscribe(slow.url, "manifest.created")
        subscribe(fast.url, "manifest.created")
        make_manifest("One")
        make_manifest("Two")

        run_worker()
        release.set()

        assert len(fast.wait_for(2)) == 2
    slow_deliveries = WebhookDelivery.objects.filter(subscription__url=slow.url)
    assert {d.status for d in slow_deliveries} == {Status.SUCCEEDED}
    timed_out = DeliveryAttempt.objects.filter(delivery__in=slow_deliveries, status_code=None)
    assert timed_out.count() == 1
    assert "timed out" in timed_out.get().error
    assert sum(d.attempts for d in slow_deliveries) == 3


def test_410_switches_the_subscription_off_with_the_reason(make_manifest):
    with receiver(lambda n, r: 410) as target:
        subscription, _ = subscribe(target.url)
        make_manifest("Gone")
        run_worker()
        make_manifest("After")
        run_worker()
        assert len(target.wait_for(1)) == 1

    subscription.refresh_from_db()
    assert not subscription.active
    assert "410 Gone" in subscription.disabled_reason
    assert subscription.deliveries.count() == 1  # none made while it is off


def test_repeated_failure_switches_the_subscription_off(settings, make_manifest):
    settings.VIDPIPE_WEBHOOK_MAX_ATTEMPTS = 3
    with receiver(lambda n, r: 503) as target:
        subscription, _ = subscribe(target.url)
        make_manifest("Down")
        run_worker()
        target.wait_for(3)

    subscription.refresh_from_db()
    delivery = subscription.deliveries.get()
    assert delivery.status == Status.FAILED
    assert delivery.attempts == 3
    assert not subscription.active
    assert "3 attempts" in subscription.disabled_reason
    assert "HTTP 503" in subscription.disabled_reason


def test_no_redirect_is_followed(make_manifest):
    with receiver(lambda n, r: 302) as target:
        subscribe(target.url)
        make_manifest("Moved")
        services.webhooks.webhook_attempt(delivery_id=str(WebhookDelivery.objects.get().pk))
        assert len(target.wait_for(1)) == 1

    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code == 302
    assert WebhookDelivery.objects.get().status == Status.PENDING  # to be tried again


def test_a_delivery_is_refused_at_delivery_time_when_the_target_turned_internal(
    settings, make_manifest
):
    with receiver() as target:
        subscribe(target.url)
        make_manifest("Rebound")
        # The name now leads to a refused address (loopback, no longer allowed).
        settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = False
        services.webhooks.webhook_attempt(delivery_id=str(WebhookDelivery.objects.get().pk))
        assert target.received == []

    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code is None
    assert "loopback" in attempt.error


def test_a_rolled_back_change_delivers_nothing(make_manifest):
    with receiver() as target:
        subscribe(target.url)
        with pytest.raises(RuntimeError), transaction.atomic():
            make_manifest("Never")
            raise RuntimeError("rolled back")
        run_worker()
        assert target.received == []
    assert not WebhookDelivery.objects.exists()


def test_redelivery_and_test_events_keep_their_webhook_id(make_manifest):
    with receiver() as target:
        subscription, secret = subscribe(target.url)
        make_manifest("Again")
        run_worker()
        delivery = WebhookDelivery.objects.get()

        assert services.webhooks_redeliver(deliveries=[delivery]) == 1
        test = services.webhook_send_test(subscription=subscription)
        run_worker()
        received = target.wait_for(3)

    assert received[1].headers["webhook-id"] == received[0].headers["webhook-id"]
    assert received[2].headers["webhook-id"] == test.webhook_id
    assert received[2].json["type"] == "webhook.test"
    assert all(verify(secret, r.headers, r.body) for r in received)
    assert Event.objects.filter(type="webhook.test").count() == 0


def test_a_switched_off_subscription_cancels_its_pending_deliveries(make_manifest):
    with receiver() as target:
        subscription, _ = subscribe(target.url)
        make_manifest("Paused")
        services.webhook_update(subscription=subscription, active=False)
        run_worker()
        assert target.received == []
    assert WebhookDelivery.objects.get().status == Status.CANCELLED


def test_events_of_unwanted_types_make_no_delivery(make_manifest, make_asset):
    with receiver() as target:
        subscribe(target.url, "asset.deleted")
        make_asset(make_manifest("Quiet"))
        run_worker()
        assert target.received == []
    assert not WebhookDelivery.objects.exists()


# --- One run of the due deliveries, queued at most once while it waits ---------------------


def queued_runs() -> int:
    return DBTaskResult.objects.filter(task_path="manifests.tasks.deliver_due_webhooks").count()


def test_changes_made_while_a_run_waits_queue_no_other_and_are_all_delivered(make_manifest):
    def change_during_the_run(number, received):
        if number == 0:
            # Made (and committed) by another connection while the run attempts its first
            # delivery: the run had cleared its flag, so this change queues another run.
            try:
                make_manifest("Three")
            finally:
                connections.close_all()
        return 200

    with receiver(change_during_the_run) as target:
        subscribe(target.url, "manifest.created")
        make_manifest("One")
        make_manifest("Two")
        assert queued_runs() == 1  # the second change found a run waiting

        run_worker()
        received = target.wait_for(3)

    names = [Event.objects.get(pk=r.json["data"]["id"]).payload["name"] for r in received]
    assert sorted(names) == ["One", "Three", "Two"]
    # The first run, then Three's, then the successor of Three's run (it found a delivery),
    # which found nothing and stopped; the first run's successor was Three's.
    assert queued_runs() == 3
    assert {d.status for d in WebhookDelivery.objects.all()} == {Status.SUCCEEDED}
    assert not EventCounter.objects.get().delivery_run_queued


@pytest.mark.postgres_only
def test_a_run_that_starts_while_a_change_commits_waits_for_it_and_delivers_it(make_manifest):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite runs one writer at a time, no run overlaps a change")
    with receiver() as target:
        subscribe(target.url, "manifest.created")
        EventCounter.objects.update(delivery_run_queued=True)  # a run is queued, not started
        outcome: list = []

        def run() -> None:
            try:
                outcome.append(services.webhooks_deliver_due())
            finally:
                connections.close_all()

        with transaction.atomic():
            make_manifest("Late")  # holds the counter's lock; finds the run queued
            runner = threading.Thread(target=run)
            runner.start()
            # The run clears its flag first: that statement waits for this transaction.
            with connection.cursor() as cursor:
                for _ in range(200):
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                    if cursor.fetchone()[0]:
                        break
                    runner.join(0.05)
            assert runner.is_alive(), "the run did not wait for the change's commit"
        runner.join(30)

        (received,) = target.wait_for(1)

    assert outcome == [1]
    # The change queued none (the run it found did the work); the run, having found one,
    # queued its successor.
    assert queued_runs() == 1
    assert received.json["type"] == "manifest.created"
    assert WebhookDelivery.objects.get().status == Status.SUCCEEDED


def test_the_sweep_forgets_a_queued_run_that_a_broker_may_have_lost(make_manifest):
    with receiver() as target:
        subscribe(target.url, "manifest.created")
        make_manifest("Lost")
        DBTaskResult.objects.all().delete()  # as if the broker lost the run

        # A later change finds the run "queued" and queues none; the sweep queues the due
        # deliveries and forgets that run, so the change after it queues one again.
        make_manifest("Stuck")
        assert queued_runs() == 0
        assert services.webhooks_resume() == 2
        assert not EventCounter.objects.get().delivery_run_queued
        make_manifest("Moving")
        assert queued_runs() == 1

        run_worker()
        assert len(target.wait_for(3)) == 3


# --- A run that found deliveries stays queued a while (VIDPIPE_WEBHOOK_RUN_LINGER) ----------


def waiting_runs() -> list[DBTaskResult]:
    """Runs queued and not started (ready now or later)."""
    runs = DBTaskResult.objects.filter(task_path="manifests.tasks.deliver_due_webhooks")
    return list(runs.filter(status="READY"))


def test_a_burst_of_changes_while_a_run_lingers_queues_no_task_and_the_successor_delivers_it(
    settings, make_manifest
):
    settings.VIDPIPE_WEBHOOK_RUN_LINGER = 60
    with receiver() as target:
        subscribe(target.url, "manifest.created")
        make_manifest("First")
        run_worker()  # delivers it, and queues its successor a minute later
        assert len(target.wait_for(1)) == 1
        assert EventCounter.objects.get().delivery_run_queued
        (successor,) = waiting_runs()
        assert successor.run_after > successor.enqueued_at + timedelta(seconds=55)

        tasks = DBTaskResult.objects.count()
        for number in range(10):
            make_manifest(f"Burst {number}")
        assert DBTaskResult.objects.count() == tasks  # not a task more: the run lingers

        DBTaskResult.objects.filter(pk=successor.pk).update(run_after=timezone.now())
        run_worker()  # the successor delivers the burst, and lingers in turn
        assert len(target.wait_for(11)) == 11
    assert {d.status for d in WebhookDelivery.objects.all()} == {Status.SUCCEEDED}
    assert len(waiting_runs()) == 1
    assert EventCounter.objects.get().delivery_run_queued


def test_a_run_that_finds_nothing_due_clears_the_flag_and_the_next_change_queues_again(
    settings, make_manifest
):
    settings.VIDPIPE_WEBHOOK_RUN_LINGER = 60
    with receiver() as target:
        subscribe(target.url, "manifest.created")
        make_manifest("Delivered")
        run_worker()
        target.wait_for(1)
        (successor,) = waiting_runs()

        DBTaskResult.objects.filter(pk=successor.pk).update(run_after=timezone.now())
        run_worker()  # the successor finds nothing: it stops, the flag cleared
        assert not waiting_runs()
        assert not EventCounter.objects.get().delivery_run_queued

        make_manifest("Later")
        assert len(waiting_runs()) == 1  # a run queued again, ready at once
        run_worker()
        assert len(target.wait_for(2)) == 2


def test_a_run_that_finds_only_deliveries_waiting_for_a_retry_does_not_spin(
    settings, make_manifest
):
    settings.VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS = 3600
    with receiver(lambda number, received: 500) as target:
        subscribe(target.url, "manifest.created")
        make_manifest("Failing")
        # The run attempts it (500); its successor, ready at once (linger 0 here), finds it
        # not due (its retry is an hour away, a task of its own) and stops.
        run_worker()
        target.wait_for(1)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Status.PENDING, 1)
    assert queued_runs() == 2
    assert not waiting_runs()
    assert not EventCounter.objects.get().delivery_run_queued
    retry = DBTaskResult.objects.get(task_path="manifests.tasks.deliver_webhooks")
    assert retry.run_after > timezone.now() + timedelta(minutes=30)


# --- Runs and sweeps commit the counter's flag on their own ----------------------------------


@pytest.mark.parametrize("run", ["webhooks_deliver_due", "webhooks_resume"])
def test_a_run_or_sweep_refuses_to_run_inside_a_transaction(run, make_manifest):
    subscribe("http://127.0.0.1:9/hook", "manifest.created")
    make_manifest("Queued")  # a run is queued: the flag is set
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside a transaction"):
        getattr(services, run)()
    # It touched nothing: the flag stays set, the delivery pending and unattempted.
    assert EventCounter.objects.get().delivery_run_queued
    assert WebhookDelivery.objects.get().attempts == 0


@pytest.mark.postgres_only
def test_the_sweep_does_not_hold_the_counters_lock_while_it_queues(make_manifest):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: NOWAIT row locks tell whether the counter is held")
    subscribe("http://127.0.0.1:9/hook", "manifest.created")
    make_manifest("One")
    make_manifest("Two")
    DBTaskResult.objects.all().delete()  # as if the broker lost them
    free: list[bool] = []

    def counter_is_free() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT id FROM manifests_eventcounter WHERE id = 1 FOR UPDATE NOWAIT"
                )
            free.append(True)
        except OperationalError:  # the lock is held: NOWAIT raises
            free.append(False)
        finally:
            connections.close_all()

    def queueing(execute, sql, params, many, context):
        if sql.startswith("INSERT") and "django_tasks_database" in sql:
            checker = threading.Thread(target=counter_is_free)
            checker.start()
            checker.join(10)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(queueing):
        assert services.webhooks_resume() == 2

    assert free == [True]
    assert not EventCounter.objects.get().delivery_run_queued
