"""Events (the transactional outbox) and webhooks (subscriptions, deliveries, attempts).

An `Event` is written in the same transaction as the change it tells of
(`manifests.services.events`); its id comes from `EventCounter`, one row updated under its
lock, so ids are consecutive and a reader sees them commit in id order (the feed's cursor
never skips one that commits late). Webhooks: a `WebhookSubscription` names a target and the
event types it wants; each event it wants gets one `WebhookDelivery` (written with the
event), whose `DeliveryAttempt`s log every try.

The counter row also keeps who wants events (`EventCounter.subscribers`): every write of
subscriptions, whatever its path (services, admin, API, a queryset), rewrites it in its own
transaction, having locked the counter row first (`subscriptions_changing`). An event write,
which locks that row anyway, so learns who wants its events without looking.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import models, transaction

COUNTER_ID = 1


class EventType(models.TextChoices):
    MANIFEST_CREATED = "manifest.created"
    MANIFEST_UPDATED = "manifest.updated"
    MANIFEST_STATUS_CHANGED = "manifest.status_changed"
    MANIFEST_DELETED = "manifest.deleted"
    MANIFEST_RESTORED = "manifest.restored"
    MANIFEST_DUPLICATED = "manifest.duplicated"
    MANIFEST_PURGED = "manifest.purged"
    MANIFEST_VERSION_FROZEN = "manifest.version_frozen"
    ASSET_CREATED = "asset.created"
    ASSET_UPDATED = "asset.updated"
    ASSET_DELETED = "asset.deleted"
    ASSET_IMAGE_CHANGED = "asset.image_changed"
    PROJECT_LINKED = "project.linked"
    PROJECT_REPINNED = "project.repinned"
    # Sent by "send test event" to one subscription only; never written to the feed.
    WEBHOOK_TEST = "webhook.test"


class EventCounter(models.Model):
    """The last event id handed out (one row): taking ids locks it until commit."""

    last_id = models.BigIntegerField(default=0)
    # The active webhook subscriptions, {id: event types wanted ([]: every type)}, rewritten
    # with every write of subscriptions, in its transaction (`subscriptions_changing`).
    subscribers = models.JSONField(default=dict, blank=True)
    # A run of the due deliveries (`manifests.tasks.deliver_due_webhooks`) is queued and has
    # not started: a change that makes deliveries meanwhile queues no other. The run clears
    # it, under this row's lock, before it looks for what is due; a run that found some sets
    # it again as it queues its successor (VIDPIPE_WEBHOOK_RUN_LINGER later).
    delivery_run_queued = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"last event id {self.last_id}"


class Event(models.Model):
    """Something that happened to a manifest, written with the change itself."""

    id = models.BigIntegerField(primary_key=True)
    type = models.CharField(max_length=40, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    # No foreign key: events outlive the manifests they tell of (`manifest.purged`).
    manifest_id = models.UUIDField(null=True, blank=True)
    # The manifest's version after the change (None where it has none: purged).
    version = models.PositiveIntegerField(null=True, blank=True)
    # "user:<username>", "command:<name>", or "system".
    actor = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["type", "id"], name="event_type_id"),
            models.Index(fields=["manifest_id", "id"], name="event_manifest_id"),
            models.Index(fields=["occurred_at"], name="event_occurred_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"


def active_subscribers() -> dict[str, list[str]]:
    """What `EventCounter.subscribers` must say: each active subscription's wanted types."""
    active = WebhookSubscription.objects.filter(active=True).order_by("created_at", "pk")
    return {str(pk): types for pk, types in active.values_list("pk", "event_types")}


def create_counter_row() -> None:
    """The counter row where it is missing (a database flushed by tests): ids go on after the
    last event kept. Concurrent creators wait for each other (a conflict, then nothing)."""
    start = Event.objects.aggregate(last=models.Max("id"))["last"] or 0
    row = EventCounter(pk=COUNTER_ID, last_id=start, subscribers=active_subscribers())
    EventCounter.objects.bulk_create([row], ignore_conflicts=True)


@contextmanager
def subscriptions_changing() -> Iterator[None]:
    """Around a write of subscriptions: one transaction that locks the counter row first
    (before any subscription row: an event write holds the counter and, at commit, checks
    its deliveries' subscriptions), then writes `subscribers` anew once the block is done.
    Locked first, concurrent writers of subscriptions each read the others' commits."""
    with transaction.atomic():
        counter = EventCounter.objects.select_for_update().filter(pk=COUNTER_ID)
        if not counter.exists():
            create_counter_row()
            counter.exists()
        yield
        counter.update(subscribers=active_subscribers())


class WebhookSubscriptionQuerySet(models.QuerySet):
    """Writes in bulk keep `EventCounter.subscribers` in step, as single saves do."""

    def update(self, **kwargs) -> int:
        with subscriptions_changing():
            return super().update(**kwargs)

    def delete(self):
        with subscriptions_changing():
            return super().delete()

    def bulk_create(self, objs, *args, **kwargs):
        with subscriptions_changing():
            return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, *args, **kwargs):
        with subscriptions_changing():
            return super().bulk_update(objs, *args, **kwargs)


class WebhookSubscription(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    url = models.URLField(max_length=2000)
    # Event types wanted; empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    # `whsec_<base64>`: shown once, at creation and at each rotation.
    secret = models.CharField(max_length=100, editable=False)
    description = models.CharField(max_length=200, blank=True)
    # Why it was switched off by delivery (410, or repeated failure); empty otherwise.
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs) -> None:
        with subscriptions_changing():
            super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        with subscriptions_changing():
            return super().delete(*args, **kwargs)


class WebhookDeliveryQuerySet(models.QuerySet):
    def due(self, now) -> "WebhookDeliveryQuerySet":
        """Pending deliveries whose next attempt is due at `now` and that no live attempt
        holds."""
        pending = self.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        return pending.exclude(lease_until__gt=now)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        # The subscription was switched off (or deleted) before it went out.
        CANCELLED = "CANCELLED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # None for a test event (sent to one subscription, never in the feed).
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    # The Standard Webhooks `webhook-id`: the same on every attempt and redelivery.
    webhook_id = models.CharField(max_length=100)
    # The JSON body, fixed when the delivery is made: every attempt sends the same bytes.
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # While an attempt runs: a worker that dies mid-attempt lets it go at this time.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return self.webhook_id


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    # None when no answer came (refused, timed out, connection failed).
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    # The first 1 KB of the answer's body.
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}"
