"""PostgreSQL's plans for the queries the API runs: every list, filter, ordering and search
reads manifests and assets through an index (migration 0006), never a sequential scan;
and the migration's pg_trgm check names the SQL a superuser must run."""

import importlib
import uuid

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from manifests.models import Asset, Manifest

pytestmark = pytest.mark.postgres_only

MANIFESTS = 10000
WORDS = ["dragon", "forest", "castle", "robot", "ocean", "desert", "knight", "galaxy"]
CATEGORIES = ["CHARACTERS", "ENVIRONMENTS", "OBJECTS", "STYLES", "MIXED", "CUSTOM"]
STATUSES = ["DRAFT", "PROCESSING", "READY", "ERROR"]

migration = importlib.import_module("manifests.migrations.0006_scale_indexes")


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (its planner and the pg_trgm GIN indexes)")


@pytest.fixture
def big_library(db):
    """Enough rows that the planner prefers an index on its own (no enable_seqscan)."""
    manifests = [
        Manifest(
            # Searched words are rare, as real ones are: in one name, description or tag
            # of a few hundred (a word in a third of the rows is rightly a scan).
            name=f"{WORDS[i % 8]} {'zephyr ' if i % 300 == 7 else ''}set {i}",
            description=f"Sheet {i} for the {'nebula ' if i % 250 == 3 else ''}scenes",
            category=CATEGORIES[i % 6],
            status=STATUSES[i % 4],
            tags=[f"tag{i % 500}", f"{WORDS[i % 7]}-{i % 300}", *(["aurora"] * (i % 280 == 5))],
            times_used=i % 97,
            asset_count=2,
        )
        for i in range(MANIFESTS)
    ]
    # One in ten deleted, as in a library that has been curated for a while.
    for manifest in manifests[::10]:
        manifest.deleted_at = timezone.now()
    Manifest.all_objects.bulk_create(manifests, batch_size=1000)
    assets = [
        Asset(
            manifest=manifest,
            asset_type="CHARACTER" if n == 0 else "OBJECT",
            name=f"{WORDS[(i + n) % 8]} {'zephyr ' if i % 600 == 7 and n else ''}piece {n}",
            manifest_tag=f"CHAR_0{n + 1}",
            description=f"Piece {n} of set {i}",
            user_tags=[f"look{(i + n) % 400}", *(["borealis"] * (i % 500 == 11 and n))],
            sort_order=n,
        )
        for i, manifest in enumerate(manifests)
        for n in range(2)
    ]
    Asset.all_objects.bulk_create(assets, batch_size=2000)
    with connection.cursor() as cursor:
        # Rows inserted into a GIN index wait in its pending list, which the planner
        # prices as a scan of the list, until (auto)vacuum merges them: merge them now,
        # as a database that has lived a while has (VACUUM cannot run in the test's
        # transaction; this function can).
        cursor.execute(
            "SELECT gin_clean_pending_list(c.oid) FROM pg_class c "
            "JOIN pg_am a ON a.oid = c.relam AND a.amname = 'gin' "
            "JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE i.indrelid IN ('manifests_manifest'::regclass, 'manifests_asset'::regclass)"
        )
        cursor.execute("ANALYZE manifests_manifest")
        cursor.execute("ANALYZE manifests_asset")
    return manifests


def plans_of(api, url: str) -> dict[str, str]:
    """The plan of every query on manifests or assets that the request to `url` ran."""
    with CaptureQueriesContext(connection) as captured:
        response = api.get(url)
    assert response.status_code == 200, (url, response.content)
    plans = {}
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.startswith("SELECT") or not any(
            table in sql for table in ('"manifests_manifest"', '"manifests_asset"')
        ):
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            plans[sql] = "\n".join(row[0] for row in cursor.fetchall())
    assert plans, f"{url} ran no query on manifests or assets"
    return plans


LIST_URLS = [
    "/api/manifests",
    "/api/manifests?category=CHARACTERS&status=READY&tag=tag6",
    "/api/manifests?category=STYLES",
    "/api/manifests?status=ERROR",
    "/api/manifests?tag=tag42",
    "/api/manifests?search=zephyr",  # in names
    "/api/manifests?search=NEBULA",  # in descriptions
    "/api/manifests?search=auror",  # in tags
    "/api/manifests?search=Zephyr+set+1207",  # words ANDed
    "/api/manifests?ordering=name",
    "/api/manifests?ordering=-name",
    "/api/manifests?ordering=-times_used",
    "/api/manifests?ordering=asset_count",
    "/api/manifests?ordering=created_at",
    "/api/manifests?ordering=-updated_at",
    "/api/assets",
    "/api/assets?search=zephyr",
    "/api/assets?search=BOREAL",  # a user tag
    "/api/assets?asset_type=OBJECT",
    "/api/assets?source=GENERATED",
    "/api/assets?tag=borealis",
    "/api/assets?manifest_tag=CHAR_01",
    "/api/assets?ordering=-created_at",
    "/api/assets?ordering=updated_at",
    "/api/assets?ordering=name",
    "/api/assets?ordering=-manifest_tag",
]

ESTIMATE_URLS = [
    "/api/manifests?count=estimate",
    "/api/manifests?count=estimate&ordering=name",
    "/api/manifests?count=estimate&category=STYLES",
    "/api/assets?count=estimate",
]


