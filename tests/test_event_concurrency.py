"""Event ids under concurrent writers, for real: threads with their own connections against
PostgreSQL (on SQLite, where writers are serialised anyway, these are skipped)."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from manifests import services
from manifests.models import Event
from tests.threads import run_in_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]

WRITERS = 50


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (concurrent transactions on real connections)")


def test_concurrent_asset_creations_give_consecutive_events_a_consumer_never_misses(staff_user):
    manifest = services.manifest_create(name="Crowd")
    token = Token.objects.create(user=staff_user).key
    after = Event.objects.latest("id").id
    pages: list[list[int]] = []
    done = threading.Event()

    def consume() -> None:
        # A consumer polling the feed while the writers commit: each page must continue
        # exactly where the last one ended.
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        cursor = after
        try:
            while True:
                finished = done.is_set()
                body = client.get("/api/events", {"after": cursor, "type": "asset.created"})
                ids = [e["id"] for e in body.json()["results"]]
                if ids:
                    pages.append(ids)
                    cursor = body.json()["next_after"]
                elif finished:
                    return
        finally:
            connections.close_all()

    consumer = threading.Thread(target=consume)
    consumer.start()

    def create(i: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post(
            f"/api/manifests/{manifest.pk}/assets", {"name": f"a{i}", "asset_type": "CHARACTER"}
        )
        return response.status_code

    try:
        results = run_in_threads(create, WRITERS)
    finally:
        done.set()
        consumer.join(timeout=60)

    assert results == [201] * WRITERS
    events = list(Event.objects.filter(type="asset.created").values_list("id", "version"))
    ids = [event_id for event_id, _ in events]
    assert len(ids) == len(set(ids)) == WRITERS
    assert ids == list(range(after + 1, after + 1 + WRITERS))
    # Id order is commit order: the manifest's version went up with each, in the same order.
    assert [version for _, version in events] == list(range(2, 2 + WRITERS))
    seen = [event_id for page in pages for event_id in page]
    assert seen == ids
