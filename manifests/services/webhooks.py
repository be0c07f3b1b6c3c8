"""Webhooks: subscriptions, and the delivery of events to them, signed (Standard Webhooks).

The outbox: each event a subscription wants gets a `WebhookDelivery`, written with the event
in the change's transaction (an `AFTER_EVENTS` hook, which learns who wants what from the
event counter's row: `EventCounter.subscribers`), and a run of the due deliveries is queued
(`manifests.tasks.deliver_due_webhooks`) unless one is queued already and has not started
(`EventCounter.delivery_run_queued`, set under the counter's lock; the run clears it under
that lock before it looks for what is due, so a change either committed before the run
looked, or saw the flag cleared and queued another run). At most one run per transaction,
and none while one waits: a busy API does not pay for queuing a task per change. A run that
found deliveries due keeps itself queued: it sets the flag again and queues its successor
VIDPIPE_WEBHOOK_RUN_LINGER seconds later, so that while deliveries keep coming (even to an
idle worker) changes queue nothing; the first run that finds none due stops, the flag
cleared. A delivery so waits at most the linger and the worker's poll interval. With the
database backend the run's task row is written in the change's transaction, so a committed
change always has a run queued and a rolled-back one never has; with a broker (RQ) it is
sent once the transaction commits, and `webhooks_resume` (run by the worker command, at start
and then every minute) clears the flag and queues again whatever is due and has no live
attempt.

An attempt takes a lease on its delivery (so a worker killed mid-attempt lets it go),
POSTs the body fixed at creation with the same `webhook-id` every time, and logs itself
(`DeliveryAttempt`). A 2xx is success; 410 switches the subscription off; anything else
is tried again after an exponential, jittered wait (a task of its own, `deliver_webhooks`,
queued to run then), up to VIDPIPE_WEBHOOK_MAX_ATTEMPTS attempts, after which the
subscription is switched off, the reason shown in the admin. Tasks are idempotent: one that
finds its delivery done, leased or not yet due does nothing.
"""

import base64
import hashlib
import hmac
import http.client
import json
import logging
import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from manifests import outbound
from manifests.models import (
    DeliveryAttempt,
    Event,
    EventCounter,
    EventType,
    WebhookDelivery,
    WebhookSubscription,
)
from manifests.models.events import (
    COUNTER_ID,
    active_subscribers,
    create_counter_row,
    subscriptions_changing,
)
from manifests.services.common import keyset_beyond, keyset_chunks
from manifests.services.events import AFTER_EVENTS, FEED_TYPES

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_EVENT_TYPES = len(FEED_TYPES)
MAX_DESCRIPTION = WebhookSubscription._meta.get_field("description").max_length
RETRY_FACTOR = 3
# Deliveries per task when the left-behind ones are queued again.
RESUME_CHUNK = 50
# Deliveries one INSERT writes (9 parameters each: well under SQLite's and PostgreSQL's caps).
INSERT_BATCH = 500
# Due deliveries a run reads at a time.
DUE_BATCH = 100
JITTER = 0.2
Status = WebhookDelivery.Status


# --- Signing (Standard Webhooks) -------------------------------------------------------------


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, as Standard Webhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256, keyed with the
    secret's bytes, of `<webhook-id>.<webhook-timestamp>.<body>`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, webhook_id: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "vidpipe-webhooks/1",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


# --- Subscriptions ----------------------------------------------------------------------------


