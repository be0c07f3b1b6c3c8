"""Search (`manifests.search`): one meaning for the API's `?search=` and the admin's search
box, on SQLite and PostgreSQL alike; list orderings stable on equal keys."""

import pytest
from django.urls import reverse

from manifests import services
from manifests.search import search_words

SURFACES = ["api", "admin"]


@pytest.fixture
def find(request, api, admin_client):
    """`find(kind, text)`: the names the surface under test shows for a search of `text`."""
    surface = request.param

    def found(kind: str, text: str) -> list[str]:
        if surface == "api":
            response = api.get(f"/api/{kind}s", {"search": text, "page_size": 200})
            assert response.status_code == 200, response.content
            return sorted(row["name"] for row in response.json()["results"])
        changelist = reverse(f"admin:manifests_{kind}_changelist")
        response = admin_client.get(changelist, {"q": text})
        assert response.status_code == 200
        return sorted(row.name for row in response.context["cl"].result_list)

    return found


@pytest.fixture
def library(make_manifest):
    make_manifest("Heroes", description="Brave knights of the city", tags=["hero", "noir"])
    make_manifest("Forests", description="Rainy woods", tags=["woodland", "été"])
    make_manifest("Café Noir", tags=["100%_real"])


@pytest.mark.parametrize("find", SURFACES, indirect=True)
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("hero", ["Heroes"]),  # name or tag
        ("KNIGHTS", ["Heroes"]),  # description, any case
        ("oodlan", ["Forests"]),  # inside a tag
        ("noir", ["Café Noir", "Heroes"]),  # a name here, a tag there
        ("café", ["Café Noir"]),
        ("CAFÉ", ["Café Noir"]),  # non-ASCII letters fold too (SQLite's LIKE would not)
        ("ÉTÉ", ["Forests"]),  # an accented tag, stored "\u00e9t\u00e9" on SQLite
        ("u00e9", []),  # ... which is not what is searched
        ('o"', []),  # the JSON text of ["hero", "noir"] has it; no tag does
        ('hero", "noir', []),  # across two tags
        ("rainy woods", ["Forests"]),  # words ANDed, each anywhere
        ("brave woods", []),
        ('"knights of"', ["Heroes"]),  # a quoted phrase is one word
        ("%", ["Café Noir"]),  # LIKE's wildcards are plain characters
        ("0%_r", ["Café Noir"]),
        ("_", ["Café Noir"]),
    ],
)
def test_manifest_search(find, library, text, names):
    assert find("manifest", text) == names


@pytest.mark.parametrize("find", SURFACES, indirect=True)
@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("sword", ["Sword"]),
        ("OBJ_01", ["Sword"]),  # manifest tag
        ("forged", ["Sword"]),  # description
        ("légendaire", ["Sword"]),  # user tag, accented
        ("LÉGEND", ["Sword"]),
        ("char", ["Hero"]),  # CHAR_01
        ("hero blade", []),
    ],
)
def test_asset_search(find, make_manifest, make_asset, text, names):
    manifest = make_manifest("Armoury")
    make_asset(manifest, "Hero")
    make_asset(
        manifest,
        "Sword",
        asset_type="OBJECT",
        description="Forged blade",
        user_tags=["légendaire"],
    )

    assert find("asset", text) == names


@pytest.mark.parametrize("find", SURFACES, indirect=True)
def test_search_hides_deleted_manifests_and_their_assets(find, make_manifest, make_asset):
    gone = make_manifest("Gone heroes")
    make_asset(gone, "Gone hero")
    services.manifest_soft_delete(manifest=gone)

    assert find("manifest", "hero") == []
    assert find("asset", "hero") == []


def test_admin_search_of_deleted_manifests_uses_the_same_meaning(admin_client, make_manifest):
    services.manifest_soft_delete(manifest=make_manifest("Old", tags=["été"]))
    changelist = reverse("admin:manifests_manifest_changelist")

    response = admin_client.get(changelist, {"q": "ÉTÉ", "deleted": "yes"})

    assert [m.name for m in response.context["cl"].result_list] == ["Old"]


def test_search_words_split_like_drf():
    assert search_words('a,b  "c d" x,') == ["a", "b", "c d", "x"]
    assert search_words("  ") == []


def test_equal_keys_keep_one_order_page_after_page(api, make_manifest):
    made = [make_manifest("Same") for _ in range(5)]
    by_id = sorted(str(m.pk) for m in made)

    def walk(ordering):
        first = api.get("/api/manifests", {"ordering": ordering, "page_size": 2}).json()
        rest = api.get("/api/manifests", {"ordering": ordering, "page_size": 2, "page": 2})
        last = api.get("/api/manifests", {"ordering": ordering, "page_size": 2, "page": 3})
        pages = [first, rest.json(), last.json()]
        return [row["id"] for page in pages for row in page["results"]]

    assert walk("name") == by_id
    assert walk("-name") == by_id[::-1]
