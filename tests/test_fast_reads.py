"""Reads through `manifests.fast_reads` show exactly what DRF's own serializers show."""

import json
from decimal import Decimal

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from manifests import services
from manifests.fast_reads import FastReads
from manifests.media_urls import SALT, SignedURLStorage, media_signature
from manifests.models import Manifest
from manifests.serializers import (
    AssetSerializer,
    ManifestDetailSerializer,
    ManifestSerializer,
    absolute_url_builder,
)
from tests.conftest import image_upload

FAST_SERIALIZERS = [AssetSerializer, ManifestSerializer, ManifestDetailSerializer]


@pytest.fixture
def drf_reads(monkeypatch):
    """Switch the fast path off: every read goes through DRF's `Serializer.to_representation`,
    of model instances (list pages too)."""

    def switch():
        monkeypatch.setattr(
            FastReads, "to_representation", serializers.Serializer.to_representation
        )
        monkeypatch.setattr(FastReads, "read_rows", classmethod(lambda cls, qs, also=(): qs))

    return switch


@pytest.fixture
def library(make_manifest, make_asset):
    """Manifests as varied as the API shows them: nulls, files or none, unicode, decimals,
    JSON progress, a deleted parent."""
    pictured = make_manifest(
        "Héros — 東京 \u2028 line", description='Ünïcode "quoted" <b> & \\ \u2029', tags=["a", "ß"]
    )
    for index in range(3):
        asset = make_asset(pictured, name=f"Hero {index} ☃", user_tags=["x"] if index else [])
        if index < 2:
            services.asset_attach_image(asset=asset, file=image_upload(f"hero {index} é.png"))
    services.manifest_render_contact_sheet(manifest=pictured)
    plain = make_manifest(
        "Plain",
        category="OBJECTS",
        status="PROCESSING",
        processing_progress={"step": "thumbs", "done": 0.5, "big": 10**20, "n": None, "é": [1e-7]},
        total_processing_cost=Decimal("12.3456"),
    )
    make_manifest("Costly", total_processing_cost=Decimal("0.1"), tags=[])
    parent = make_manifest("Parent")
    child = services.manifest_duplicate(manifest=parent)
    services.manifest_soft_delete(manifest=parent)
    services.project_create(name="user", manifest=plain)  # last_used_at, times_used
    return [pictured, plain, child]


def bodies(api, addresses: list[str]) -> list[bytes]:
    responses = [api.get(address) for address in addresses]
    assert [r.status_code for r in responses] == [200] * len(addresses)
    return [r.content for r in responses]


def test_api_answers_are_the_same_bytes_as_drf_serializers_give(api, library, drf_reads):
    pictured, plain, child = library
    addresses = [
        "/api/manifests",
        "/api/manifests?ordering=name&page_size=2&page=2",
        "/api/manifests?ordering=-times_used&category=OBJECTS&status=PROCESSING",
        "/api/manifests?search=H%C3%A9ros&tag=%C3%9F",
        "/api/manifests?ordering=created_at&page_size=1",
        f"/api/manifests/{pictured.pk}",
        f"/api/manifests/{plain.pk}",
        f"/api/manifests/{child.pk}",
        f"/api/manifests/{pictured.pk}/assets",
        "/api/assets",
        f"/api/assets/{pictured.assets.first().pk}",
    ]
    fast = bodies(api, addresses)
    drf_reads()
    assert bodies(api, addresses) == fast
    shown = json.loads(fast[0])["results"]
    assert {m["thumbnail_url"] is None for m in shown} == {True, False}
    assert any(m["parent_manifest_id"] for m in shown)
    detail = fast[addresses.index(f"/api/manifests/{pictured.pk}")].decode()
    assert "\\u2028" in detail and "東京" in detail
    assert json.loads(fast[3])["count"] == 1  # search and tag found the pictured one


@pytest.mark.parametrize("serializer_class", FAST_SERIALIZERS, ids=lambda c: c.__name__)
def test_fast_representation_equals_drf_for_every_row(
    serializer_class, library, drf_reads, settings
):
    settings.ALLOWED_HOSTS = ["cdn.example"]
    request = RequestFactory().get("/api/manifests", secure=True, HTTP_HOST="cdn.example:8443")
    context = {"request": request}
    if serializer_class is AssetSerializer:
        rows = list(library[0].assets.all())
    else:
        rows = list(Manifest.all_objects.with_assets())
    fast = serializer_class(rows, many=True, context=context).data
    drf_reads()
    slow = serializer_class(rows, many=True, context=context).data
    assert fast == slow
    assert [list(row) for row in fast] == [list(row) for row in slow]  # key order too
    assert JSONRenderer().render(fast) == JSONRenderer().render(slow)


def test_list_rows_show_what_instances_show(library, drf_reads, settings):
    """A list page's rows (named tuples of columns, no model instance) give the same
    representation as the instances, DRF's own, for every kind of row."""
    settings.ALLOWED_HOSTS = ["cdn.example"]
    request = RequestFactory().get("/api/manifests", secure=True, HTTP_HOST="cdn.example:8443")
    context = {"request": request}
    queryset = Manifest.all_objects.order_by("created_at")
    rows = list(ManifestSerializer.read_rows(queryset, also=["updated_at", "created_at"]))
    assert rows and all(not isinstance(row, Manifest) for row in rows)
    assert all(row.created_at and row.updated_at for row in rows)  # a paginator may read them
    fast = ManifestSerializer(rows, many=True, context=context).data
    drf_reads()
    slow = ManifestSerializer(list(queryset), many=True, context=context).data
    assert JSONRenderer().render(fast) == JSONRenderer().render(slow)
    assert {m["thumbnail_url"] is None for m in fast} == {True, False}