def clean_event_types(value: Any) -> list[str]:
    """The event types a subscription wants: known ones, each once; [] for all."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError({"event_types": "Give a list of event type names."})
    if len(value) > MAX_EVENT_TYPES:
        raise ValidationError(
            {
                "event_types": f"At most {MAX_EVENT_TYPES} event types (there are no more), "
                f"got {len(value)}; an empty list means every type."
            }
        )
    unknown = sorted({v for v in value if v not in FEED_TYPES})
    if unknown:
        shown = ", ".join(repr(u[:60]) for u in unknown[:5])
        raise ValidationError(
            {
                "event_types": f"Unknown event type(s): {shown}; known: "
                f"{', '.join(sorted(FEED_TYPES))}."
            }
        )
    return list(dict.fromkeys(value))


def clean_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError({"url": "Give the URL to deliver events to."})
    url = url.strip()
    try:
        outbound.check_url(url)
    except outbound.TargetRefused as exc:
        raise ValidationError({"url": str(exc)}) from None
    return url


def _clean_description(value: Any) -> str:
    if not isinstance(value, str):
        raise ValidationError({"description": "Give text."})
    if len(value) > MAX_DESCRIPTION:
        raise ValidationError({"description": f"At most {MAX_DESCRIPTION} characters."})
    return value.strip()


def webhook_create(
    *,
    url: str,
    event_types: list[str] | None = None,
    description: str = "",
    active: bool = True,
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to these event types (all when none): the subscription and its
    secret, which is shown this once (and at each rotation)."""
    subscription = WebhookSubscription(
        url=clean_url(url),
        event_types=clean_event_types(event_types),
        description=_clean_description(description),
        active=bool(active),
        secret=new_secret(),
    )
    subscription.save(force_insert=True)
    return subscription, subscription.secret


def webhook_update(*, subscription: WebhookSubscription, **changes: Any) -> WebhookSubscription:
    """Change a subscription's URL, event types, description or active flag; switching it
    on again forgets why it was switched off."""
    allowed = {"url", "event_types", "description", "active"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in unknown})
    # The counter row before the subscription's (see `subscriptions_changing`).
    with subscriptions_changing():
        current = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if "url" in changes:
            current.url = clean_url(changes["url"])
        if "event_types" in changes:
            current.event_types = clean_event_types(changes["event_types"])
        if "description" in changes:
            current.description = _clean_description(changes["description"])
        if "active" in changes:
            current.active = bool(changes["active"])
            if current.active:
                current.disabled_reason = ""
                current.disabled_at = None
        current.save()
    return current


def webhook_rotate_secret(*, subscription: WebhookSubscription) -> str:
    """A new secret for the subscription, in force at once: shown this once."""
    secret = new_secret()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(
        secret=secret, updated_at=timezone.now()
    )
    subscription.secret = secret
    return secret


def _disable(subscription_id: Any, reason: str) -> None:
    WebhookSubscription.objects.filter(pk=subscription_id, active=True).update(
        active=False, disabled_reason=reason[:500], disabled_at=timezone.now()
    )
    logger.warning("Webhook subscription %s switched off: %s", subscription_id, reason)


# --- Deliveries -------------------------------------------------------------------------------


def event_body(event: Event) -> str:
    """The JSON a delivery of `event` sends (Standard Webhooks' type/timestamp/data)."""
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.occurred_at.isoformat(),
            "data": {
                "id": event.id,
                "manifest_id": str(event.manifest_id) if event.manifest_id else None,
                "version": event.version,
                "actor": event.actor,
                "payload": event.payload,
            },
        },
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def _send(task, *args: Any) -> None:
    """Queue `task`: in the caller's transaction where tasks live in this database, else once
    it commits (a broker must not see a task before the rows it reads)."""
    from django_tasks_db import DatabaseBackend

    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(*args)
    else:
        transaction.on_commit(lambda: task.enqueue(*args))


def _enqueue(deliveries: list[WebhookDelivery], run_after: datetime | None = None) -> None:
    """Queue one task that attempts these deliveries (at `run_after`, else now)."""
    from manifests.tasks import deliver_webhooks

    if not deliveries:
        return
    task = deliver_webhooks.using(run_after=run_after) if run_after else deliver_webhooks
    _send(task, [str(delivery.pk) for delivery in deliveries])


def _queue_delivery_run(counter: EventCounter) -> None:
    """Queue a run of the due deliveries, unless one is queued and not started: the caller
    holds the counter row (`counter`, as it stands) locked in its transaction."""
    from manifests.tasks import deliver_due_webhooks

    if counter.delivery_run_queued:
        return
    EventCounter.objects.filter(pk=counter.pk).update(delivery_run_queued=True)
    counter.delivery_run_queued = True
    _send(deliver_due_webhooks)


