"""The manifest and asset changelists render their rows faster than Django's own code
(`FastChangeListRows`) and must render exactly what Django's code would: the action
checkbox and every row link, byte for byte, on pages of names that need escaping."""

import re
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.test import RequestFactory
from django.urls import resolve, reverse

from manifests.admin.common import ChangeListRowLinks, FastChangeListRows
from manifests.models import Asset, Manifest

AWKWARD_NAMES = ['Heroes & "villains"', "<script>alert(1)</script>", "Café d'été", "plain"]


def without_csrf(html: bytes) -> str:
    # Each render masks the CSRF token differently; the rest of the page must not differ.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html.decode())


def as_django_renders(monkeypatch, model_admin_class) -> None:
    """Put Django's own checkbox and row links back on `model_admin_class`."""
    monkeypatch.setattr(model_admin_class, "action_checkbox", admin.ModelAdmin.action_checkbox)
    monkeypatch.setattr(model_admin_class, "get_changelist", admin.ModelAdmin.get_changelist)


@pytest.mark.parametrize(
    "query", [{}, {"o": "2"}, {"q": "é", "o": "-2"}, {"_popup": "1", "q": "é"}], ids=str
)
@pytest.mark.parametrize("model", [Manifest, Asset])
def test_changelist_page_is_the_one_djangos_code_renders(
    admin_client, make_manifest, make_asset, monkeypatch, model, query
):
    for name in AWKWARD_NAMES:
        manifest = make_manifest(name, tags=["hero"])
        make_asset(manifest, name=name)
    url = reverse(f"admin:manifests_{model._meta.model_name}_changelist")
    model_admin_class = type(admin.site._registry[model])
    assert issubclass(model_admin_class, FastChangeListRows)

    ours = admin_client.get(url, query)
    as_django_renders(monkeypatch, model_admin_class)
    djangos = admin_client.get(url, query)

    assert ours.status_code == djangos.status_code == 200
    shown = [name for name in AWKWARD_NAMES if query.get("q", "").lower() in name.lower()]
    assert len(ours.context["cl"].result_list) == len(shown)
    # A popup (choosing a manifest for a form) has no actions, so no checkboxes.
    assert ('class="action-select"' in ours.content.decode()) is ("_popup" not in query)
    # Row links carry the search, filters and order back (preserved filters).
    if query:
        assert ours.content.decode().count("_changelist_filters=") >= 3
    assert without_csrf(ours.content) == without_csrf(djangos.content)


def test_action_checkbox_is_djangos_for_every_name(make_manifest):
    model_admin = admin.site._registry[Manifest]
    for name in AWKWARD_NAMES:
        manifest = make_manifest(name)
        assert model_admin.action_checkbox(manifest) == admin.ModelAdmin.action_checkbox(
            model_admin, manifest
        )


@pytest.mark.parametrize(
    "key", ["3f1c2a9e-0000-4000-8000-000000000001", "a b/c_d%e?f#g&h", "ümlaut:@!*()'", "_5F"]
)
@pytest.mark.parametrize("query", [{}, {"q": "hero & co", "category__exact": "STYLES"}], ids=str)
def test_row_link_is_the_one_django_builds(admin_user, key, query):
    # Keys with characters the admin and reverse() each quote, with and without filters to
    # carry: the same link as reverse() then add_preserved_filters give.
    request = RequestFactory().get("/admin/manifests/manifest/", query)
    request.user = admin_user
    request.resolver_match = resolve(request.path)  # as the admin's URLs set it
    model_admin = admin.site._registry[Manifest]
    changelist = model_admin.get_changelist_instance(request)
    assert isinstance(changelist, ChangeListRowLinks)
    row = SimpleNamespace(id=key)

    if query:
        assert changelist.row_filters  # the filters the links must carry back
    djangos = add_preserved_filters(
        {"preserved_filters": model_admin.get_preserved_filters(request), "opts": Manifest._meta},
        ChangeList.url_for_result(changelist, row),
    )
    assert changelist.url_for_result(row) == djangos
    # What Django's items_for_result then does to it changes nothing.
    assert (
        add_preserved_filters(
            {"preserved_filters": changelist.preserved_filters, "opts": Manifest._meta},
            changelist.url_for_result(row),
        )
        == djangos
    )
