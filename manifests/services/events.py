"""Events: the transactional outbox of every domain change, and its pull feed.

Each change writes its events in its own transaction (`manifest_change` for changes of a
manifest; creation, duplication, purging and freezing write theirs where they happen), so a
rolled-back change leaves none and a committed one always has its own.

Ids come from one counter row (`EventCounter`), updated under its row lock: a transaction
that writes events holds that lock from its first event to its commit. Transactions that
write events therefore commit in the order of their ids, and a rolled-back one gives its ids
back. A consumer reading `after=<id>` can never see id n+1 before id n has committed (the
trap of a sequence, whose ids are handed out at INSERT time, not at commit), and ids
committed are consecutive. The cost: writers of events on different manifests wait for
each other for the tail of their transactions (the event write is the last statement of
`manifest_change`); on SQLite every writer is serialised already.

The statement that takes the ids also reads the rest of the counter row, which it holds
locked: who wants events (`EventCounter.subscribers`) and whether a delivery run is queued.
After the events are written, `AFTER_EVENTS` hooks run in the same transaction with the
events and that row (webhooks make their deliveries there, without another look-up: a change
no subscription wants costs two statements, take the ids and insert the events).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from manifests.actors import current_actor
from manifests.models import Event, EventCounter, EventType
from manifests.models.events import COUNTER_ID, create_counter_row
from manifests.services.common import keyset_chunks

FEED_TYPES = frozenset(t.value for t in EventType if t != EventType.WEBHOOK_TEST)
DEFAULT_FEED_LIMIT = 100
MAX_FEED_LIMIT = 1000
DEFAULT_EVENT_RETENTION = timedelta(days=90)
DEFAULT_PURGE_BATCH = 1000


@dataclass(frozen=True)
class EventDraft:
    """An event to write: what happened, to which manifest, at which version after it."""

    type: str
    manifest_id: Any = None
    version: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)


# Run inside the writing transaction with the events just written and the counter row as it
# stands under the lock (webhooks register here).
AFTER_EVENTS: list[Callable[[list[Event], EventCounter], None]] = []


def _take_ids(count: int) -> EventCounter:
    """Take `count` ids under the counter's row lock (held to commit): the row after it,
    whose `last_id` is the last id taken."""
    table = connection.ops.quote_name(EventCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_id = last_id + %s WHERE id = %s "
            "RETURNING last_id, subscribers, delivery_run_queued",
            [count, COUNTER_ID],
        )
        row = cursor.fetchone()
    if row is not None:
        last_id, subscribers, queued = row
        json_field = EventCounter._meta.get_field("subscribers")
        return EventCounter(
            pk=COUNTER_ID,
            last_id=last_id,
            subscribers=json_field.from_db_value(subscribers, None, connection) or {},
            delivery_run_queued=bool(queued),
        )
    create_counter_row()
    return _take_ids(count)


def events_record(drafts: list[EventDraft]) -> list[Event]:
    """Write these events, in order, in the caller's transaction (required)."""
    if not drafts:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("Events are written in the transaction of their change: open one.")
    counter = _take_ids(len(drafts))
    now = timezone.now()
    actor = current_actor()
    first = counter.last_id - len(drafts) + 1
    events = [
        Event(
            id=first + position,
            type=draft.type,
            occurred_at=now,
            manifest_id=draft.manifest_id,
            version=draft.version,
            actor=actor,
            payload=draft.payload,
        )
        for position, draft in enumerate(drafts)
    ]
    Event.objects.bulk_create(events)
    for hook in AFTER_EVENTS:
        hook(events, counter)
    return events


def event_record(
    type: str, *, manifest_id: Any = None, version: int | None = None, **payload: Any
) -> Event:
    """Write one event in the caller's transaction."""
    return events_record([EventDraft(type, manifest_id, version, payload)])[0]


def events_feed(
    *,
    after: int = 0,
    types: list[str] | None = None,
    manifest_id: Any = None,
    limit: int = DEFAULT_FEED_LIMIT,
) -> list[Event]:
    """Events after the id `after`, in id order, at most `limit` (one query)."""
    events = Event.objects.filter(id__gt=after)
    if types:
        events = events.filter(type__in=types)
    if manifest_id is not None:
        events = events.filter(manifest_id=manifest_id)
    return list(events.order_by("id")[:limit])


@dataclass
class EventPurgeReport:
    dry_run: bool
    cutoff: datetime
    events: int = 0
    batches: int = 0


def events_purge(
    *,
    older_than: timedelta = DEFAULT_EVENT_RETENTION,
    dry_run: bool = False,
    batch_size: int = DEFAULT_PURGE_BATCH,
    now: datetime | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> EventPurgeReport:
    """Delete events that occurred more than `older_than` ago (with their deliveries),
    `batch_size` per transaction; with `dry_run`, count them only."""
    if older_than < timedelta(0):
        raise ValueError("older_than must not be negative.")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    cutoff = (now or timezone.now()) - older_than
    report = EventPurgeReport(dry_run=dry_run, cutoff=cutoff)
    old = Event.objects.filter(occurred_at__lt=cutoff).values_list("pk", flat=True)
    chunks: Iterator[list[int]] = keyset_chunks(old, batch_size)
    for ids in chunks:
        if not dry_run:
            with transaction.atomic():
                Event.objects.filter(pk__in=ids).delete()
        report.events += len(ids)
        report.batches += 1
        if on_batch is not None:
            on_batch(len(ids))
    return report