def deliveries_for_events(events: list[Event], counter: EventCounter) -> list[WebhookDelivery]:
    """Make (in the events' transaction, which holds `counter` locked) a delivery of each
    event to each active subscription that wants it, and see that a run will attempt them.
    No query when none does.

    `counter.subscribers` is a cache: a subscription deleted or switched off behind the
    models' back (raw SQL, an ops script) may still be named there. The deliveries are
    therefore written by one INSERT ... SELECT that keeps only rows whose subscription
    exists and is active, so a stale entry never makes a write fail; when it kept fewer
    than asked, the cache is rebuilt (under the lock the caller holds)."""
    if not counter.subscribers:
        return []
    now = timezone.now()
    deliveries = []
    for event in events:
        body = None
        for subscription_id, types in counter.subscribers.items():
            if not types or event.type in types:
                body = body or event_body(event)
                delivery = WebhookDelivery(
                    subscription_id=subscription_id, event=event, body=body, next_attempt_at=now
                )
                delivery.webhook_id = f"msg_{delivery.id.hex}"
                deliveries.append(delivery)
    if not deliveries:
        return []
    kept: set = set()
    for start in range(0, len(deliveries), INSERT_BATCH):
        kept |= _insert_for_live_subscriptions(deliveries[start : start + INSERT_BATCH], now)
    if len(kept) < len(deliveries):
        EventCounter.objects.filter(pk=counter.pk).update(subscribers=active_subscribers())
        deliveries = [delivery for delivery in deliveries if delivery.pk in kept]
    if deliveries:
        _queue_delivery_run(counter)
    return deliveries


