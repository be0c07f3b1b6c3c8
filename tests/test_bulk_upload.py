"""Many images at once: `POST /api/manifests/{id}/assets/bulk` and `assets_bulk_create`.

Every file is checked before a row is written; accepted files become assets in file order in
one change of the manifest (one version bump, constant queries); refused files are named
with their reason, and leave no row and no file behind.
"""

import errno
import io
import os

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from manifests import services
from manifests.exceptions import BulkUploadRefused, StorageUnavailable
from manifests.models import Asset, Manifest
from tests.conftest import file_name_of, image_bytes, stored_files
from tests.image_factories import TEXT, animated_gif, encode, png_bomb, truncated, two_colour
from tests.queries import assert_num_queries, assert_same_query_count, count_queries
from tests.threads import run_in_threads

pytestmark = pytest.mark.s3  # run again with every file on S3: tests/object_storage.py


def image(name: str, fmt: str = "PNG", size=(8, 6), color="red") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(fmt, size=size, color=color))


def not_an_image(name: str = "notes.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, TEXT)


def bulk_url(manifest) -> str:
    return f"/api/manifests/{manifest.pk}/assets/bulk"


def post_bulk(api, manifest, files, **fields):
    data = {"files": files, "asset_type": "CHARACTER", **fields}
    return api.post(bulk_url(manifest), data, format="multipart")


def rows_and_files(manifest, media_root):
    manifest = Manifest.objects.get(pk=manifest.pk)
    assets = list(Asset.objects.filter(manifest=manifest).values_list("manifest_tag", flat=True))
    return manifest.version, manifest.asset_count, assets, stored_files(media_root)


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("hero_front.png", "hero front"),
        ("hero__front__v2.png", "hero front v2"),
        ("spider-man.jpg", "spider-man"),
        ("hero--front.png", "hero front"),
        ("hero.front.final.png", "hero.front.final"),
        ("  café_noir .webp", "café noir"),
        ("photos/2024/hero_front.png", "hero front"),
        ("C:\\Users\\me\\hero_front.png", "hero front"),
        ("\uff48\uff45\uff52\uff4f.png", "hero"),  # full-width letters: NFKC
        ("tab\there.png", "tab here"),
        (".hidden.png", "hidden"),
        ("noextension", "noextension"),
        ("_--_.png", "Image 7"),
        (".png", "png"),
        ("", "Image 7"),
        ("\udcff\udcfe.png", "??"),  # a file name in another encoding
        ("x" * 300 + ".png", "x" * 200),
    ],
)
def test_names_default_to_the_cleaned_file_name(filename, expected):
    assert services.asset_name_from_filename(filename, fallback="Image 7") == expected


# --- the API -------------------------------------------------------------------------------


