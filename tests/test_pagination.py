"""Lists at scale: bounded counts (`?count=estimate`, the admin's paginator) and the cursor
walk (`?pagination=cursor`) of manifests and assets."""

import base64
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from django.contrib.admin import site
from django.db import connection
from django.db.models.functions import Length
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from manifests import services
from manifests.admin.common import BoundedChangeList
from manifests.counting import (
    AdminPaginator,
    BoundedPaginator,
    bounded_count,
    planner_estimate,
)
from manifests.models import Asset, Manifest
from tests.admin_forms import MANIFEST_CHANGELIST

ON_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (the planner's row estimate)"
)
ON_SQLITE = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="SQLite's answer (no planner estimate)"
)


def bulk_manifests(count: int, *, at=None, prefix: str = "M", **fields) -> list[Manifest]:
    """`count` live manifests in one INSERT; all created at `at` when given."""
    made = Manifest.objects.bulk_create(
        Manifest(name=f"{prefix}{number:04d}", **fields) for number in range(count)
    )
    if at is not None:
        Manifest.all_objects.filter(pk__in=[m.pk for m in made]).update(created_at=at)
    return made


def walk_order(queryset) -> list[str]:
    """Ids in the cursor's order, as the database sorts them."""
    return [str(pk) for pk in queryset.order_by("created_at", "id").values_list("pk", flat=True)]


def walk(api, url: str, *, limit: int = 100, during=None) -> list[list[str]]:
    """Every page's ids, following `next` from `url` (calls `during(page_number)` between
    pages)."""
    pages = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
        if during is not None:
            during(len(pages))
        assert len(pages) < limit, "the walk does not end"
    return pages


def flat(pages: list[list[str]]) -> list[str]:
    return [pk for page in pages for pk in page]


