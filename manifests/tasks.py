"""Tasks run by the task queue (Django's Tasks framework; `settings.TASKS`)."""

from django_tasks import task


@task()
def deliver_due_webhooks() -> int:
    """A run of the webhook deliveries due now (queued by changes that make deliveries, at
    most one waiting at a time); how many it went through."""
    from manifests.services.webhooks import webhooks_deliver_due

    return webhooks_deliver_due()


@task()
def deliver_webhooks(delivery_ids: list[str]) -> list[str]:
    """One attempt at each of these webhook deliveries, in order (each schedules its own next
    attempt); what happened to each."""
    from manifests.services.webhooks import webhook_attempt

    return [webhook_attempt(delivery_id=delivery_id) for delivery_id in delivery_ids]