def test_api_list_reads_rows(api, library, django_assert_num_queries):
    """The list action reads rows (the same queries); other reads keep instances."""
    from manifests.views.manifests import ManifestViewSet

    view = ManifestViewSet(action="list", request=None, kwargs={})
    assert not isinstance(view.get_queryset()[0], Manifest)
    with django_assert_num_queries(3):  # the token, the count, the page
        assert api.get("/api/manifests?page_size=2").status_code == 200


class PictureField(serializers.Field):
    def to_representation(self, value):
        return value.url if value else None


@pytest.mark.parametrize(
    "extra",
    [
        {"shown": serializers.SerializerMethodField()},  # asks the serializer
        {"parent": serializers.PrimaryKeyRelatedField(source="parent_manifest", read_only=True)},
        {"picture": PictureField(source="thumbnail")},  # reads a FieldFile, not a name
        {"count_of_copies": serializers.IntegerField(source="copies.count", read_only=True)},
    ],
    ids=["method", "relation", "file", "dotted"],
)
def test_rows_only_when_every_field_reads_a_column(extra, make_manifest):
    """A field that needs the instance keeps the list on instances, shown by DRF."""

    class Shown(FastReads, serializers.ModelSerializer):
        locals().update(extra)

        class Meta:
            model = Manifest
            fields = ["id", "name", *extra]

        def get_shown(self, manifest):
            return manifest.name

    make_manifest()
    queryset = Manifest.objects.all()
    assert Shown.read_rows(queryset) is queryset
    data = Shown(queryset, many=True).data
    assert [list(row) for row in data] == [["id", "name", *extra]]


@pytest.mark.parametrize("serializer_class", FAST_SERIALIZERS, ids=lambda c: c.__name__)
def test_fast_reads_cover_every_declared_field(serializer_class):
    """The plan is derived from the serializer's fields: a new field is read and shown
    like the others, and the plan stays shared by every request (no field bound to one
    serializer instance; see FastReads)."""
    declared = [name for name, field in serializer_class().fields.items() if not field.write_only]
    templates = serializer_class.read_templates()
    assert templates is not None, "a field depends on its serializer instance: see fast_reads"
    assert [name for name, _read, _make in templates] == declared


def test_settings_that_shape_answers_reach_the_fast_path(api, make_manifest, settings):
    make_manifest()
    assert api.get("/api/manifests").json()["results"][0]["created_at"].endswith("Z")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DATETIME_FORMAT": "%Y"}
    created = api.get("/api/manifests").json()["results"][0]["created_at"]
    assert created.isdigit() and len(created) == 4


@pytest.mark.parametrize(
    "url",
    [
        "/media/a/b.png?expires=1&signature=x-_Y",
        "/media/caf%C3%A9/b c.png",
        "/media/café/b.png",
        "/media/./a.png",
        "/media/x/../a.png",
        "//other.example/a.png",
        "https://bucket.s3.example/a.png?X-Amz-Signature=1",
        "relative/a.png",
    ],
)
def test_absolute_urls_are_what_django_builds(url, settings):
    settings.ALLOWED_HOSTS = ["host.example"]
    request = RequestFactory().get("/api/manifests", HTTP_HOST="host.example:8000")
    assert absolute_url_builder(request)(url) == request.build_absolute_uri(url)


@pytest.mark.parametrize(
    "name",
    [
        "manifests/1/uploads/a_hero.png",
        "manifests/1/uploads/a hero é#?.png",
        "/leading/slash.png",
        "a//double.png",
        "a/./dot.png",
        "a/../up.png",
        ".hidden/a.png",
        "trailing/",
    ],
)
@pytest.mark.parametrize("base_url", ["/media/", "https://cdn.example/files/"])
def test_storage_urls_are_what_filesystem_storage_builds(name, base_url, settings):
    settings.VIDPIPE_PUBLIC_MEDIA = True
    assert SignedURLStorage(base_url=base_url).url(name) == FileSystemStorage(
        base_url=base_url
    ).url(name)


def test_media_signature_is_djangos_and_follows_the_secret_key(settings):
    from django.core import signing

    made = media_signature("a/b.png", 1234)
    assert made == signing.Signer(salt=SALT).sign("1234/a/b.png").rsplit(":", 1)[1]
    settings.SECRET_KEY = "another-" + "k" * 50
    assert media_signature("a/b.png", 1234) != made
    assert media_signature("a/b.png", 1234) == signing.Signer(salt=SALT).signature("1234/a/b.png")


def test_filter_backend_skips_django_filter_only_when_no_parameter_is_named(api, make_manifest):
    from django_filters import CharFilter, FilterSet

    from manifests.filters import AssetFilter, ManifestFilter, nothing_to_filter

    def request(query: str):
        from rest_framework.request import Request

        return Request(RequestFactory().get(f"/api/manifests{query}"))

    assert nothing_to_filter(ManifestFilter, request("?ordering=name&page=2"))
    assert not nothing_to_filter(ManifestFilter, request("?category="))  # named, even empty
    assert not nothing_to_filter(AssetFilter, request("?manifest_tag=CHAR_01"))

    class Custom(FilterSet):
        name = CharFilter()

        def filter_queryset(self, queryset):  # filters without a parameter
            return queryset.none()

        class Meta:
            model = Manifest
            fields = ["name"]

    assert not nothing_to_filter(Custom, request(""))
    make_manifest("Kept", category="OBJECTS")
    make_manifest("Other")
    assert api.get("/api/manifests").json()["count"] == 2
    assert [m["name"] for m in api.get("/api/manifests?category=OBJECTS").json()["results"]] == [
        "Kept"
    ]
    refused = api.get("/api/manifests?category=NOPE")
    assert refused.status_code == 400 and "category" in refused.json()
