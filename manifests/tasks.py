"""Tasks run by the task queue (Django's Tasks framework; `settings.TASKS`)."""

from django_tasks import task


@task()
def deliver_webhook(delivery_id: str) -> str:
    """One attempt at a webhook delivery (it schedules the next itself); what happened."""
    from manifests.services.webhooks import webhook_attempt

    return webhook_attempt(delivery_id=delivery_id)
