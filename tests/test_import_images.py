"""`import_images <manifest_id> <folder>`: a folder of images becomes assets, in name order,
through the bulk upload's service; refused files are named and make the exit code 1."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from manifests import services
from manifests.models import Asset, Manifest
from tests.conftest import image_bytes, stored_files
from tests.image_factories import TEXT
from tests.test_commands_subprocess import manage  # noqa: F401  (a fixture)


def folder_of(tmp_path, files: dict[str, bytes], name: str = "refs"):
    folder = tmp_path / name
    folder.mkdir()
    for file_name, content in files.items():
        (folder / file_name).write_bytes(content)
    return folder


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_images", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def tags_and_names(manifest) -> list[tuple[str, str]]:
    assets = Asset.objects.filter(manifest=manifest).ordered()
    return [(a.manifest_tag, a.name) for a in assets]


@pytest.fixture
def manifest(db):
    return services.manifest_create(name="Cast")


def test_imports_the_folders_images_in_name_order_and_fails_on_refused_files(
    manifest, tmp_path, media_root
):
    folder = folder_of(
        tmp_path,
        {
            "b_villain.png": image_bytes("PNG"),
            "a_hero_front.jpg": image_bytes("JPEG"),
            "notes.txt": TEXT,
            ".DS_Store": b"\x00\x01",
        },
    )
    (folder / "more").mkdir()
    (folder / "more" / "c_extra.png").write_bytes(image_bytes())
    out = StringIO()

    with pytest.raises(CommandError) as failure:
        call_command("import_images", str(manifest.pk), str(folder), stdout=out)

    assert out.getvalue().splitlines() == [
        "Skipped .DS_Store: a hidden file.",
        "Skipped more/: a folder (subfolders are not imported).",
        "Added CHAR_01 “a hero front” from a_hero_front.jpg",
        "Added CHAR_02 “b villain” from b_villain.png",
        "Refused notes.txt: The file is not an image we can read; accepted: JPEG, PNG, WEBP, GIF.",
        f"Added 2 assets to “Cast” ({manifest.pk}), now at version 2; 1 file refused.",
    ]
    assert "1 file refused: notes.txt: The file is not an image" in str(failure.value)
    assert tags_and_names(manifest) == [("CHAR_01", "a hero front"), ("CHAR_02", "b villain")]
    assert Manifest.objects.get(pk=manifest.pk).version == 2
    assert len(stored_files(media_root)) == 4


def test_dry_run_says_what_it_would_add_and_changes_nothing(manifest, tmp_path, media_root):
    folder = folder_of(tmp_path, {"hero.png": image_bytes(), "sword.webp": image_bytes("WEBP")})

    out, _ = run(str(manifest.pk), str(folder), "--type", "OBJECT", "--dry-run")

    assert out.splitlines() == [
        "Would add “hero” (OBJECT) from hero.png",
        "Would add “sword” (OBJECT) from sword.webp",
        f"Dry run, nothing changed: would add 2 assets to “Cast” ({manifest.pk}).",
    ]
    assert tags_and_names(manifest) == []
    assert Manifest.objects.get(pk=manifest.pk).version == 1
    assert stored_files(media_root) == []


def test_more_files_than_the_bulk_limit_go_in_batches(manifest, tmp_path, settings):
    settings.VIDPIPE_BULK_MAX_FILES = 2
    folder = folder_of(
        tmp_path, {f"prop_{n}.png": image_bytes(color=(n, 0, 0)) for n in range(1, 6)}
    )

    out, _ = run(str(manifest.pk), str(folder), "--type", "OBJECT")

    assert "Batch 3 of 3: 1 file…" in out
    assert tags_and_names(manifest) == [(f"OBJ_0{n}", f"prop {n}") for n in range(1, 6)]
    manifest = Manifest.objects.get(pk=manifest.pk)
    assert (manifest.asset_count, manifest.version) == (5, 4)  # one version per batch


@pytest.mark.parametrize(
    ("manifest_id", "message"),
    [("nope", "is not a manifest id"), (str(uuid.UUID(int=1)), "No manifest has the id")],
)
def test_a_bad_manifest_id_fails(db, tmp_path, manifest_id, message):
    folder = folder_of(tmp_path, {"hero.png": image_bytes()})

    with pytest.raises(CommandError, match=message):
        run(manifest_id, str(folder))


def test_a_deleted_manifest_fails(manifest, tmp_path):
    folder = folder_of(tmp_path, {"hero.png": image_bytes()})
    services.manifest_soft_delete(manifest=manifest)

    with pytest.raises(CommandError, match="is deleted; restore it"):
        run(str(manifest.pk), str(folder))
    assert Asset.all_objects.count() == 0


def test_a_missing_or_empty_folder_fails(manifest, tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        run(str(manifest.pk), str(tmp_path / "nowhere"))
    with pytest.raises(CommandError, match="holds no files to import"):
        run(str(manifest.pk), str(folder_of(tmp_path, {})))


def test_every_file_refused_adds_nothing_and_fails(manifest, tmp_path, media_root):
    folder = folder_of(tmp_path, {"a.txt": TEXT, "b.txt": TEXT})

    with pytest.raises(CommandError, match=r"2 files refused: a\.txt"):
        run(str(manifest.pk), str(folder))
    assert Manifest.objects.get(pk=manifest.pk).version == 1
    assert stored_files(media_root) == []


@pytest.mark.django_db(transaction=True)
def test_as_an_operator_runs_it(manage, tmp_path, media_root):  # noqa: F811
    manifest = services.manifest_create(name="Props")
    folder = folder_of(tmp_path, {"lamp.png": image_bytes(), "table_top.jpg": image_bytes("JPEG")})

    result = manage("import_images", str(manifest.pk), str(folder), "--type", "OBJECT")

    assert result.returncode == 0, result.stderr
    assert "Added OBJ_02 “table top” from table_top.jpg" in result.stdout
    assert tags_and_names(manifest) == [("OBJ_01", "lamp"), ("OBJ_02", "table top")]

    (folder / "readme.txt").write_bytes(TEXT)
    failed = manage("import_images", str(manifest.pk), str(folder), "--dry-run")

    assert failed.returncode == 1
    assert "CommandError: 1 file refused: readme.txt" in failed.stderr
    assert "Refused readme.txt" in failed.stdout