def test_bulk_upload_creates_assets_in_file_order_with_one_version_bump(
    api, make_manifest, make_asset, media_root
):
    manifest = make_manifest()
    make_asset(manifest, name="Existing")  # CHAR_01
    before = Manifest.objects.get(pk=manifest.pk).version

    response = post_bulk(
        api,
        manifest,
        [
            image("hero_front.png"),
            image("villain.jpg", "JPEG"),
            SimpleUploadedFile("flag.gif", animated_gif(3)),
        ],
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["refused"] == []
    created = body["created"]
    assert [(a["manifest_tag"], a["name"]) for a in created] == [
        ("CHAR_02", "hero front"),
        ("CHAR_03", "villain"),
        ("CHAR_04", "flag"),
    ]
    assert [a["image_format"] for a in created] == ["PNG", "JPEG", "GIF"]
    assert all(a["thumbnail_url"] and a["reference_image_url"] for a in created)
    assert file_name_of(created[0]["reference_image_url"]).endswith("_hero_front.png")
    manifest.refresh_from_db()
    assert manifest.version == before + 1
    assert manifest.asset_count == 4
    listed = api.get(f"/api/manifests/{manifest.pk}/assets").json()["results"]
    assert [a["name"] for a in listed] == ["Existing", "hero front", "villain", "flag"]
    assert len(stored_files(media_root)) == 6  # an image and a thumbnail each
    # The manifest's thumbnail follows its first asset that has one.
    assert manifest.thumbnail.name == Asset.objects.get(manifest_tag="CHAR_02").thumbnail.name


def test_per_file_names_and_types_in_file_order(api, make_manifest):
    manifest = make_manifest()

    response = api.post(
        bulk_url(manifest),
        {
            "files": [image("a.png"), image("b.png"), image("c.png")],
            "asset_type": "CHARACTER",
            "names": ["Villain", "", "  Sword  "],
            "types": ["", "ENVIRONMENT", "OBJECT"],
        },
        format="multipart",
    )

    assert response.status_code == 201, response.json()
    assert [(a["manifest_tag"], a["name"]) for a in response.json()["created"]] == [
        ("CHAR_01", "Villain"),
        ("ENV_01", "b"),
        ("OBJ_01", "Sword"),
    ]


def test_refused_files_are_named_with_their_reason_and_leave_nothing(
    api, make_manifest, media_root, settings
):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 10_000
    manifest = make_manifest()

    response = post_bulk(
        api,
        manifest,
        [
            image("hero.png"),
            not_an_image("notes.txt"),
            SimpleUploadedFile("broken.jpg", truncated(encode(two_colour((90, 60)), "JPEG"))),
            image("huge.png", size=(200, 100)),
            SimpleUploadedFile("bomb.png", png_bomb()),
            SimpleUploadedFile("empty.png", b""),
            image("sidekick.webp", "WEBP"),
        ],
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert [(a["manifest_tag"], a["name"]) for a in body["created"]] == [
        ("CHAR_01", "hero"),
        ("CHAR_02", "sidekick"),
    ]
    refused = {r["file"]: (r["index"], r["reason"]) for r in body["refused"]}
    assert list(refused) == ["notes.txt", "broken.jpg", "huge.png", "bomb.png", "empty.png"]
    assert refused["notes.txt"][0] == 1
    assert "not an image we can read" in refused["notes.txt"][1]
    assert "damaged or truncated" in refused["broken.jpg"][1]
    assert "200x100 pixels; the limit is 10000 pixels" in refused["huge.png"][1]
    assert "more pixels than the limit" in refused["bomb.png"][1]
    assert "empty" in refused["empty.png"][1]
    version, count, tags, files = rows_and_files(manifest, media_root)
    assert (version, count, tags) == (2, 2, ["CHAR_01", "CHAR_02"])
    assert len(files) == 4
    assert not any("notes" in f or "broken" in f or "huge" in f for f in files)


def test_atomic_refuses_everything_when_one_file_is_bad(api, make_manifest, media_root):
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(
        api,
        manifest,
        [image("hero.png"), not_an_image("a.txt"), image("b.png"), not_an_image("c.txt")],
        atomic="true",
    )

    assert response.status_code == 400
    body = response.json()
    assert [(r["index"], r["file"]) for r in body["refused"]] == [(1, "a.txt"), (3, "c.txt")]
    assert "atomic" in body["detail"] and "a.txt" in body["detail"]
    assert rows_and_files(manifest, media_root) == before


def test_every_file_refused_is_400_and_changes_nothing(api, make_manifest, media_root):
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [not_an_image("a.txt"), not_an_image("b.txt")])

    assert response.status_code == 400
    assert "Every file was refused" in response.json()["detail"]
    assert len(response.json()["refused"]) == 2
    assert rows_and_files(manifest, media_root) == before


def test_more_files_than_the_setting_is_400_saying_the_limit(
    api, make_manifest, media_root, settings
):
    settings.VIDPIPE_BULK_MAX_FILES = 3
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [image(f"{i}.png") for i in range(4)])

    assert response.status_code == 400
    assert response.json() == {"files": ["4 files were sent; at most 3 files per bulk upload."]}
    assert rows_and_files(manifest, media_root) == before


def test_more_files_than_django_parses_is_400_saying_the_limit(
    api, make_manifest, media_root, settings
):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [image(f"{i}.png") for i in range(4)])

    assert response.status_code == 400
    assert "More than 3 files were sent; at most 3 per request." in response.json()["detail"]
    assert rows_and_files(manifest, media_root) == before


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"asset_type": "HERO"}, "asset_type", '"HERO" is not a valid choice'),
        ({"types": ["", "HERO"]}, "types", "File 2 (b.png): unknown asset type 'HERO'"),
        ({"names": ["only one"]}, "names", "Give one name per file, in file order (2 files, 1"),
        ({"types": ["OBJECT"] * 3}, "types", "Give one type per file, in file order (2 files, 3"),
        ({"names": ["x" * 201, ""]}, "names", "no more than 200 characters"),
        ({"file": image("c.png")}, "file", "Unknown field"),
    ],
)
def test_wrong_arguments_are_400_naming_the_field(
    api, make_manifest, media_root, fields, field, message
):
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [image("a.png"), image("b.png")], **fields)

    assert response.status_code == 400
    assert message in str(response.json()[field]), response.json()
    assert rows_and_files(manifest, media_root) == before