def analyze(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


# --- bounded_count -----------------------------------------------------------------------


def test_bounded_count_is_exact_up_to_the_limit(db):
    bulk_manifests(5)

    assert bounded_count(Manifest.objects.all(), 5) == (5, True)
    assert bounded_count(Manifest.objects.all(), 100) == (5, True)
    assert bounded_count(Manifest.objects.filter(name="M0003"), 2) == (1, True)


def test_bounded_count_reads_at_most_limit_plus_one_rows(db):
    bulk_manifests(5)

    with CaptureQueriesContext(connection) as queries:
        bounded_count(Manifest.objects.all(), 3)

    assert "LIMIT 4" in queries.captured_queries[0]["sql"]


@ON_POSTGRES
def test_bounded_count_past_the_limit_is_the_planners_estimate(db):
    bulk_manifests(300)
    analyze("manifests_manifest")

    with CaptureQueriesContext(connection) as queries:
        count, exact = bounded_count(Manifest.objects.all(), 10)

    assert not exact
    assert 200 <= count <= 400  # the planner's figure after ANALYZE, not a count
    assert queries.captured_queries[1]["sql"].startswith("EXPLAIN (FORMAT JSON) SELECT")


@ON_POSTGRES
def test_an_estimate_is_kept_for_its_seconds_per_query(db, settings):
    settings.VIDPIPE_COUNT_ESTIMATE_SECONDS = 1
    bulk_manifests(300)
    analyze("manifests_manifest")
    styles = Manifest.objects.filter(category="STYLES")

    def explains(queryset) -> int:
        with CaptureQueriesContext(connection) as queries:
            planner_estimate(queryset)
        return sum(q["sql"].startswith("EXPLAIN") for q in queries.captured_queries)

    assert (explains(Manifest.objects.all()), explains(Manifest.objects.all())) == (1, 0)
    assert explains(styles) == 1  # another query: its own estimate
    analyze("manifests_manifest")
    assert explains(Manifest.objects.all()) == 0  # kept, whatever ANALYZE did meanwhile
    time.sleep(1.05)
    assert explains(Manifest.objects.all()) == 1
    settings.VIDPIPE_COUNT_ESTIMATE_SECONDS = 0
    assert (explains(styles), explains(styles)) == (1, 1)


@ON_POSTGRES
def test_an_estimate_is_never_below_the_limit(db):
    bulk_manifests(30)
    analyze("manifests_manifest")
    # No statistics on length(name): the planner guesses 0.5 % of the rows, all pass.
    few = Manifest.objects.annotate(length=Length("name")).filter(length=5)

    assert bounded_count(few, 10) == (11, False)


@ON_SQLITE
def test_bounded_count_past_the_limit_is_unknown_on_sqlite(db):
    bulk_manifests(5)

    assert bounded_count(Manifest.objects.all(), 3) == (None, False)


# --- ?count= -----------------------------------------------------------------------------


def test_default_list_answer_is_unchanged(api, db):
    bulk_manifests(3)

    body = api.get("/api/manifests").json()

    assert list(body) == ["count", "next", "previous", "results"]
    assert body["count"] == 3


def test_count_estimate_is_exact_below_the_limit(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 10
    bulk_manifests(4)

    body = api.get("/api/manifests?count=estimate&page_size=3").json()

    assert (body["count"], body["count_is_estimate"]) == (4, False)
    assert "page=2" in body["next"]
    assert api.get(body["next"]).json()["next"] is None


@ON_POSTGRES
def test_count_estimate_past_the_limit_is_the_planners_and_flagged(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 10
    bulk_manifests(60)
    analyze("manifests_manifest")

    body = api.get("/api/manifests?count=estimate&page_size=25").json()

    assert body["count_is_estimate"] is True
    assert 30 <= body["count"] <= 120  # the planner's figure after ANALYZE, at least 11
    assert len(body["results"]) == 25
    exact = api.get("/api/manifests?count=exact").json()
    assert exact["count"] == 60 and "count_is_estimate" not in exact


@ON_SQLITE
def test_count_estimate_past_the_limit_has_no_count_on_sqlite(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 10
    bulk_manifests(12)

    body = api.get("/api/manifests?count=estimate&page_size=5").json()

    assert (body["count"], body["count_is_estimate"]) == (None, True)
    assert len(body["results"]) == 5 and body["next"] and body["previous"] is None


def test_count_estimate_by_default_is_exact_when_the_rows_end_on_the_page(api, db):
    bulk_manifests(7)

    fits = api.get("/api/manifests?count=estimate&page_size=10").json()
    more = api.get("/api/manifests?count=estimate&page_size=3").json()
    last = api.get("/api/manifests?count=estimate&page_size=3&page=3").json()

    assert (fits["count"], fits["count_is_estimate"], fits["next"]) == (7, False, None)
    assert more["count_is_estimate"] is True and more["next"]
    if connection.vendor == "postgresql":
        assert more["count"] >= 4  # the planner's figure, at least the rows seen and one more
    else:
        assert more["count"] is None
    # The last page knows where the rows end: its count is exact.
    assert (last["count"], last["count_is_estimate"], last["next"]) == (7, False, None)
    assert [row["name"] for row in last["results"]] == ["M0000"]


def test_count_estimate_by_default_reads_the_page_once_and_counts_nothing(api, settings, db):
    settings.VIDPIPE_COUNT_ESTIMATE_SECONDS = 0  # the estimate's EXPLAIN on every request
    bulk_manifests(7)
    url = "/api/manifests?count=estimate&page_size=3&search=M000"
    api.get(url)  # the token's user is cached by then

    with CaptureQueriesContext(connection) as queries:
        assert len(api.get(url).json()["results"]) == 3

    reads = [q["sql"] for q in queries.captured_queries if "manifests_manifest" in q["sql"]]
    assert len([sql for sql in reads if "LIKE" in sql or "instr(" in sql]) == 1 + (
        connection.vendor == "postgresql"  # the planner's estimate: an EXPLAIN, no rows read
    )
    assert not any("COUNT(" in sql for sql in reads)
    assert "LIMIT 4" in reads[0]  # the page and one row more


def test_a_probe_up_to_the_limit_serves_the_page_by_key(api, settings, db):
    # With a limit past the page, the count probe reads the keys once; the page is then
    # read by primary key (the search only rechecked on its rows), not searched again.
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 20
    made = bulk_manifests(12)
    url = "/api/manifests?count=estimate&page_size=5&search=M00&ordering=name"

    with CaptureQueriesContext(connection) as queries:
        body = api.get(url).json()

    assert (body["count"], body["count_is_estimate"]) == (12, False)
    assert [row["name"] for row in body["results"]] == [m.name for m in made[:5]]
    probe, page_read = [q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"]]
    assert "LIMIT 21" in probe
    assert '"manifests_manifest"."id" IN (' in page_read and "LIMIT" not in page_read


def test_count_estimate_pages_follow_next_to_every_row(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 10
    made = bulk_manifests(23)

    seen, url = [], "/api/manifests?count=estimate&page_size=5&ordering=name"
    while url:
        body = api.get(url).json()
        seen += [row["name"] for row in body["results"]]
        url = body["next"]

    assert seen == sorted(m.name for m in made)
    assert api.get("/api/manifests?count=estimate&page_size=5&page=6").status_code == 404


@pytest.mark.parametrize("page", ["1000000000000000000", "99999999999999999999999"])
def test_count_estimate_a_page_past_any_table_is_a_404(api, settings, db, page):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 2  # estimated (PostgreSQL) or unknown (SQLite)
    bulk_manifests(4)
    if connection.vendor == "postgresql":
        analyze("manifests_manifest")

    response = api.get(f"/api/manifests?count=estimate&page={page}")

    assert response.status_code == 404


def browsable_page_links(response) -> dict[str, str]:
    """The browsable API's page controls: {label: "active" or "link"}."""
    assert response.status_code == 200
    controls = BeautifulSoup(response.content, "html.parser").select_one("ul.pagination")
    assert controls is not None, "no page controls"
    return {
        item.get_text(strip=True): "active" if "active" in item.get("class", []) else "link"
        for item in controls.select("li")
        if item.get_text(strip=True).isdigit()
    }


@ON_POSTGRES
def test_count_estimate_browsable_api_past_a_stale_estimate(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 5
    bulk_manifests(300, category="CUSTOM")
    analyze("manifests_manifest")
    bulk_manifests(200, prefix="S", category="STYLES")  # the statistics know none of them
    url = "/api/manifests?count=estimate&category=STYLES&page_size=2"
    assert api.get(url).json()["count"] < 80  # the stale estimate: fewer than 40 pages

    links = browsable_page_links(api.get(f"{url}&page=40", HTTP_ACCEPT="text/html"))

    assert links["40"] == "active" and links["41"] == "link"  # a row follows page 40
    assert browsable_page_links(api.get(f"{url}&page=100", HTTP_ACCEPT="text/html"))["100"]


@ON_SQLITE
def test_count_estimate_browsable_api_pages_an_unknown_count(api, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 2
    bulk_manifests(7)

    links = browsable_page_links(
        api.get("/api/manifests?count=estimate&page_size=2&page=2", HTTP_ACCEPT="text/html")
    )

    assert links == {"1": "link", "2": "active", "3": "link"}


@pytest.mark.parametrize("limit", [2, 100], ids=["estimated", "exact"])
def test_count_estimate_refuses_page_last_naming_page(api, settings, db, limit):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = limit
    bulk_manifests(7)

    response = api.get("/api/manifests?count=estimate&page_size=2&page=last")

    assert response.status_code == 400
    assert list(response.json()) == ["page"] and "count=estimate" in response.json()["page"][0]
    last = api.get("/api/manifests?page_size=2&page=last").json()  # exact: as before
    assert len(last["results"]) == 1 and last["next"] is None


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("count=approximate", "count"),
        ("pagination=offset", "pagination"),
        ("pagination=cursor&ordering=name", "ordering"),
        ("cursor=abc&ordering=-updated_at", "ordering"),
        ("pagination=page&cursor=abc", "cursor"),
    ],
)
def test_unknown_modes_are_refused_naming_the_parameter(api, db, query, parameter):
    response = api.get(f"/api/manifests?{query}")

    assert response.status_code == 400
    assert list(response.json()) == [parameter]


def test_an_unknown_count_mode_names_the_allowed_ones(api, db):
    message = api.get("/api/manifests?count=approximate").json()["count"][0]

    assert "exact" in message and "estimate" in message


# --- the cursor walk ---------------------------------------------------------------------


def test_cursor_walk_gives_every_row_once_in_order_despite_equal_timestamps(api, db):
    instant = timezone.now()
    bulk_manifests(7, at=instant, prefix="same")
    bulk_manifests(4, at=instant - timedelta(seconds=1), prefix="earlier")
    bulk_manifests(3, at=instant + timedelta(seconds=1), prefix="later")

    pages = walk(api, "/api/manifests?pagination=cursor&page_size=3")

    assert [len(page) for page in pages] == [3, 3, 3, 3, 2]
    assert flat(pages) == walk_order(Manifest.objects.all())


def test_cursor_walk_descending(api, db):
    instant = timezone.now()
    bulk_manifests(5, at=instant)
    bulk_manifests(2, at=instant - timedelta(seconds=1), prefix="earlier")

    pages = walk(api, "/api/manifests?pagination=cursor&page_size=2&ordering=-created_at")

    assert flat(pages) == walk_order(Manifest.objects.all())[::-1]


def test_cursor_walk_sees_changes_behind_it_never_twice(api, db):
    instant = timezone.now()
    bulk_manifests(10, at=instant)
    order = walk_order(Manifest.objects.all())
    deleted = order[7]
    added = []

    def change(page_number: int):
        if page_number == 1:
            services.manifest_soft_delete(manifest=Manifest.objects.get(pk=deleted))
            services.manifest_soft_delete(manifest=Manifest.objects.get(pk=order[0]))
            added.append(str(services.manifest_create(name="Added mid-walk").pk))

    ids = flat(walk(api, "/api/manifests?pagination=cursor&page_size=3", during=change))

    assert len(ids) == len(set(ids))
    assert ids == [pk for pk in order if pk != deleted] + added  # order[0] was already seen


def test_cursor_previous_goes_back_a_page(api, db):
    bulk_manifests(8, at=timezone.now())
    first = api.get("/api/manifests?pagination=cursor&page_size=3").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    back = api.get(third["previous"]).json()
    back_again = api.get(back["previous"]).json()

    assert first["previous"] is None
    assert back["results"] == second["results"]
    assert back_again["results"] == first["results"]
    assert back_again["previous"] is None
    assert api.get(back_again["next"]).json()["results"] == second["results"]
    assert third["next"] is None and len(third["results"]) == 2


def test_cursor_links_keep_filters_and_page_size(api, make_manifest):
    for number in range(5):
        make_manifest(f"Hero {number}", category="CHARACTERS", tags=["hero"])
    make_manifest("Forest", category="ENVIRONMENTS", tags=["hero"])
    make_manifest("Villain", category="CHARACTERS")

    first = api.get("/api/manifests?pagination=cursor&category=CHARACTERS&tag=hero&page_size=2")
    pages = walk(api, first.json()["next"])

    query = parse_qs(urlsplit(first.json()["next"]).query)
    assert query["category"] == ["CHARACTERS"] and query["page_size"] == ["2"]
    names = [row["name"] for row in first.json()["results"]]
    names += [Manifest.objects.get(pk=pk).name for pk in flat(pages)]
    assert names == [f"Hero {number}" for number in range(5)]
    found = api.get("/api/manifests?pagination=cursor&search=villain").json()
    assert [row["name"] for row in found["results"]] == ["Villain"]


def test_cursor_page_size_is_capped_at_200(api, db):
    bulk_manifests(205, at=timezone.now())

    body = api.get("/api/manifests?pagination=cursor&page_size=1000").json()

    assert len(body["results"]) == 200 and body["next"]


def cursor_of(position: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "bm90IGpzb24",  # base64 of "not json"
        cursor_of(["2024-01-01T00:00:00+00:00", "f"]),
        cursor_of(["2024-01-01T00:00:00", "00000000-0000-0000-0000-000000000000", "f"]),
        cursor_of(["2024-01-01T00:00:00+00:00", "not-a-uuid", "f"]),
        cursor_of(["2024-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000", "x"]),
        cursor_of({"a": 1}),
        # times out of datetime's range once in UTC
        cursor_of(["9999-12-31T23:59:59-14:00", "00000000-0000-0000-0000-000000000000", "f"]),
        cursor_of(["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000", "b"]),
        "A" * 400,
    ],
)
def test_a_tampered_cursor_is_refused_naming_it(api, db, cursor):
    response = api.get(f"/api/manifests?cursor={cursor}")

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_an_edited_link_is_refused(api, db):
    bulk_manifests(3, at=timezone.now())
    link = api.get("/api/manifests?pagination=cursor&page_size=1").json()["next"]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]

    assert api.get(link.replace(cursor, cursor[:-3] + "***")).status_code == 400


def test_cursor_walk_of_assets_everywhere(api, make_manifest):
    manifest, other = make_manifest("Mine"), make_manifest("Other")
    instant = timezone.now()
    Asset.objects.bulk_create(
        Asset(manifest=m, name=f"A{n}", asset_type="CHARACTER", manifest_tag=f"CHAR_{n:02d}")
        for m in (manifest, other)
        for n in range(1, 6)
    )
    Asset.objects.filter(name__in=["A2", "A3", "A4"]).update(created_at=instant)

    everything = flat(walk(api, "/api/assets?pagination=cursor&page_size=3"))
    mine = flat(walk(api, f"/api/manifests/{manifest.pk}/assets?pagination=cursor&page_size=2"))

    assert everything == walk_order(Asset.objects.all())
    assert mine == walk_order(Asset.objects.filter(manifest=manifest))
    assert api.get("/api/assets?pagination=cursor&ordering=sort_order").status_code == 400


# --- constant cost -----------------------------------------------------------------------


def grow(path: str, count: int) -> None:
    """`count` more rows of the list at `path`: manifests, or assets of one new manifest."""
    if path == "/api/manifests":
        bulk_manifests(count, prefix=f"grown{Manifest.all_objects.count()}-")
        return
    manifest = Manifest.objects.create(name="Holds assets")
    Asset.objects.bulk_create(
        Asset(manifest=manifest, name=f"A{n}", asset_type="OTHER", manifest_tag=f"OTHER_{n:02d}")
        for n in range(1, count + 1)
    )


@pytest.mark.parametrize("path", ["/api/manifests", "/api/assets"])
@pytest.mark.parametrize(
    "query", ["", "count=estimate&", "pagination=cursor&"], ids=["page", "estimate", "cursor"]
)
def test_list_pages_cost_constant_queries(api, settings, django_assert_num_queries, path, query):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 5  # estimate mode past its limit at both sizes
    url = f"{path}?{query}page_size=4"
    grow(path, 10)
    api.get(url)  # the token's user is cached by then
    with CaptureQueriesContext(connection) as small:
        assert api.get(url).status_code == 200

    grow(path, 40)
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(api.get(url).json()["results"]) == 4


# --- the admin ---------------------------------------------------------------------------


def test_admin_changelist_pages_with_a_bounded_count(curator, settings, db):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 50
    bulk_manifests(130)
    if connection.vendor == "postgresql":
        analyze("manifests_manifest")

    page = curator.get(MANIFEST_CHANGELIST)
    second = page.click(href=r"\?p=2$")
    third = second.click(href=r"\?p=3$")

    paginator = page.context["cl"].paginator
    assert len(second.context["cl"].result_list) == 50
    assert len(third.context["cl"].result_list) == 30
    text = page.html.select_one("p.paginator").get_text(" ", strip=True)
    if connection.vendor == "postgresql":  # the planner's estimate, said to be one
        assert paginator.count_is_estimate and paginator.count > 50
        assert f"about {paginator.count} manifests" in text
        # The last page says the same: the count the changelist read first.
        last = third.context["cl"]
        assert last.paginator.count_is_estimate and last.paginator.count == last.result_count
        last_text = third.html.select_one("p.paginator").get_text(" ", strip=True)
        assert f"about {last.result_count} manifests" in last_text
    else:  # no estimate: the admin counts them all
        assert not paginator.count_is_estimate
        assert "130 manifests" in text and "about" not in text


@ON_POSTGRES
@pytest.mark.parametrize("query", ["", "&all="], ids=["paged", "show-all-asked"])
def test_admin_changelist_never_shows_all_rows_by_an_estimate(curator, settings, db, query):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 2
    bulk_manifests(300, category="CUSTOM")
    analyze("manifests_manifest")
    bulk_manifests(150, prefix="S", category="STYLES")  # the statistics know none of them

    page = curator.get(f"{MANIFEST_CHANGELIST}?category__exact=STYLES{query}")

    changelist = page.context["cl"]
    assert changelist.paginator.count_is_estimate
    assert len(changelist.result_list) == changelist.list_per_page == 50
    assert not page.html.select("a.showall")
    assert len(page.click(href=r"p=2").context["cl"].result_list) == 50


def test_every_admin_with_a_bounded_count_shows_it_with_the_bounded_changelist(rf, admin_user):
    # AdminPaginator's estimate may be far below the rows: BoundedChangeList keeps "Show
    # all" from rendering them (test_admin_changelist_never_shows_all_rows_by_an_estimate).
    bounded = [a for a in site._registry.values() if a.paginator is AdminPaginator]
    request = rf.get("/")
    request.user = admin_user

    assert len(bounded) >= 5
    assert all(issubclass(a.get_changelist(request), BoundedChangeList) for a in bounded)
    assert all(a.show_full_result_count is False for a in bounded)


def test_a_page_read_by_key_keeps_its_next_when_a_row_went_meanwhile(db):
    made = bulk_manifests(12)
    paginator = BoundedPaginator(Manifest.objects.order_by("name"), 5, limit=20)
    assert (paginator.count, paginator.count_is_estimate) == (12, False)  # the probe's keys
    Manifest.all_objects.filter(pk=made[2].pk).hard_delete()

    page = paginator.page(1)

    assert [m.name for m in page] == ["M0000", "M0001", "M0003", "M0004"]
    assert page.has_next() and paginator.count == 12  # as the probe saw the rows


def test_admin_changelist_count_is_exact_below_the_limit(curator, db):
    bulk_manifests(3)

    text = curator.get(MANIFEST_CHANGELIST).html.select_one("p.paginator").get_text(" ")

    assert "3 manifests" in text and "about" not in text


@pytest.mark.parametrize(
    "changelist",
    ["/admin/manifests/asset/", "/admin/manifests/project/", "/admin/manifests/event/"],
)
def test_other_big_changelists_render_with_a_bounded_count(curator, settings, db, changelist):
    settings.VIDPIPE_EXACT_COUNT_LIMIT = 0
    manifest = services.manifest_create(name="Counted")
    services.asset_create(manifest=manifest, name="Hero", asset_type="CHARACTER")
    services.project_create(name="Film", manifest=manifest)

    page = curator.get(changelist)

    assert page.status_code == 200
    assert page.context["cl"].paginator.count >= 1


def test_schema_documents_the_modes_and_both_answers(api):
    schema = api.get("/api/schema?format=json").json()

    for path in ["/api/manifests/", "/api/assets/", "/api/manifests/{manifest_pk}/assets/"]:
        listing = schema["paths"][path]["get"]
        names = {parameter["name"] for parameter in listing["parameters"]}
        assert {"count", "pagination", "cursor", "page", "page_size"} <= names
        ref = listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page, cursor = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["anyOf"]
        assert "count_is_estimate" in page["properties"]
        assert set(cursor["properties"]) == {"next", "previous", "results"}
    projects = schema["paths"]["/api/projects/"]["get"]
    assert "cursor" not in {parameter["name"] for parameter in projects["parameters"]}
