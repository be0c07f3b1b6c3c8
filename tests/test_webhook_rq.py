"""Webhook deliveries through the Redis-backed backend (RQ via django-tasks-rq), against the
Redis of 127.0.0.1:6379 (.ci/run starts one; skipped when none answers)."""

import pytest
import redis

from manifests import services
from manifests.models import WebhookDelivery
from tests.webhook_receiver import receiver, verify

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def rq_backend(settings):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    settings.VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = True
    settings.VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend"}}
    import django_rq
    from rq.registry import ScheduledJobRegistry

    queue = django_rq.get_queue("default")
    queue.empty()
    for job_id in ScheduledJobRegistry(queue=queue).get_job_ids():
        ScheduledJobRegistry(queue=queue).remove(job_id, delete_job=True)
    yield queue
    queue.empty()


def run_rq_worker(rounds: int = 1) -> None:
    """RQ's own worker in burst mode, in this process (no fork: it shares the test's
    database), with its scheduler for the retries."""
    import django_rq
    from django_tasks_rq import Job
    from rq import SimpleWorker

    for _ in range(rounds):
        worker = django_rq.get_worker("default", job_class=Job, worker_class=SimpleWorker)
        worker.work(burst=True, with_scheduler=True)


def test_the_rq_backend_queues_on_commit_and_delivers(
    rq_backend, make_manifest, django_capture_on_commit_callbacks
):
    with receiver() as target:
        _, secret = services.webhook_create(url=target.url)
        with django_capture_on_commit_callbacks(execute=True):
            make_manifest("Through Redis")
            # Queued in Redis once the transaction committed, not before.
            assert rq_backend.count == 0
        assert rq_backend.count == 1
        # A change while that run waits queues no other: the run delivers both.
        with django_capture_on_commit_callbacks(execute=True):
            make_manifest("Same run")
        assert rq_backend.count == 1

        run_rq_worker()
        received = target.wait_for(2)

    assert [r.json["type"] for r in received] == ["manifest.created"] * 2
    assert all(verify(secret, r.headers, r.body) for r in received)
    statuses = set(WebhookDelivery.objects.values_list("status", flat=True))
    assert statuses == {WebhookDelivery.Status.SUCCEEDED}


def test_the_rq_backend_retries_after_a_failure(
    rq_backend, make_manifest, django_capture_on_commit_callbacks
):
    with receiver(lambda n, r: 500 if n == 0 else 200) as target:
        services.webhook_create(url=target.url)
        with django_capture_on_commit_callbacks(execute=True):
            make_manifest("Retried")
        with django_capture_on_commit_callbacks(execute=True):
            run_rq_worker()
        run_rq_worker(rounds=3)
        received = target.wait_for(2)

    assert received[0].headers["webhook-id"] == received[1].headers["webhook-id"]
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert list(delivery.attempt_log.values_list("status_code", flat=True)) == [500, 200]