def test_no_files_is_400(api, make_manifest):
    response = api.post(bulk_url(make_manifest()), {"asset_type": "CHARACTER"}, format="multipart")

    assert response.status_code == 400
    assert "files" in response.json()


def test_a_file_over_the_size_limit_is_413_and_changes_nothing(
    api, make_manifest, media_root, settings
):
    big = image_bytes("PNG", size=(300, 300))
    settings.VIDPIPE_MAX_UPLOAD_BYTES = len(big) - 1
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [image("small.png"), SimpleUploadedFile("big.png", big)])

    assert response.status_code == 413
    assert f"(big.png) is larger than the limit of {len(big) - 1} bytes" in str(response.json())
    assert rows_and_files(manifest, media_root) == before


def test_a_body_over_the_bulk_byte_limit_is_413_before_it_is_read(
    api, make_manifest, media_root, settings
):
    settings.VIDPIPE_BULK_MAX_BYTES = 1000
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)

    response = post_bulk(api, manifest, [image(f"{i}.png", size=(64, 64)) for i in range(5)])

    assert response.status_code == 413
    assert "a bulk upload may be at most 1000 bytes" in response.json()["detail"]
    assert rows_and_files(manifest, media_root) == before


def test_rights_and_deleted_manifests_as_for_asset_creation(
    api, reader_api, anon_api, make_manifest
):
    manifest = make_manifest()
    assert post_bulk(anon_api, manifest, [image("a.png")]).status_code == 401
    assert post_bulk(reader_api, manifest, [image("a.png")]).status_code == 403
    services.manifest_soft_delete(manifest=manifest)
    assert post_bulk(api, manifest, [image("a.png")]).status_code == 404
    assert Asset.all_objects.filter(manifest=manifest).count() == 0


def test_fifty_images_one_version_fifty_tags_exact_count(api, make_manifest, media_root):
    manifest = make_manifest()
    files = [image(f"extra_{i:02d}.png", color=(i, 0, 0)) for i in range(50)]

    response = post_bulk(api, manifest, files)

    assert response.status_code == 201
    tags = [a["manifest_tag"] for a in response.json()["created"]]
    assert tags == [f"CHAR_{n:02d}" for n in range(1, 51)]
    manifest.refresh_from_db()
    assert (manifest.version, manifest.asset_count) == (2, 50)
    assert Asset.objects.filter(manifest=manifest).count() == 50
    assert len(stored_files(media_root)) == 100


# Token auth, the manifest (404 first), a savepoint, the lock, the next sort order, one
# INSERT of every asset, the manifest's UPDATE, the savepoint's release: whatever the number
# of files, up to the limit of 100; and the events (one per asset): take their ids (which
# also tells who subscribes: nobody here), one INSERT of them all.
BULK_QUERIES = 10


@pytest.mark.parametrize("count", [2, 10, 100])
def test_bulk_upload_costs_a_constant_number_of_queries(api, make_manifest, count):
    manifest = make_manifest()
    files = [image(f"{i}.png") for i in range(count)]

    with assert_num_queries(BULK_QUERIES):
        response = post_bulk(api, manifest, files)

    assert response.status_code == 201


def test_service_queries_do_not_grow_with_the_number_of_files(make_manifest):
    small, large = make_manifest("Small"), make_manifest("Large")

    def create(manifest, count):
        files = [io.BytesIO(image_bytes()) for _ in range(count)]
        return lambda: services.assets_bulk_create(
            manifest=manifest, files=files, asset_type="OBJECT"
        )

    assert_same_query_count(count_queries(create(small, 2)), count_queries(create(large, 30)))


# --- the service ---------------------------------------------------------------------------


