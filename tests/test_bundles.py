"""Bundles: a manifest (or a frozen version) exported as a zip and imported back as a new
DRAFT manifest; hostile bundles refused with the entry and the reason, leaving nothing."""

import hashlib
import io
import json
import stat
import struct
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from PIL import Image

from manifests import services
from manifests.exceptions import BundleRefused
from manifests.models import Asset, Manifest
from tests.conftest import image_bytes, image_upload, is_stored, stored_bytes, stored_files
from tests.queries import assert_same_query_count, count_queries

IMPORT_URL = "/api/manifests/import"


def export_url(manifest) -> str:
    return f"/api/manifests/{manifest.pk}/export"


def noise_png(side: int = 24, seed: int = 0) -> bytes:
    """A PNG that barely compresses (random pixels): its size is about 3 bytes a pixel."""
    pixels = hashlib.shake_256(str(seed).encode()).digest(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_upload_of(data: bytes, name: str = "image.png"):
    upload = io.BytesIO(data)
    upload.name = name
    upload.size = len(data)
    return upload


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def asset_entry(tag, asset_type="CHARACTER", name="Hero", image: bytes | None = None, ext="png"):
    """One asset of a manifest.json, with its image (entry, bytes) when it has one."""
    record = {
        "tag": tag,
        "name": name,
        "asset_type": asset_type,
        "description": "",
        "user_tags": [],
    }
    files = {}
    if image is not None:
        entry = f"images/{tag}.{ext}"
        record["image"] = {"entry": entry, "sha256": sha(image)}
        files[entry] = image
    else:
        record["image"] = None
    return record, files


def bundle_of(*assets, document: dict | None = None, extra: dict | None = None) -> bytes:
    """A well-formed bundle of these `asset_entry` results, `document` fields overriding."""
    records, files = [], {}
    for record, images in assets:
        records.append(record)
        files.update(images)
    body = {"format": 1, "manifest": {"name": "Imported cast"}, "assets": records}
    body.update(document or {})
    files["manifest.json"] = json.dumps(body).encode()
    files.update(extra or {})
    return zip_of(files)


def zip_of(files: dict, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def read_bundle(data: bytes) -> tuple[dict, dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("manifest.json")), files


def post_bundle(api, data: bytes, **fields):
    upload = io.BytesIO(data)
    upload.name = "bundle.zip"
    return api.post(IMPORT_URL, {"bundle": upload, **fields}, format="multipart")


def streamed(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content)


@pytest.fixture
def cast(make_manifest, make_asset):
    """A manifest of four assets, three with images, a tag gap (CHAR_02 was deleted)."""
    manifest = make_manifest("Cast", description="Season one", category="CHARACTERS", tags=["s1"])
    hero = make_asset(manifest, "Hero", description="Lead", user_tags=["lead", "red"])
    services.asset_attach_image(asset=hero, file=image_upload("hero.png", color="red"))
    gone = make_asset(manifest, "Gone")
    services.asset_delete(asset=gone)
    villain = make_asset(manifest, "Villain")
    services.asset_attach_image(asset=villain, file=image_upload("v.jpg", fmt="JPEG"))
    lamp = make_asset(manifest, "Lamp", asset_type="OBJECT")
    services.asset_attach_image(asset=lamp, file=image_upload("lamp.webp", fmt="WEBP"))
    make_asset(manifest, "Sketch", asset_type="ENVIRONMENT")
    manifest.refresh_from_db()
    return manifest


def summary(manifest) -> list[tuple]:
    return [
        (a.manifest_tag, a.name, a.asset_type, a.description, a.user_tags, a.image_sha256)
        for a in Asset.all_objects.filter(manifest=manifest).ordered()
    ]


# --- export ------------------------------------------------------------------------------


def test_export_streams_a_zip_of_the_manifest_and_its_images(api, cast):
    response = api.get(export_url(cast))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="cast-v' + str(cast.version) + '.zip"'
    )
    document, images = read_bundle(streamed(response))
    assert document["format"] == 1
    assert document["manifest"] == {
        "name": "Cast",
        "description": "Season one",
        "category": "CHARACTERS",
        "tags": ["s1"],
        "status": "DRAFT",
    }
    assert [a["tag"] for a in document["assets"]] == ["CHAR_01", "CHAR_03", "OBJ_01", "ENV_01"]
    assert document["assets"][0]["user_tags"] == ["lead", "red"]
    assert document["assets"][3]["image"] is None
    assert sorted(images) == ["images/CHAR_01.png", "images/CHAR_03.jpg", "images/OBJ_01.webp"]
    for asset in document["assets"][:3]:
        assert sha(images[asset["image"]["entry"]]) == asset["image"]["sha256"]


def test_export_is_streamed_a_chunk_at_a_time(make_manifest, make_asset, settings):
    """A chunk is at most about a MB of an image (images are read 1 MB at a time): the zip
    is never built whole in memory."""
    manifest = make_manifest("Big")
    for number in range(3):
        asset = make_asset(manifest, f"A{number}")
        big = noise_png(side=800, seed=number)  # about 1.9 MB each
        services.asset_attach_image(asset=asset, file=image_upload_of(big))

    chunks = list(services.manifest_export(manifest=manifest))

    assert len(chunks) >= 6
    assert max(map(len, chunks)) <= 1024 * 1024 + 64 * 1024
    assert sum(map(len, chunks)) > 3 * 1024 * 1024


def test_export_stores_images_as_they_are_and_deflates_manifest_json(api, cast):
    data = streamed(api.get(export_url(cast)))

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds.pop("manifest.json") == zipfile.ZIP_DEFLATED
    assert set(kinds.values()) == {zipfile.ZIP_STORED}


def test_export_answers_a_zip_to_a_client_that_asks_for_one(api, cast):
    response = api.get(export_url(cast), HTTP_ACCEPT="application/zip")

    assert response.status_code == 200
    assert zipfile.is_zipfile(io.BytesIO(streamed(response)))


def test_export_file_name_is_safe_ascii(api, make_manifest):
    manifest = make_manifest('Héros "du" /../ soir\r\nX-Evil: 1')

    response = api.get(export_url(manifest))

    assert response["Content-Disposition"] == 'attachment; filename="heros-du-soir-x-evil-1-v1.zip"'


def test_export_costs_the_same_queries_whatever_the_number_of_assets(
    api, make_manifest, make_asset
):
    small, large = make_manifest("Small"), make_manifest("Large")
    for manifest, count in [(small, 2), (large, 8)]:
        for number in range(count):
            asset = make_asset(manifest, f"A{number}")
            services.asset_attach_image(asset=asset, file=image_upload())

    def export(manifest):
        return lambda: streamed(api.get(export_url(manifest)))

    assert_same_query_count(count_queries(export(small)), count_queries(export(large)))


@pytest.mark.s3  # stores or reads files: run again on S3
def test_export_of_a_missing_image_is_refused_before_the_stream_starts(api, cast, media_root):
    hero = Asset.objects.get(manifest=cast, manifest_tag="CHAR_01")
    default_storage.delete(hero.reference_image.name)

    response = api.get(export_url(cast))

    assert response.status_code == 409
    assert "CHAR_01 “Hero”" in response.json()["detail"]
    assert hero.reference_image.name in response.json()["detail"]


def test_readers_may_export_and_anonymous_clients_may_not(reader_api, anon_api, cast):
    assert reader_api.get(export_url(cast)).status_code == 200
    assert anon_api.get(export_url(cast)).status_code == 401


def test_export_of_an_unknown_or_deleted_manifest_is_404(api, cast):
    services.manifest_soft_delete(manifest=cast)

    assert api.get(export_url(cast)).status_code == 404
    assert api.get("/api/manifests/not-a-uuid/export").status_code == 404


def test_a_frozen_version_exports_as_it_was_frozen(api, cast):
    version = services.manifest_freeze(manifest=cast)
    hero = Asset.objects.get(manifest=cast, manifest_tag="CHAR_01")
    services.asset_update(asset=hero, name="Renamed")
    hero = services.asset_attach_image(asset=hero, file=image_upload("new.png", color="blue"))

    response = api.get(f"/api/manifests/{cast.pk}/versions/{version.number}/export")

    document, images = read_bundle(streamed(response))
    assert document["source"] == {
        "manifest_id": str(cast.pk),
        "version": version.number,
        "frozen": True,
    }
    assert document["assets"][0]["name"] == "Hero"
    frozen_sha = version.assets[0]["image_sha256"]
    assert frozen_sha != hero.image_sha256
    assert sha(images["images/CHAR_01.png"]) == frozen_sha
    assert document["assets"][0]["image"]["sha256"] == frozen_sha


def test_export_of_a_version_that_is_not_frozen_is_404(api, cast):
    response = api.get(f"/api/manifests/{cast.pk}/versions/99/export")

    assert response.status_code == 404
    assert response.json()["versions"] == []


def test_the_schema_documents_export_and_import(api):
    paths = api.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    export = paths["/api/manifests/{id}/export/"]["get"]
    assert "application/zip" in export["responses"]["200"]["content"]
    version_export = paths["/api/manifests/{manifest_pk}/versions/{number}/export/"]["get"]
    assert "application/zip" in version_export["responses"]["200"]["content"]
    post = paths["/api/manifests/import/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {"201", "400", "413"} <= set(post["responses"])
    assert "Location" in post["responses"]["201"]["headers"]


# --- round trips -------------------------------------------------------------------------


@pytest.mark.s3  # stores or reads files: run again on S3
def test_export_then_import_gives_the_same_assets_one_to_one(api, cast, media_root):
    data = streamed(api.get(export_url(cast)))

    response = post_bundle(api, data)

    assert response.status_code == 201, response.json()
    body = response.json()
    imported = Manifest.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/manifests/{imported.pk}")
    assert body["name"] == "Cast" and body["status"] == "DRAFT"
    assert [a["manifest_tag"] for a in body["assets"]] == ["CHAR_01", "CHAR_03", "OBJ_01", "ENV_01"]
    assert summary(imported) == summary(cast)
    assert imported.asset_count == 4 and imported.version == 1
    assert imported.parent_manifest is None
    for asset in Asset.objects.filter(manifest=imported).exclude(reference_image=""):
        assert asset.reference_image.name.startswith(f"manifests/{imported.pk}/uploads/")
        assert asset.thumbnail.name.startswith(f"manifests/{imported.pk}/thumbnails/")
        assert is_stored(media_root, asset.thumbnail.name)
        assert sha(stored_bytes(media_root, asset.reference_image.name)) == asset.image_sha256
    assert (
        imported.thumbnail.name
        == Asset.objects.get(manifest=imported, manifest_tag="CHAR_01").thumbnail.name
    )


def test_tags_continue_after_the_highest_imported_number(api, cast, make_asset):
    imported = Manifest.objects.get(
        pk=post_bundle(api, streamed(api.get(export_url(cast)))).json()["id"]
    )

    assert make_asset(imported, "Next").manifest_tag == "CHAR_04"
    assert make_asset(imported, "Prop", asset_type="OBJECT").manifest_tag == "OBJ_02"
    assert make_asset(imported, "Car", asset_type="VEHICLE").manifest_tag == "VEH_01"


@pytest.mark.s3  # stores or reads files: run again on S3
def test_a_frozen_version_round_trips_as_frozen(api, cast):
    version = services.manifest_freeze(manifest=cast)
    frozen = summary(cast)
    hero = Asset.objects.get(manifest=cast, manifest_tag="CHAR_01")
    services.asset_attach_image(asset=hero, file=image_upload("new.png", color="blue"))
    services.asset_delete(asset=Asset.objects.get(manifest=cast, manifest_tag="OBJ_01"))

    data = streamed(api.get(f"/api/manifests/{cast.pk}/versions/{version.number}/export"))
    response = post_bundle(api, data, name="Cast as frozen")

    imported = Manifest.objects.get(pk=response.json()["id"])
    assert imported.name == "Cast as frozen"
    assert summary(imported) == frozen


def test_import_costs_the_same_queries_whatever_the_number_of_assets(db):
    def bundle(count):
        return bundle_of(
            *(asset_entry(f"CHAR_{n:02d}", name=f"N{n}", image=PNG) for n in range(1, count + 1))
        )

    small, large = bundle(2), bundle(8)

    queries = [
        count_queries(lambda data=data: services.manifest_import(bundle=io.BytesIO(data)))
        for data in (small, large)
    ]

    assert_same_query_count(*queries)
    # savepoint, the manifest, its assets (one INSERT), its event (ids, which also tell who
    # subscribes, and INSERT), release
    assert queries[1].count == 6


def test_the_service_imports_from_an_open_file(tmp_path, cast):
    path = tmp_path / "cast.zip"
    with open(path, "wb") as out:
        for chunk in services.manifest_export(manifest=cast):
            out.write(chunk)

    seen = []
    with open(path, "rb") as bundle:
        imported = services.manifest_import(bundle=bundle, on_asset_imported=seen.append)

    assert [a.manifest_tag for a in seen] == ["CHAR_01", "CHAR_03", "OBJ_01", "ENV_01"]
    assert summary(imported) == summary(cast)


# --- the upload limit --------------------------------------------------------------------


def test_a_bundle_may_be_larger_than_one_image_upload(api, settings):
    first, second = noise_png(seed=1), noise_png(seed=2)
    data = bundle_of(
        asset_entry("CHAR_01", image=first), asset_entry("CHAR_02", name="Two", image=second)
    )
    settings.VIDPIPE_MAX_UPLOAD_BYTES = max(len(first), len(second)) + 100
    assert len(data) > settings.VIDPIPE_MAX_UPLOAD_BYTES + 1000

    response = post_bundle(api, data)

    assert response.status_code == 201, response.json()


@pytest.mark.s3  # stores or reads files: run again on S3
def test_a_bundle_over_its_own_limit_is_413(api, settings, media_root):
    data = bundle_of(asset_entry("CHAR_01", image=noise_png()))
    settings.VIDPIPE_MAX_BUNDLE_BYTES = len(data) // 2

    response = post_bundle(api, data)

    assert response.status_code == 413
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == []


def test_only_staff_may_import(reader_api, anon_api):
    data = bundle_of(asset_entry("CHAR_01", image=image_bytes()))

    assert post_bundle(reader_api, data).status_code == 403
    assert post_bundle(anon_api, data).status_code == 401
    assert Manifest.all_objects.count() == 0


def test_import_is_never_read_as_a_manifest_id(api):
    assert api.get(IMPORT_URL).status_code == 405
    assert api.patch(IMPORT_URL, {"name": "x"}).status_code == 405
    assert api.delete(IMPORT_URL).status_code == 405
    assert api.post(IMPORT_URL + "/", {}, format="multipart").json() == {
        "bundle": ["No file was submitted."]
    }


def test_import_without_a_bundle_is_400(api):
    response = api.post(IMPORT_URL, {}, format="multipart")

    assert response.status_code == 400
    assert "bundle" in response.json()


def test_an_empty_bundle_is_400(api):
    response = post_bundle(api, b"")

    assert response.status_code == 400
    assert "empty" in response.json()["bundle"][0]


# --- hostile bundles ---------------------------------------------------------------------


def with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": 1}))
        link = zipfile.ZipInfo("images/CHAR_01.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def with_duplicate_names() -> bytes:
    image = image_bytes()
    data = bundle_of(asset_entry("CHAR_01", image=image))
    buffer = io.BytesIO(data)
    with pytest.warns(UserWarning), zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("images/CHAR_01.png", noise_png())
    return buffer.getvalue()


def with_lying_size() -> bytes:
    """An entry whose central directory says 10 bytes, for 2 MB of zeros."""
    data = bytearray(zip_of({"manifest.json": b"0" * 2_000_000}))
    at = data.rfind(b"PK\x01\x02")  # the central directory record of the one entry
    struct.pack_into("<I", data, at + 24, 10)  # its uncompressed size
    return bytes(data)


def image_document(**image) -> bytes:
    record = {"tag": "CHAR_01", "name": "Hero", "asset_type": "CHARACTER", "image": image}
    return bundle_of((record, {}), extra={"images/CHAR_01.png": image_bytes()})


def manifest_json(text: str | bytes) -> bytes:
    return zip_of({"manifest.json": text})


def one_asset(**fields) -> bytes:
    record, files = asset_entry("CHAR_01", image=image_bytes())
    record.update(fields)
    return bundle_of((record, files))


PNG = image_bytes()
JPEG = image_bytes("JPEG")
HOSTILE = {
    "not a zip": (b"PK\x03\x04 not really a zip", "bundle", "not a zip file"),
    "path traversal": (
        zip_of({"manifest.json": b"{}", "images/../../evil.png": PNG}),
        "images/../../evil.png",
        "path traversal",
    ),
    "absolute path": (zip_of({"/etc/cron.d/evil": PNG}), "/etc/cron.d/evil", "absolute paths"),
    "drive letter": (zip_of({"C:/evil.png": PNG}), "C:/evil.png", "absolute paths"),
    "backslashes": (zip_of({"images\\..\\evil.png": PNG}), "images\\..\\evil.png", "backslashes"),
    "symlink": (with_symlink(), "images/CHAR_01.png", "symbolic links"),
    "duplicate names": (with_duplicate_names(), "images/CHAR_01.png", "two entries of this name"),
    "another folder": (zip_of({"other/": b""}), "other/", "no folders but images/"),
    "bz2 compression": (
        zip_of({"manifest.json": b"{}"}, compression=zipfile.ZIP_BZIP2),
        "manifest.json",
        "compression is not accepted",
    ),
    "zip bomb (ratio)": (
        zip_of({"manifest.json": b"{}", "images/CHAR_01.png": b"\0" * 5_000_000}),
        "images/CHAR_01.png",
        "times its compressed size",
    ),
    "a size header that lies": (with_lying_size(), "manifest.json", "damaged"),
    "no manifest.json": (zip_of({"images/CHAR_01.png": PNG}), "manifest.json", "missing"),
    "manifest.json not JSON": (manifest_json("{format: 1"), "manifest.json", "not valid JSON"),
    "manifest.json not UTF-8": (manifest_json(b"\xff\xfe{}"), "manifest.json", "not UTF-8"),
    "manifest.json a list": (manifest_json("[]"), "manifest.json", "must be a JSON object"),
    "manifest.json with NaN": (
        manifest_json('{"format": 1, "x": NaN}'),
        "manifest.json",
        "not a JSON number",
    ),
    "manifest.json nested deep": (
        manifest_json("[" * 100_000 + "]" * 100_000),
        "manifest.json",
        "not valid JSON",
    ),
    "duplicate keys": (
        manifest_json('{"format": 1, "format": 1}'),
        "manifest.json",
        "appears twice",
    ),
    "unknown format": (bundle_of(document={"format": 2}), "manifest.json", "unknown format '2'"),
    "format as a string": (bundle_of(document={"format": "1"}), "manifest.json", "unknown format"),
    "no format": (
        manifest_json('{"manifest": {}, "assets": []}'),
        "manifest.json",
        "unknown format",
    ),
    "unknown field": (
        bundle_of(document={"owner": "x"}),
        "manifest.json",
        "unknown field(s) owner",
    ),
    "manifest without a name": (bundle_of(document={"manifest": {}}), "manifest.json", "name"),
    "manifest name blank": (
        bundle_of(document={"manifest": {"name": "  "}}),
        "manifest.json",
        "manifest: name",
    ),
    "manifest name too long": (
        bundle_of(document={"manifest": {"name": "x" * 201}}),
        "manifest.json",
        "at most 200 characters",
    ),
    "unknown category": (
        bundle_of(document={"manifest": {"name": "A", "category": "FOOD"}}),
        "manifest.json",
        "manifest.category: 'FOOD' is not one of",
    ),
    "tags not a list": (
        bundle_of(document={"manifest": {"name": "A", "tags": "x"}}),
        "manifest.json",
        "manifest.tags: Must be a list of strings.",
    ),
    "NUL in a name": (
        bundle_of(document={"manifest": {"name": "A\u0000B"}}),
        "manifest.json",
        "Null characters",
    ),
    "assets not a list": (
        bundle_of(document={"assets": {}}),
        "manifest.json",
        "assets: must be a JSON list",
    ),
    "asset not an object": (
        bundle_of(document={"assets": ["CHAR_01"]}),
        "manifest.json",
        "assets[0]: must be a JSON object",
    ),
    "unknown asset type": (
        one_asset(asset_type="DRAGON"),
        "manifest.json",
        "'DRAGON' is not one of",
    ),
    "tag of another type": (
        one_asset(tag="OBJ_01"),
        "manifest.json",
        "not a tag of a CHARACTER asset",
    ),
    "tag not canonical": (
        one_asset(tag="CHAR_1"),
        "manifest.json",
        "not a tag of a CHARACTER asset",
    ),
    "tag zero": (one_asset(tag="CHAR_00"), "manifest.json", "tag numbers start at 1"),
    "tag not a string": (one_asset(tag=1), "manifest.json", "assets[0].tag: must be a string"),
    "asset name blank": (one_asset(name=""), "manifest.json", "assets[0] (CHAR_01): name"),
    "asset name not a string": (one_asset(name=["x"]), "manifest.json", "name: must be a string"),
    "description too long": (
        one_asset(description="x" * 10_001),
        "manifest.json",
        "at most 10000 characters",
    ),
    "user_tags not strings": (
        one_asset(user_tags=[1]),
        "manifest.json",
        "Every item must be a string",
    ),
    "unknown source": (one_asset(source="STOLEN"), "manifest.json", "'STOLEN' is not one of"),
    "unknown asset field": (one_asset(owner="x"), "manifest.json", "unknown field(s) owner"),
    "duplicate tags": (
        bundle_of(asset_entry("CHAR_01", image=PNG), asset_entry("CHAR_01", name="Twin")),
        "manifest.json",
        "CHAR_01 is given to two assets",
    ),
    "image entry elsewhere": (
        image_document(entry="images/../x.png", sha256=sha(PNG)),
        "manifest.json",
        "must be images/CHAR_01.<ext>",
    ),
    "image entry of another tag": (
        image_document(entry="images/CHAR_02.png", sha256=sha(PNG)),
        "manifest.json",
        "must be images/CHAR_01.<ext>",
    ),
    "sha256 malformed": (
        image_document(entry="images/CHAR_01.png", sha256="abc"),
        "manifest.json",
        "64 lowercase hexadecimal digits",
    ),
    "image without sha256": (
        image_document(entry="images/CHAR_01.png"),
        "manifest.json",
        "missing field(s) sha256",
    ),
    "referenced but missing": (
        bundle_of((asset_entry("CHAR_01", image=PNG)[0], {})),
        "images/CHAR_01.png",
        "does not hold it",
    ),
    "entry not referenced": (
        bundle_of(asset_entry("CHAR_01", image=PNG), extra={"images/CHAR_09.png": PNG}),
        "images/CHAR_09.png",
        "no asset of manifest.json names it",
    ),
    "sha256 mismatch": (
        bundle_of(
            (
                {
                    "tag": "CHAR_01",
                    "name": "Hero",
                    "asset_type": "CHARACTER",
                    "image": {"entry": "images/CHAR_01.png", "sha256": sha(b"other")},
                },
                {"images/CHAR_01.png": PNG},
            )
        ),
        "images/CHAR_01.png",
        "the image was changed or damaged",
    ),
    "not an image": (
        bundle_of(asset_entry("CHAR_01", image=b"#!/bin/sh\nrm -rf /\n")),
        "images/CHAR_01.png",
        "not an image we can read",
    ),
    "truncated image": (
        bundle_of(asset_entry("CHAR_01", image=noise_png()[:500])),
        "images/CHAR_01.png",
        "damaged or truncated",
    ),
    "a JPEG named .png": (
        bundle_of(asset_entry("CHAR_01", image=JPEG)),
        "images/CHAR_01.png",
        "it is a JPEG image; its name must end in .jpg",
    ),
}


@pytest.mark.parametrize(("data", "entry", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.s3  # stores or reads files: run again on S3
def test_hostile_bundles_are_refused_naming_entry_and_reason(api, media_root, data, entry, reason):
    before = stored_files(media_root)

    response = post_bundle(api, data)

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["entry"] == entry
    assert body["bundle"][0].startswith(f"{entry}: ")
    assert reason in body["bundle"][0]
    assert Manifest.all_objects.count() == 0
    assert Asset.all_objects.count() == 0
    assert stored_files(media_root) == before


@pytest.mark.s3  # stores or reads files: run again on S3
def test_a_refusal_after_images_were_stored_removes_them(api, media_root):
    good = [asset_entry(f"CHAR_0{n}", name=f"N{n}", image=noise_png(seed=n)) for n in (1, 2)]
    bad_record, _ = asset_entry("CHAR_03", name="Bad", image=PNG)
    data = bundle_of(*good, (bad_record, {"images/CHAR_03.png": b"not the bytes"}))

    response = post_bundle(api, data)

    assert response.status_code == 400
    assert response.json()["entry"] == "images/CHAR_03.png"
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.s3  # stores or reads files: run again on S3
def test_an_image_over_the_upload_limit_is_refused(api, settings, media_root):
    image = noise_png()
    settings.VIDPIPE_MAX_UPLOAD_BYTES = len(image) - 1

    response = post_bundle(api, bundle_of(asset_entry("CHAR_01", image=image)))

    assert response.status_code == 400
    assert response.json()["entry"] == "images/CHAR_01.png"
    assert f"larger than {len(image) - 1} bytes" in response.json()["bundle"][0]
    assert stored_files(media_root) == []


def test_an_image_over_the_pixel_limit_is_refused(api, settings):
    settings.VIDPIPE_MAX_IMAGE_PIXELS = 10

    response = post_bundle(api, bundle_of(asset_entry("CHAR_01", image=PNG)))

    assert response.status_code == 400
    assert response.json()["entry"] == "images/CHAR_01.png"
    assert "the limit is 10 pixels" in response.json()["bundle"][0]
    assert Manifest.all_objects.count() == 0


def test_a_bundle_over_the_total_uncompressed_limit_is_refused(api, settings):
    data = bundle_of(asset_entry("CHAR_01", image=noise_png()))
    settings.VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES = 1000

    response = post_bundle(api, data)

    assert response.status_code == 400
    assert response.json()["entry"] == "bundle"
    assert "VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES" in response.json()["bundle"][0]


def test_a_bundle_over_the_asset_limit_is_refused(api, settings):
    settings.VIDPIPE_BUNDLE_MAX_ASSETS = 1
    data = bundle_of(asset_entry("CHAR_01"), asset_entry("CHAR_02", name="Two"))

    response = post_bundle(api, data)

    assert response.status_code == 400
    assert "the limit is 1" in response.json()["bundle"][0]


def test_a_zip_with_more_entries_than_a_bundle_may_have_is_refused_before_it_is_read(api, settings):
    settings.VIDPIPE_BUNDLE_MAX_ASSETS = 3
    data = zip_of({f"images/OBJ_{n:02d}.png": b"x" for n in range(1, 7)})

    response = post_bundle(api, data)

    assert response.status_code == 400
    assert response.json()["entry"] == "bundle"
    assert "its directory lists 6 entries" in response.json()["bundle"][0]


def as_zip64(data: bytes) -> bytes:
    """The same zip, its end record in the ZIP64 form (as a zip of 65,535+ entries has):
    the real count and size in a ZIP64 end record, 0xFFFF… in the classic one."""
    at = data.rfind(b"PK\x05\x06")
    *_, count, size, offset, _ = struct.unpack("<4s4H2LH", data[at : at + 22])
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, at, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:at] + record + locator + end


def test_a_zip64_directory_is_measured_too(settings):
    settings.VIDPIPE_BUNDLE_MAX_ASSETS = 3
    data = as_zip64(zip_of({f"images/OBJ_{n:02d}.png": b"x" for n in range(1, 7)}))
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) == 6

    with pytest.raises(BundleRefused, match="its directory lists 6 entries"):
        services.manifest_import(bundle=io.BytesIO(data))


def test_a_zip64_bundle_within_the_limits_imports(db):
    data = as_zip64(bundle_of(asset_entry("CHAR_01", image=PNG)))

    assert services.manifest_import(bundle=io.BytesIO(data)).asset_count == 1


def test_a_nul_in_an_entry_name_is_refused(api):
    data = bytearray(zip_of({"images/CHAR_01.pngX../../evil": PNG}))
    for at in range(len(data)):
        if data[at : at + 18] == b"images/CHAR_01.png":
            data[at + 18] = 0

    response = post_bundle(api, bytes(data))

    assert response.status_code == 400
    assert "NUL character" in response.json()["bundle"][0]


def test_the_service_raises_bundle_refused(db):
    with pytest.raises(BundleRefused) as refused:
        services.manifest_import(bundle=io.BytesIO(b"nope"))

    assert refused.value.entry == "bundle"


# --- commands ----------------------------------------------------------------------------


def run(*args, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.mark.s3  # stores or reads files: run again on S3
def test_export_and_import_commands_round_trip(tmp_path, cast, media_root):
    path = tmp_path / "cast.zip"

    out, _ = run("export_manifest", str(cast.pk), "-o", str(path))

    assert f'Exported "Cast" v{cast.version} ({cast.pk}): 4 assets' in out
    assert f"to {path}." in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "media") == ["cast.zip"]

    out, _ = run("import_manifest", str(path), "--name", "Cast again")

    new_id, summary_line = out.splitlines()
    imported = Manifest.objects.get(pk=new_id)
    assert imported.name == "Cast again"
    assert f'Imported cast.zip as "Cast again" ({imported.pk}), a DRAFT: 4 assets, 3 images.' in (
        summary_line
    )
    assert summary(imported) == summary(cast)


def test_export_command_writes_the_zip_to_stdout_and_the_summary_to_stderr(cast):
    binary = io.BytesIO()
    out = io.TextIOWrapper(binary)
    err = io.StringIO()

    call_command("export_manifest", str(cast.pk), stdout=out, stderr=err)

    out.flush()
    document, _ = read_bundle(binary.getvalue())
    assert document["manifest"]["name"] == "Cast"
    assert "to stdout." in err.getvalue()


def test_export_command_exports_a_frozen_version(tmp_path, cast):
    version = services.manifest_freeze(manifest=cast)
    services.asset_update(
        asset=Asset.objects.get(manifest=cast, manifest_tag="CHAR_01"), name="New"
    )
    path = tmp_path / "v.zip"

    out, _ = run("export_manifest", str(cast.pk), "--version", str(version.number), "-o", str(path))

    assert f"v{version.number} (frozen)" in out
    document, _ = read_bundle(path.read_bytes())
    assert document["assets"][0]["name"] == "Hero"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["not-a-uuid"], '"not-a-uuid" is not a manifest id'),
        (["00000000-0000-0000-0000-000000000007"], "No manifest has the id"),
        (["{deleted}"], r"is deleted; restore it before exporting\."),
        (
            ["{cast}", "--version", "9"],
            "has no frozen version 9; its frozen versions are: none yet",
        ),
    ],
)
def test_export_command_refuses_unknown_manifests_and_versions(tmp_path, cast, arguments, message):
    deleted = services.manifest_create(name="Gone", category="MIXED")
    services.manifest_soft_delete(manifest=deleted)
    arguments = [argument.format(cast=cast.pk, deleted=deleted.pk) for argument in arguments]

    with pytest.raises(CommandError, match=message):
        run("export_manifest", *arguments, "-o", str(tmp_path / "x.zip"))
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.s3  # stores or reads files: run again on S3
def test_export_command_leaves_no_partial_file_when_an_image_is_missing(tmp_path, cast, media_root):
    default_storage.delete(
        Asset.objects.get(manifest=cast, manifest_tag="OBJ_01").reference_image.name
    )

    with pytest.raises(CommandError, match="OBJ_01 “Lamp”"):
        run("export_manifest", str(cast.pk), "-o", str(tmp_path / "x.zip"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]


def test_import_command_reports_progress_and_prints_the_id_alone_at_verbosity_zero(tmp_path, db):
    many = [asset_entry(f"OBJ_{n:02d}", "OBJECT", name=f"Prop {n}") for n in range(1, 206)]
    path = tmp_path / "props.zip"
    path.write_bytes(bundle_of(*many))

    out, _ = run("import_manifest", str(path))

    assert [line for line in out.splitlines() if line.startswith("Imported ") and "…" in line] == [
        "Imported 100 assets…",
        "Imported 200 assets…",
    ]
    assert "205 assets, 0 images." in out
    quiet, _ = run("import_manifest", str(path), verbosity=0)
    assert Manifest.objects.filter(pk=quiet.strip()).exists()
    assert quiet.count("\n") == 1


@pytest.mark.s3  # stores or reads files: run again on S3
def test_import_command_refuses_a_hostile_bundle_leaving_nothing(tmp_path, media_root, db):
    path = tmp_path / "evil.zip"
    path.write_bytes(HOSTILE["path traversal"][0])

    with pytest.raises(
        CommandError, match=r"Cannot import .*evil.zip: images/\.\./\.\./evil.png: path traversal"
    ):
        run("import_manifest", str(path))
    assert Manifest.all_objects.count() == 0
    assert stored_files(media_root) == []


def test_import_command_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match=r"Cannot read .*nothing\.zip: No such file"):
        run("import_manifest", str(tmp_path / "nothing.zip"))
