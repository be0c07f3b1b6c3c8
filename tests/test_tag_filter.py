"""Tag counts: aggregated in the database (`ManifestQuerySet.tag_counts`) and offered by the
changelist's tag filter, most used first, over the manifests the deletion filter shows."""

import pytest
from django.urls import reverse

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


def tag_lookups(admin_client, **params) -> list[tuple[str, str]]:
    response = admin_client.get(CHANGELIST, params)
    assert response.status_code == 200
    (spec,) = [f for f in response.context["cl"].filter_specs if isinstance(f, TagFilter)]
    return spec.lookup_choices


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


def test_changelist_queries_do_not_grow_with_manifests_or_tags(admin_client, make_manifest):
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