# The columns a new delivery's INSERT ... SELECT writes (the others are NULL).
_INSERTED = (
    "id",
    "subscription",
    "event",
    "webhook_id",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def _insert_for_live_subscriptions(deliveries: list[WebhookDelivery], now: datetime) -> set:
    """Insert those of `deliveries` whose subscription exists and is active, in one
    statement; the ids inserted."""
    meta = WebhookDelivery._meta
    fields = [meta.get_field(name) for name in _INSERTED]
    on_postgres = connection.vendor == "postgresql"
    qn = connection.ops.quote_name
    # PostgreSQL types a VALUES list from its parameters: cast each to its column's type.
    row = "({})".format(
        ", ".join(
            f"CAST(%s AS {field.db_type(connection)})" if on_postgres else "%s" for field in fields
        )
    )
    params: list[Any] = []
    for delivery in deliveries:
        delivery.status = Status.PENDING
        delivery.attempts = 0
        delivery.created_at = now
        for field in fields:
            params.append(field.get_db_prep_save(getattr(delivery, field.attname), connection))
    subscriptions = WebhookSubscription._meta
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"SELECT {', '.join(f'v.column{i}' for i in range(1, len(fields) + 1))} "
        f"FROM (VALUES {', '.join([row] * len(deliveries))}) AS v "
        f"WHERE v.column2 IN (SELECT {qn(subscriptions.pk.column)} "
        f"FROM {qn(subscriptions.db_table)} WHERE {qn('active')}) "
        f"RETURNING {qn(meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = [row[0] for row in cursor.fetchall()]
    return {meta.pk.to_python(value) for value in inserted}


AFTER_EVENTS.append(deliveries_for_events)


def webhook_send_test(*, subscription: WebhookSubscription) -> WebhookDelivery:
    """Queue a `webhook.test` delivery to this subscription alone (not in the feed)."""
    now = timezone.now()
    delivery = WebhookDelivery(subscription=subscription, next_attempt_at=now)
    delivery.webhook_id = f"msg_{delivery.id.hex}"
    delivery.body = json.dumps(
        {
            "type": EventType.WEBHOOK_TEST.value,
            "timestamp": now.isoformat(),
            "data": {"subscription_id": str(subscription.pk)},
        },
        separators=(",", ":"),
    )
    with transaction.atomic():
        delivery.save(force_insert=True)
        _enqueue([delivery])
    return delivery


def webhooks_redeliver(*, deliveries: list[WebhookDelivery]) -> int:
    """Send these deliveries again (same `webhook-id`, same body), with a fresh budget of
    attempts; their subscriptions must be active. How many were queued."""
    with transaction.atomic():
        again = list(
            WebhookDelivery.objects.select_for_update().filter(
                pk__in=[d.pk for d in deliveries], subscription__active=True
            )
        )
        for delivery in again:
            delivery.status = Status.PENDING
            delivery.attempts = 0
            delivery.next_attempt_at = timezone.now()
            delivery.lease_until = None
            delivery.finished_at = None
            delivery.save()
        _enqueue(again)
    return len(again)


def _outside_transactions(what: str) -> None:
    """Refuse to go on inside a transaction (a test's own wrapper aside): `what` commits
    statements of its own, and must not hold the event counter's lock while it works."""
    try:
        with transaction.atomic(durable=True):
            pass
    except RuntimeError:
        raise RuntimeError(
            f"{what} must run outside a transaction (atomic block): it commits the event "
            "counter's flag on its own, and inside a transaction would hold the counter's "
            "lock, and so every write that makes events, for as long as it runs."
        ) from None


def _clear_run_queued() -> None:
    """Forget that a run is queued: one short transaction of its own (it waits for a change
    holding the counter's lock, which so commits first), committed before the caller looks
    for what is due."""
    with transaction.atomic(durable=True):
        counter = EventCounter.objects.filter(pk=COUNTER_ID)
        if not counter.update(delivery_run_queued=False):
            create_counter_row()
            counter.update(delivery_run_queued=False)


def webhooks_resume(*, now: datetime | None = None) -> int:
    """Queue again every pending delivery that is due and has no live attempt (its task was
    lost with a broker, or its worker died mid-attempt), and forget that a run is queued (a
    broker may have lost it: the next change queues another). Harmless to repeat: an attempt
    takes the delivery's lease first. How many were queued.

    Run it outside a transaction: the flag is cleared (and committed) first, in a statement
    of its own, and only then are the due deliveries looked for, without the counter's lock:
    a change that committed before the flag was cleared is found by the search; one that
    commits after it sees no run queued and queues one itself. Nothing is lost, and writes
    are not held up while the sweep queues."""
    _outside_transactions("webhooks_resume")
    _clear_run_queued()
    now = now or timezone.now()
    due = WebhookDelivery.objects.due(now)
    count = 0
    for chunk in keyset_chunks(due.only("pk"), RESUME_CHUNK):
        _enqueue(chunk)
        count += len(chunk)
    return count


def webhooks_deliver_due(*, batch_size: int = DUE_BATCH) -> int:
    """One attempt at each delivery due now, oldest first, `batch_size` read at a time: a
    queued run. How many were attempted (or found taken, done or cancelled).

    It first clears `delivery_run_queued`, a transaction of its own (committed before the
    search: it refuses to run inside a transaction, RuntimeError), which waits for the
    counter row's lock: a change holding it commits first, and its deliveries are found; one
    that takes it later sees no run queued and queues another. A run that found any queues
    its successor (a linger, `_queue_next_run`); one that found none leaves the flag
    cleared."""
    _outside_transactions("webhooks_deliver_due")
    _clear_run_queued()
    seen = 0
    after: tuple[datetime, Any] | None = None
    while True:
        due = WebhookDelivery.objects.due(timezone.now()).order_by("created_at", "pk")
        if after is not None:
            due = due.filter(keyset_beyond(("created_at", "pk"), after, after=True))
        batch = list(due.values_list("created_at", "pk")[:batch_size])
        for _, delivery_id in batch:
            webhook_attempt(delivery_id=str(delivery_id))
        seen += len(batch)
        if len(batch) < batch_size:
            break
        after = batch[-1]
    if seen:
        _queue_next_run()
    return seen


def _queue_next_run() -> None:
    """After a run that found deliveries due: queue its successor,
    VIDPIPE_WEBHOOK_RUN_LINGER seconds later, and set the flag again, in one transaction
    that holds the counter's lock (with the database backend the task row is written in
    it; with a broker it is sent at commit). While deliveries keep coming the run stays
    queued, so changes find the flag set and queue nothing; the first run that finds
    nothing due leaves the flag cleared and stops (deliveries waiting for a retry have
    their own tasks). When a change queued a run during this one (the flag is set again
    already), that run is the successor."""
    from manifests.tasks import deliver_due_webhooks

    linger = settings.VIDPIPE_WEBHOOK_RUN_LINGER
    with transaction.atomic():
        unset = EventCounter.objects.filter(pk=COUNTER_ID, delivery_run_queued=False)
        if not unset.update(delivery_run_queued=True):
            return
        if linger > 0:
            later = timezone.now() + timedelta(seconds=linger)
            _send(deliver_due_webhooks.using(run_after=later))
        else:
            _send(deliver_due_webhooks)


def retry_delay(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1-based): exponential, jittered."""
    base = settings.VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS * RETRY_FACTOR ** (attempt - 1)
    return timedelta(seconds=base * random.uniform(1 - JITTER, 1 + JITTER))


def _claim(delivery_id: str) -> tuple[WebhookDelivery | None, str]:
    """Take the delivery's lease for one attempt; (None, why not) when it is not to be
    attempted now."""
    now = timezone.now()
    with transaction.atomic():
        # Another worker claiming it: skip it (PostgreSQL); the delivery row alone is locked,
        # not its subscription's, which a change making deliveries reads at commit.
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None, "gone, or another attempt is being claimed"
        if delivery.status != Status.PENDING:
            return None, f"already {delivery.status.lower()}"
        if not delivery.subscription.active:
            delivery.status = Status.CANCELLED
            delivery.finished_at = now
            delivery.save(update_fields=["status", "finished_at"])
            return None, "cancelled: the subscription is off"
        if delivery.lease_until is not None and delivery.lease_until > now:
            return None, "another attempt is running"
        if delivery.next_attempt_at > now + timedelta(seconds=1):
            return None, "not due yet"
        delivery.attempts += 1
        delivery.lease_until = now + timedelta(seconds=settings.VIDPIPE_WEBHOOK_LEASE_SECONDS)
        delivery.save(update_fields=["attempts", "lease_until"])
    return delivery, ""


def webhook_attempt(*, delivery_id: str) -> str:
    """Attempt a delivery once, log it, and decide what follows; what happened."""
    delivery, skipped = _claim(delivery_id)
    if delivery is None:
        return skipped
    subscription = delivery.subscription
    started = timezone.now()
    body = delivery.body.encode()
    status, excerpt, latency, error = None, "", 0, ""
    try:
        headers = signed_headers(subscription.secret, delivery.webhook_id, body, started)
        answer = outbound.post(subscription.url, body, headers)
        status, excerpt, latency = answer.status, answer.excerpt, answer.latency_ms
    except outbound.TargetRefused as exc:
        error = f"Refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if not latency:
        latency = int((timezone.now() - started).total_seconds() * 1000)
    return _record_attempt(delivery, started, status, excerpt, latency, error)


def _record_attempt(
    delivery: WebhookDelivery,
    started: datetime,
    status: int | None,
    excerpt: str,
    latency: int,
    error: str,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        number = DeliveryAttempt.objects.filter(delivery=delivery).count() + 1
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            attempted_at=started,
            status_code=status,
            latency_ms=latency,
            response_excerpt=excerpt,
            error=error[:500],
        )
        outcome = f"HTTP {status}" if status is not None else error
        delivery.lease_until = None
        if status is not None and 200 <= status < 300:
            delivery.status = Status.SUCCEEDED
            delivery.finished_at = now
            result = "delivered"
        elif status == 410:
            delivery.status = Status.FAILED
            delivery.finished_at = now
            _disable(
                delivery.subscription_id,
                f"The target answered 410 Gone to {delivery.webhook_id} at "
                f"{now:%Y-%m-%d %H:%M:%S} UTC: it asked to receive no more.",
            )
            result = "gone: subscription switched off"
        elif delivery.attempts >= settings.VIDPIPE_WEBHOOK_MAX_ATTEMPTS:
            delivery.status = Status.FAILED
            delivery.finished_at = now
            _disable(
                delivery.subscription_id,
                f"{delivery.attempts} attempts to deliver {delivery.webhook_id} failed "
                f"(the last at {now:%Y-%m-%d %H:%M:%S} UTC: {outcome[:200]}).",
            )
            result = f"failed for good ({outcome}): subscription switched off"
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
            _enqueue([delivery], run_after=delivery.next_attempt_at)
            result = f"failed ({outcome}); attempt {delivery.attempts + 1} at " + (
                delivery.next_attempt_at.isoformat(timespec="seconds")
            )
        delivery.save(update_fields=["status", "finished_at", "lease_until", "next_attempt_at"])
    return result
