"""The manifest changelist's date drill-down, bounded: periods between the first and the
last `updated_at` shown (two index lookups), not Django's `SELECT DISTINCT date_trunc(...)`
over every manifest (manifests.templatetags.vidpipe_admin)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from manifests.models import Manifest
from tests.queries import count_queries

CHANGELIST = reverse("admin:manifests_manifest_changelist")

pytestmark = pytest.mark.django_db


def dated(make_manifest, name: str, when: datetime) -> Manifest:
    manifest = make_manifest(name)
    Manifest.objects.filter(pk=manifest.pk).update(updated_at=when)  # auto_now otherwise
    return manifest


@pytest.fixture
def spread(make_manifest):
    """Manifests updated in 2023 and 2025 (none in 2024); in 2025, in March and May."""
    dated(make_manifest, "Old", datetime(2023, 6, 1, 12, tzinfo=UTC))
    dated(make_manifest, "March", datetime(2025, 3, 2, 12, tzinfo=UTC))
    dated(make_manifest, "May", datetime(2025, 5, 20, 12, tzinfo=UTC))


def choices(response) -> list[str]:
    return [str(choice["title"]) for choice in response.context["choices"]]


def test_years_are_every_year_between_the_first_and_last_update(admin_client, spread):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert choices(response) == ["2023", "2024", "2025"]
    assert "?updated_at__year=2024" in response.content.decode()


def test_drilling_down_lists_the_months_then_the_days_between_bounds(admin_client, spread):
    year = admin_client.get(CHANGELIST, {"updated_at__year": "2025"})
    assert choices(year) == ["March 2025", "April 2025", "May 2025"]
    month = admin_client.get(CHANGELIST, {"updated_at__year": "2025", "updated_at__month": "3"})
    assert choices(month) == ["March 2"]  # one day: the only one with a manifest
    assert [m.name for m in month.context["cl"].result_list] == ["March"]


def test_an_empty_period_shows_no_rows(admin_client, spread):
    response = admin_client.get(CHANGELIST, {"updated_at__year": "2024"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []


def test_no_manifests_no_drill_down(admin_client, db):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert "choices" not in response.context or not response.context["choices"]


def test_the_drill_down_never_scans_for_distinct_dates(admin_client, spread, make_manifest):
    def page():
        assert admin_client.get(CHANGELIST).status_code == 200

    page()  # the tag filter's counts are cached from here on
    queries = count_queries(page).sql
    assert not [sql for sql in queries if "DISTINCT" in sql.upper()], queries
    bounds = [sql for sql in queries if "MIN(" in sql.upper() and "updated_at" in sql]
    assert len(bounds) == 1  # Django's start-level bounds, reused for the years
    for number in range(20):
        dated(make_manifest, f"More {number}", datetime(2024, 1 + number % 12, 1, tzinfo=UTC))
    assert count_queries(page).count == len(queries)
