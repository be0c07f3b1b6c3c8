"""Lineage: the ancestors a manifest was copied from and the copies made of it, from the
model layer (a bounded number of queries) and on the admin's lineage page."""

from django.urls import reverse

from manifests import services
from manifests.models import Manifest
from tests.queries import (
    CapturedQueries,
    assert_num_queries,
    assert_same_query_count,
    count_queries,
)


def chain_of_copies(make_manifest, depth: int) -> list[Manifest]:
    """An original and `depth` generations of copies, each copied from the one before."""
    chain = [make_manifest("Gen 0")]
    for generation in range(1, depth + 1):
        chain.append(services.manifest_duplicate(manifest=chain[-1], name=f"Gen {generation}"))
    return chain


def test_an_original_has_no_ancestors(make_manifest):
    original = make_manifest("Heroes")

    with assert_num_queries(0):
        assert original.ancestors() == []


def test_ancestors_run_from_the_original_to_the_parent(make_manifest):
    chain = chain_of_copies(make_manifest, 3)

    assert chain[-1].ancestors() == chain[:-1]
    assert chain[1].ancestors() == [chain[0]]


def test_ancestors_include_deleted_manifests(make_manifest):
    original, copy, grandchild = chain_of_copies(make_manifest, 2)
    services.manifest_soft_delete(manifest=copy)

    assert grandchild.ancestors() == [original, copy]


def test_ancestors_cost_one_query_whatever_the_depth(make_manifest):
    shallow = chain_of_copies(make_manifest, 1)[-1]
    deep = chain_of_copies(make_manifest, 8)[-1]

    with assert_num_queries(1):
        assert len(shallow.ancestors()) == 1
    with assert_num_queries(1):
        assert len(deep.ancestors()) == 8


def test_ancestors_end_on_a_cycle(make_manifest):
    first, second, third = chain_of_copies(make_manifest, 2)
    Manifest.all_objects.filter(pk=first.pk).update(parent_manifest=third)  # by hand only

    assert third.ancestors() == [first, second]


def test_copies_of_lists_direct_copies_oldest_first(make_manifest):
    original = make_manifest("Heroes")
    first = services.manifest_duplicate(manifest=original, name="First")
    second = services.manifest_duplicate(manifest=original, name="Second")
    services.manifest_duplicate(manifest=first, name="Copy of a copy")
    services.manifest_soft_delete(manifest=second)

    assert list(Manifest.all_objects.copies_of(original)) == [first, second]
    assert list(Manifest.objects.copies_of(original)) == [first]


def test_lineage_page_costs_constant_queries(admin_client, make_manifest):
    def cost(manifest) -> CapturedQueries:
        url = reverse("admin:manifests_manifest_lineage", args=[manifest.pk])
        admin_client.get(url)  # warm the session

        def view():
            assert admin_client.get(url).status_code == 200

        return count_queries(view)

    shallow = chain_of_copies(make_manifest, 1)
    deep = chain_of_copies(make_manifest, 6)

    assert_same_query_count(cost(shallow[-1]), cost(deep[-1]))
    assert_same_query_count(cost(shallow[0]), cost(deep[0]))