def test_service_refuses_files_over_the_size_limit_one_by_one(make_manifest, settings):
    data = image_bytes("PNG", size=(100, 100))
    settings.VIDPIPE_MAX_UPLOAD_BYTES = len(data) - 1
    manifest = make_manifest()
    big = io.BytesIO(data)
    big.name = "/some/folder/big.png"

    result = services.assets_bulk_create(
        manifest=manifest, files=[io.BytesIO(image_bytes()), big], asset_type="STYLE"
    )

    assert [a.manifest_tag for a in result.created] == ["STYLE_01"]
    assert result.created[0].name == "Image 1"  # no file name to go by
    (refused,) = result.refused
    assert (refused.index, refused.file) == (1, "big.png")
    assert f"the limit is {len(data) - 1} bytes" in refused.reason


def test_service_dry_check_writes_nothing(make_manifest, media_root):
    manifest = make_manifest()

    check = services.assets_bulk_check(
        files=[image("hero_front.png"), not_an_image()], asset_type="CHARACTER"
    )

    assert [(c.index, c.name, c.asset_type) for c in check.accepted] == [
        (0, "hero front", "CHARACTER")
    ]
    assert [(r.index, r.file) for r in check.refused] == [(1, "notes.txt")]
    assert rows_and_files(manifest, media_root)[2:] == ([], [])


def test_service_refusal_carries_every_refused_file(make_manifest):
    with pytest.raises(BulkUploadRefused) as refusal:
        services.assets_bulk_create(
            manifest=make_manifest(),
            files=[image("a.png"), not_an_image("b.txt")],
            asset_type="CHARACTER",
            atomic=True,
        )
    assert [(r.index, r.file) for r in refusal.value.refused] == [(1, "b.txt")]


def test_service_refuses_an_unknown_default_type(make_manifest):
    with pytest.raises(ValidationError) as refusal:
        services.assets_bulk_create(
            manifest=make_manifest(), files=[image("a.png")], asset_type="HERO"
        )
    assert "Unknown asset type 'HERO'" in str(refusal.value)


class FailsOnThirdWrite(FileSystemStorage):
    """Local storage that refuses its third write, as a disk filling up mid-upload does."""

    writes = 0

    def _save(self, name, content):
        type(self).writes += 1
        if type(self).writes == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super()._save(name, content)


def test_a_storage_failure_midway_removes_every_file_written(
    api, make_manifest, media_root, settings
):
    manifest = make_manifest()
    before = rows_and_files(manifest, media_root)
    FailsOnThirdWrite.writes = 0
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.FailsOnThirdWrite"},
    }

    with pytest.raises(StorageUnavailable):
        services.assets_bulk_create(
            manifest=manifest, files=[image("a.png"), image("b.png")], asset_type="CHARACTER"
        )

    assert FailsOnThirdWrite.writes == 3
    assert rows_and_files(manifest, media_root) == before


def test_schema_documents_the_bulk_upload(api):
    schema = yaml.safe_load(api.get("/api/schema").content)

    operation = schema["paths"]["/api/manifests/{manifest_pk}/assets/bulk/"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert {"files", "asset_type", "names", "types", "atomic"} <= set(fields)
    assert {"201", "400", "413"} <= set(operation["responses"])


# --- concurrency (PostgreSQL: row locks between real connections) ---------------------------


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_bulk_uploads_get_distinct_tags_and_an_exact_count(staff_user, media_root):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks between real connections)")
    manifest = services.manifest_create(name="Race")
    token = Token.objects.create(user=staff_user).key
    uploads, per_upload = 4, 10

    def upload(i: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        files = [image(f"u{i}_{n}.png", color=(i, n, 0)) for n in range(per_upload)]
        return post_bulk(client, manifest, files).status_code

    results = run_in_threads(upload, uploads)

    assert results == [201] * uploads
    tags = list(Asset.objects.filter(manifest=manifest).values_list("manifest_tag", flat=True))
    assert sorted(tags) == [f"CHAR_{n:02d}" for n in range(1, uploads * per_upload + 1)]
    # Each upload's assets are consecutive, in its file order.
    names = [a.name for a in Asset.objects.filter(manifest=manifest).ordered()]
    for start in range(0, len(names), per_upload):
        batch = names[start : start + per_upload]
        prefix = batch[0].split(" ")[0]
        assert batch == [f"{prefix} {n}" for n in range(per_upload)]
    manifest.refresh_from_db()
    assert (manifest.asset_count, manifest.version) == (uploads * per_upload, 1 + uploads)
    assert len(stored_files(media_root)) == 2 * uploads * per_upload
