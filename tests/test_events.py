"""Events: written with their change (the outbox), by whom, and read through the feed."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from manifests import services
from manifests.actors import acting_as
from manifests.models import Event, Manifest, Project
from tests.conftest import image_upload
from tests.queries import assert_same_query_count, count_queries

pytestmark = pytest.mark.django_db


def events_of(manifest=None) -> list[tuple[str, int | None]]:
    rows = Event.objects.order_by("id")
    if manifest is not None:
        rows = rows.filter(manifest_id=manifest.pk)
    return list(rows.values_list("type", "version"))


def test_asset_creation_writes_its_event_with_the_version_after_it(make_manifest, make_asset):
    manifest = make_manifest("Cast")
    asset = make_asset(manifest, "Hero")

    event = Event.objects.get(type="asset.created")
    assert event.manifest_id == manifest.pk
    assert event.version == 2
    assert event.payload == {
        "asset_id": str(asset.pk),
        "tag": "CHAR_01",
        "name": "Hero",
        "asset_type": "CHARACTER",
    }
    assert event.actor == "system"


def test_every_operation_writes_its_event(make_manifest, make_asset):
    manifest = make_manifest("Cast")
    asset = make_asset(manifest, "Hero")
    services.asset_update(asset=asset, name="Heroine", asset_type="OBJECT")
    services.asset_attach_image(asset=asset, file=image_upload())
    other = make_asset(manifest, "Villain")
    services.asset_delete(asset=other)
    services.manifest_update(manifest=manifest, description="Who is who")
    services.manifest_update(manifest=manifest, status=Manifest.Status.PROCESSING)
    services.manifest_update(manifest=manifest, status=Manifest.Status.READY)
    project = services.project_create(name="Film", manifest=manifest)
    services.manifest_update(manifest=manifest, description="More")
    services.project_upgrade(project=Project.objects.get(pk=project.pk))
    copy = services.manifest_duplicate(manifest=manifest)
    services.manifest_soft_delete(manifest=copy)
    services.manifest_restore(manifest=copy)

    assert events_of(manifest) == [
        ("manifest.created", 1),
        ("asset.created", 2),
        ("asset.updated", 3),
        ("asset.image_changed", 4),
        ("asset.created", 5),
        ("asset.deleted", 6),
        ("manifest.updated", 7),
        ("manifest.updated", 8),
        ("manifest.status_changed", 8),
        ("manifest.updated", 9),
        ("manifest.status_changed", 9),
        ("manifest.version_frozen", 9),
        ("project.linked", 9),
        ("manifest.updated", 10),
        ("manifest.version_frozen", 10),
        ("project.repinned", 10),
    ]
    assert events_of(copy) == [
        ("manifest.duplicated", 1),
        ("manifest.deleted", 1),
        ("manifest.restored", 1),
    ]
    updated = Event.objects.filter(type="asset.updated").get()
    assert updated.payload["fields"] == ["asset_type", "name"]
    assert updated.payload["tag"] == "OBJ_01"
    status = Event.objects.filter(type="manifest.status_changed").last()
    assert status.payload == {"old": "PROCESSING", "new": "READY"}
    repinned = Event.objects.get(type="project.repinned")
    assert repinned.payload["old_version"] == 9
    assert repinned.payload["new_version"] == 10
    duplicated = Event.objects.get(type="manifest.duplicated")
    assert duplicated.payload["source_manifest_id"] == str(manifest.pk)
    assert duplicated.payload["source_version"] == 10


def test_event_ids_are_consecutive(make_manifest, make_asset):
    manifest = make_manifest()
    for number in range(5):
        make_asset(manifest, f"Extra {number}")

    ids = list(Event.objects.values_list("id", flat=True))
    assert ids == list(range(ids[0], ids[0] + 6))


def test_a_purge_writes_purged_events(make_manifest, make_asset):
    manifest = make_manifest("Old")
    make_asset(manifest)
    services.manifest_soft_delete(manifest=manifest)

    services.manifests_purge(older_than=timedelta(0))

    purged = Event.objects.get(type="manifest.purged")
    assert purged.manifest_id == manifest.pk
    assert purged.payload == {"name": "Old", "assets": 1}


def test_a_rolled_back_change_leaves_no_event(make_manifest, make_asset):
    manifest = make_manifest()
    before = Event.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        make_asset(manifest, "Doomed")
        raise RuntimeError("the request failed after the change")

    assert Event.objects.count() == before
    assert not manifest.assets.exists()
    # And the ids it had taken are handed out again: no gap.
    make_asset(manifest, "Kept")
    ids = list(Event.objects.values_list("id", flat=True))
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_a_refused_change_writes_no_event(make_manifest):
    manifest = make_manifest()
    before = Event.objects.count()

    with pytest.raises(ValidationError):
        services.asset_create(manifest=manifest, name="Bad", asset_type="NOT_A_TYPE")

    assert Event.objects.count() == before


@pytest.mark.django_db(transaction=True)
def test_events_are_only_written_inside_a_transaction():
    with pytest.raises(RuntimeError, match="transaction"):
        services.event_record("manifest.created")
    # The test database was flushed (no counter row): ids start after the last event kept.
    with transaction.atomic():
        first = services.event_record("manifest.created")
        second = services.event_record("manifest.created")
    assert second.id == first.id + 1


def test_the_api_names_the_user_as_actor(api, make_manifest):
    manifest = make_manifest()

    response = api.post(
        f"/api/manifests/{manifest.pk}/assets", {"name": "A", "asset_type": "STYLE"}
    )

    assert response.status_code == 201
    assert Event.objects.get(type="asset.created").actor == "user:curator"


def test_a_command_names_itself_as_actor(make_manifest):
    manifest = make_manifest("Source")

    call_command("duplicate_manifest", str(manifest.pk), verbosity=0)

    assert Event.objects.get(type="manifest.duplicated").actor == "command:duplicate_manifest"


def test_acting_as_names_the_actor(make_manifest):
    with acting_as("command:nightly"):
        make_manifest()
    assert Event.objects.get().actor == "command:nightly"


# --- The feed -------------------------------------------------------------------------------


def test_the_feed_pages_with_a_stable_cursor(reader_api, make_manifest, make_asset):
    manifest = make_manifest()
    for number in range(4):
        make_asset(manifest, f"Extra {number}")
    ids = list(Event.objects.values_list("id", flat=True))

    first = reader_api.get("/api/events", {"limit": 3}).json()
    second = reader_api.get("/api/events", {"after": first["next_after"], "limit": 3}).json()
    third = reader_api.get("/api/events", {"after": second["next_after"]}).json()

    assert [e["id"] for e in first["results"]] == ids[:3]
    assert first["has_more"] is True
    assert [e["id"] for e in second["results"]] == ids[3:]
    assert second["has_more"] is False
    assert third == {"results": [], "next_after": ids[-1], "has_more": False}
    make_asset(manifest, "Late")
    fourth = reader_api.get("/api/events", {"after": third["next_after"]}).json()
    assert [e["type"] for e in fourth["results"]] == ["asset.created"]
    assert fourth["results"][0]["id"] == ids[-1] + 1


def test_the_feed_filters_by_type_and_manifest(reader_api, make_manifest, make_asset):
    cast, props = make_manifest("Cast"), make_manifest("Props")
    make_asset(cast, "Hero")
    make_asset(props, "Sword", asset_type="OBJECT")
    services.manifest_update(manifest=props, description="Sharp")

    by_type = reader_api.get("/api/events", {"type": "asset.created,manifest.updated"}).json()
    by_manifest = reader_api.get("/api/events", {"manifest": str(props.pk)}).json()

    assert [e["type"] for e in by_type["results"]] == [
        "asset.created",
        "asset.created",
        "manifest.updated",
    ]
    assert [e["type"] for e in by_manifest["results"]] == [
        "manifest.created",
        "asset.created",
        "manifest.updated",
    ]
    assert {e["manifest_id"] for e in by_manifest["results"]} == {str(props.pk)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "-1"}, "after"),
        ({"after": "x"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"type": "asset.exploded"}, "type"),
        ({"type": ",".join(["asset.created"] * 30)}, "type"),
        ({"manifest": "not-a-uuid"}, "manifest"),
    ],
)
def test_the_feed_refuses_bad_parameters_with_a_reason(reader_api, params, field):
    response = reader_api.get("/api/events", params)

    assert response.status_code == 400
    assert field in response.json()


def test_the_feed_needs_a_signed_in_user(anon_api):
    assert anon_api.get("/api/events").status_code == 401


def test_the_feed_costs_constant_queries(reader_api, make_manifest, make_asset):
    manifest = make_manifest()
    make_asset(manifest)
    small = count_queries(lambda: reader_api.get("/api/events"))
    for number in range(30):
        make_asset(manifest, f"Extra {number}")
    large = count_queries(lambda: reader_api.get("/api/events"))

    assert_same_query_count(small, large)


# --- Retention --------------------------------------------------------------------------------


def test_purge_events_removes_old_events_in_batches(make_manifest, capsys):
    make_manifest("Old")
    make_manifest("Older")
    Event.objects.update(occurred_at=timezone.now() - timedelta(days=40))
    make_manifest("New")

    call_command("purge_events", "--older-than", "30", "--dry-run")
    assert Event.objects.count() == 3
    assert "would delete 2 events" in capsys.readouterr().out

    call_command("purge_events", "--older-than", "30", "--batch-size", "1")
    assert list(Event.objects.values_list("payload__name", flat=True)) == ["New"]
    assert "Deleted 2 events in 2 batches" in capsys.readouterr().out