def test_lists_filters_orderings_searches_and_details_read_through_indexes(api, big_library):
    # One test for every URL: building the library is most of its time.
    for url in LIST_URLS:
        for sql, plan in plans_of(api, url).items():
            if sql.startswith("SELECT COUNT(*)") and "LIKE" not in sql:
                # A page number's exact count of a whole (or filtered) list reads every
                # matching row whichever the plan; bounding it is manifests/counting.py's.
                continue
            assert "Seq Scan on manifests_manifest" not in plan, f"{url}\n{sql}\n{plan}"
            assert "Seq Scan on manifests_asset" not in plan, f"{url}\n{sql}\n{plan}"

    # With ?count=estimate the count is a probe of at most VIDPIPE_EXACT_COUNT_LIMIT + 1
    # keys in the list's own order: it walks the index that serves the page, never the table.
    for url in ESTIMATE_URLS:
        for sql, plan in plans_of(api, url).items():
            assert "Seq Scan on manifests_manifest" not in plan, f"{url}\n{sql}\n{plan}"
            assert "Seq Scan on manifests_asset" not in plan, f"{url}\n{sql}\n{plan}"

    # Search looks words up in the trigram indexes, and a detail page reads by keys.
    plans = "\n".join(plans_of(api, "/api/manifests?search=zephyr").values())
    for index in ["manifest_name_trgm", "manifest_description_trgm", "manifest_tags_trgm"]:
        assert index in plans, plans
    plans = "\n".join(plans_of(api, "/api/assets?search=zephyr").values())
    for index in ["asset_name_trgm", "asset_description_trgm", "asset_user_tags_trgm"]:
        assert index in plans, plans
    manifest = next(m for m in big_library if m.deleted_at is None)
    for url in [f"/api/manifests/{manifest.pk}", f"/api/manifests/{manifest.pk}/assets"]:
        for sql, plan in plans_of(api, url).items():
            assert "Seq Scan" not in plan, f"{url}\n{sql}\n{plan}"


# --- the migration's pg_trgm check -----------------------------------------------------


@pytest.fixture
def database_without_trigram(django_db_blocker):
    """A scratch database without pg_trgm, and a Django connection to it as a role that
    may not create extensions there (no CREATE on the database); dropped afterwards."""
    from django.db.backends.postgresql.base import DatabaseWrapper

    suffix = uuid.uuid4().hex[:8]
    name, role = f"vidpipe_noext_{suffix}", f"vidpipe_noext_{suffix}"
    with django_db_blocker.unblock():
        admin = DatabaseWrapper({**connection.settings_dict, "NAME": "postgres"}, "noext_admin")
        admin.settings_dict["OPTIONS"] = {}
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {role} LOGIN")
            cursor.execute(f"CREATE DATABASE {name}")
        limited = DatabaseWrapper(
            {**connection.settings_dict, "NAME": name, "USER": role, "OPTIONS": {}}, "noext"
        )
        try:
            yield limited, name
        finally:
            limited.close()
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}")
                cursor.execute(f"DROP ROLE IF EXISTS {role}")
            admin.close()


def test_a_role_that_may_not_create_pg_trgm_is_told_what_to_run(database_without_trigram):
    limited, name = database_without_trigram

    with pytest.raises(ImproperlyConfigured) as refused:
        migration.ensure_trigram_extension(limited)

    assert f"psql -d {name} -c 'CREATE EXTENSION pg_trgm;'" in str(refused.value)
    assert "as a superuser" in str(refused.value)


def test_pg_trgm_is_created_where_the_role_may(database_without_trigram, django_db_blocker):
    limited, _name = database_without_trigram
    with django_db_blocker.unblock():
        owner = type(limited)(
            {**limited.settings_dict, "USER": connection.settings_dict["USER"]}, "noext_owner"
        )
        try:
            migration.ensure_trigram_extension(owner)
            migration.ensure_trigram_extension(owner)  # already there: nothing to do
            with owner.cursor() as cursor:
                cursor.execute("SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")
                assert cursor.fetchall() == [("pg_trgm",)]
        finally:
            owner.close()


def test_the_migrations_label_function_joins_with_the_search_modules_separator(db):
    # manifests.search.LABEL_SEPARATOR and the SQL function of migration 0006 must agree:
    # a word holding the separator is checked label by label only because of it.
    from manifests.search import LABEL_SEPARATOR

    with connection.cursor() as cursor:
        cursor.execute("""SELECT vidpipe_label_text('["a", 1, "b", null, "c"]'::jsonb)""")
        (joined,) = cursor.fetchone()
    assert joined == LABEL_SEPARATOR.join(["a", "b", "c"])


def test_searched_expressions_keep_a_finer_histogram(db):
    # Migration 0008: the planner guesses how many rows a search matches from these
    # histograms, and picks its plan by that guess (walk the order's index, or collect the
    # matches): 1,000 entries instead of 100 keep the guess within about a factor of 2.
    statistics = importlib.import_module("manifests.migrations.0008_search_statistics")
    indexes = [name for names in statistics.SEARCHED_INDEXES.values() for name in names]
    trigram = [
        name for name, _table, expression in migration.POSTGRESQL_INDEXES if "trgm" in expression
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, a.attstattarget FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname = ANY(%s) AND a.attnum = 1",
            [indexes],
        )
        targets = dict(cursor.fetchall())

    assert sorted(indexes) == sorted(trigram)  # every trigram index of 0006, none other
    assert targets == {name: statistics.STATISTICS_TARGET for name in indexes}
