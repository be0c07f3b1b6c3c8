"""Tag counts: aggregated in the database (`ManifestQuerySet.tag_counts`) and offered by the
changelist's tag filter, most used first, over the manifests the deletion filter shows:
the latest VIDPIPE_ADMIN_TAG_SAMPLE of them, cached for VIDPIPE_ADMIN_TAG_COUNTS_SECONDS."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from manifests import services
from manifests.admin.filters import TagFilter
from manifests.models import Manifest
from tests.queries import assert_num_queries, assert_same_query_count, count_queries

CHANGELIST = reverse("admin:manifests_manifest_changelist")


@pytest.fixture
def tagged(make_manifest):
    """Live tags: hero on 3 manifests, night on 2, day on 1; 4 deleted ones carry dusk and day."""
    make_manifest("A", tags=["hero", "night", "day"])
    make_manifest("B", tags=["night", "hero"])
    make_manifest("C", tags=["hero"])
    make_manifest("Untagged")
    for number in range(4):
        gone = make_manifest(f"Gone {number}", tags=["dusk", "day"])
        services.manifest_soft_delete(manifest=gone)


def tag_spec(admin_client, **params) -> TagFilter:
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    (spec,) = [f for f in response.context["cl"].filter_specs if isinstance(f, TagFilter)]
    return spec


def tag_lookups(admin_client, **params) -> list[tuple[str, str]]:
    return tag_spec(admin_client, **params).lookup_choices


def counts_tags(queries) -> bool:
    """Whether the tag counting query is among `queries` (captured by pytest-django)."""
    return any("GROUP BY label.value" in query["sql"] for query in queries)


def test_tag_counts_are_the_most_used_tags_first(tagged):
    assert Manifest.objects.tag_counts(10) == [("hero", 3), ("night", 2), ("day", 1)]


def test_tag_counts_follow_the_queryset(tagged):
    assert Manifest.deleted_objects.tag_counts(10) == [("day", 4), ("dusk", 4)]
    assert Manifest.all_objects.tag_counts(10) == [
        ("day", 5),
        ("dusk", 4),
        ("hero", 3),
        ("night", 2),
    ]
    assert Manifest.objects.filter(name__in=["B", "C"]).tag_counts(10) == [
        ("hero", 2),
        ("night", 1),
    ]
    assert Manifest.objects.none().tag_counts(10) == []


def test_tag_counts_stop_at_the_limit_in_one_query(tagged):
    with assert_num_queries(1):
        assert Manifest.objects.tag_counts(2) == [("hero", 3), ("night", 2)]


def test_tag_filter_offers_live_tags_with_counts_most_used_first(admin_client, tagged):
    assert tag_lookups(admin_client) == [
        ("hero", "hero (3)"),
        ("night", "night (2)"),
        ("day", "day (1)"),
    ]


def test_tag_filter_counts_what_the_deletion_filter_shows(admin_client, tagged):
    assert tag_lookups(admin_client, deleted="yes") == [("day", "day (4)"), ("dusk", "dusk (4)")]
    assert tag_lookups(admin_client, deleted="all")[:2] == [
        ("day", "day (5)"),
        ("dusk", "dusk (4)"),
    ]


def test_tag_filter_keeps_the_selected_tag_beyond_the_most_used(admin_client, tagged, monkeypatch):
    monkeypatch.setattr(TagFilter, "MOST_USED", 2)

    assert tag_lookups(admin_client) == [("hero", "hero (3)"), ("night", "night (2)")]
    assert tag_lookups(admin_client, tag="day") == [
        ("hero", "hero (3)"),
        ("night", "night (2)"),
        ("day", "day"),
    ]


def test_changelist_queries_do_not_grow_with_manifests_or_tags(
    admin_client, make_manifest, settings
):
    # Exact counts at both sizes: this test looks for queries that grow with the rows. (Past
    # a page an estimated count adds one EXPLAIN, the same at any size: test_pagination.py.)
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 1000

    def build(start, count):
        for number in range(start, start + count):
            manifest = make_manifest(f"Set {number}", tags=["hero", f"t{number}", f"u{number}"])
            if number % 3 == 0:
                services.manifest_soft_delete(manifest=manifest)

    def cost(**params):
        admin_client.get(CHANGELIST, params)  # warm the session and the content-type cache

        def changelist():
            assert admin_client.get(CHANGELIST, params).status_code == 200

        return count_queries(changelist)

    build(0, 6)
    few = [cost(), cost(deleted="all"), cost(tag="hero")]
    build(6, 60)
    many = [cost(), cost(deleted="all"), cost(tag="hero")]

    for small, large in zip(few, many, strict=True):
        assert_same_query_count(small, large)


def test_tag_counts_take_only_strings_from_hand_edited_lists(make_manifest):
    odd = make_manifest("Odd")
    make_manifest("Plain", tags=["x"])
    make_manifest("Scalar")
    Manifest.objects.filter(pk=odd.pk).update(tags=["x", 1, None, {"a": "b"}, ["y"], "z"])
    Manifest.objects.filter(name="Scalar").update(tags="not a list")

    assert Manifest.objects.tag_counts(10) == [("x", 2), ("z", 1)]


# --- bounded: cached per view for a period, counted over the latest manifests --------------


def test_tag_counts_are_counted_once_per_view_and_period(
    admin_client, tagged, django_assert_max_num_queries
):
    with django_assert_max_num_queries(50) as cold:
        assert admin_client.get(CHANGELIST).status_code == 200
    assert counts_tags(cold.captured_queries)

    with django_assert_max_num_queries(len(cold.captured_queries) - 1) as warm:
        assert tag_lookups(admin_client)[0] == ("hero", "hero (3)")
    assert not counts_tags(warm.captured_queries)

    with django_assert_max_num_queries(50) as other_view:
        assert tag_lookups(admin_client, deleted="yes")[0] == ("day", "day (4)")
    assert counts_tags(other_view.captured_queries)  # each view has its own counts


def test_tag_counts_are_at_most_the_period_old(admin_client, tagged, settings, monkeypatch):
    settings.VIDPIPE_ADMIN_TAG_COUNTS_SECONDS = 60
    assert tag_lookups(admin_client)[0] == ("hero", "hero (3)")
    for number in range(4):
        services.manifest_create(name=f"Late {number}", tags=["late"])

    assert tag_lookups(admin_client)[0] == ("hero", "hero (3)")  # within the period: cached

    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert tag_lookups(admin_client)[0] == ("late", "late (4)")


def test_no_period_counts_on_every_view(admin_client, tagged, settings):
    settings.VIDPIPE_ADMIN_TAG_COUNTS_SECONDS = 0
    assert tag_lookups(admin_client)[0] == ("hero", "hero (3)")
    for number in range(4):
        services.manifest_create(name=f"Late {number}", tags=["late"])

    assert tag_lookups(admin_client)[0] == ("late", "late (4)")


@pytest.fixture
def aged(make_manifest):
    """Five live manifests created a day apart, oldest first: "old" on the two oldest,
    "new" on the three newest, "all" on every one."""
    start = timezone.now() - timedelta(days=10)
    for number in range(5):
        manifest = make_manifest(f"Day {number}", tags=["old" if number < 2 else "new", "all"])
        Manifest.objects.filter(pk=manifest.pk).update(created_at=start + timedelta(days=number))


def test_tag_counts_cover_the_latest_manifests_and_the_title_says_so(admin_client, aged, settings):
    settings.VIDPIPE_ADMIN_TAG_SAMPLE = 3

    spec = tag_spec(admin_client)

    assert spec.title == "tag (latest 3 manifests)"
    assert spec.lookup_choices == [("all", "all (3)"), ("new", "new (3)")]


def test_a_view_within_the_sample_is_counted_whole_under_the_plain_title(
    admin_client, aged, settings
):
    settings.VIDPIPE_ADMIN_TAG_SAMPLE = 5

    spec = tag_spec(admin_client)

    assert spec.title == "tag"
    assert spec.lookup_choices == [("all", "all (5)"), ("new", "new (3)"), ("old", "old (2)")]


def test_a_tag_outside_the_sample_can_still_be_chosen(admin_client, aged, settings):
    settings.VIDPIPE_ADMIN_TAG_SAMPLE = 3

    response = admin_client.get(CHANGELIST, {"tag": "old"})

    (spec,) = [f for f in response.context["cl"].filter_specs if isinstance(f, TagFilter)]
    assert ("old", "old") in spec.lookup_choices
    assert sorted(m.name for m in response.context["cl"].result_list) == ["Day 0", "Day 1"]
