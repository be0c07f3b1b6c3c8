"""The README's "First steps" and "A walk through the API", run as written with bash in a
scratch checkout, against a development server on a fresh database and media folder."""

import json
import os
import re
import sqlite3
import subprocess
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from tests.processes import ROOT, checkout, development_env, runserver

# Its processes use SQLite files of their own: the PostgreSQL pass would repeat it as is.
pytestmark = pytest.mark.own_sqlite

# Every curl also reports its HTTP status on stderr, in order; the README's commands are
# otherwise run unchanged, and the first failing one stops the script.
PREAMBLE = """\
set -euo pipefail
curl() { command curl --write-out '%{stderr}HTTP %{http_code}\\n' "$@"; }
"""

# What the walk-through's comments promise, request by request.
WALKTHROUGH_STATUSES = [
    201,  # the manifest
    201,  # CHAR_01
    201,  # CHAR_02
    201,  # OBJ_01
    200,  # the manifest, with its assets
    200,  # the upload
    200,  # the filtered list
    201,  # the project
    409,  # the refused delete
    201,  # the copy
]
CAST = [("CHAR_01", "Hero"), ("CHAR_02", "Sidekick"), ("OBJ_01", "Sword")]


def sh_block(heading: str) -> str:
    """The one ```sh block in the README section under `## heading`; for a section of
    several parts, "Section / Part" names its `### Part`."""
    readme = (ROOT / "README.md").read_text()
    heading, _, part = heading.partition(" / ")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert section, f"README has no section {heading!r}"
    if part:
        section = re.search(
            rf"^### {re.escape(part)}\n(.*?)(?=^### |\Z)", section.group(1), re.M | re.S
        )
        assert section, f"README section {heading!r} has no part {part!r}"
    blocks = re.findall(r"^```sh\n(.*?)^```$", section.group(1), re.M | re.S)
    assert len(blocks) == 1, f"README section {heading!r} has {len(blocks)} sh blocks"
    return blocks[0]


def files_under(directory: Path) -> set[str]:
    """Every path under `directory`, symlinks listed but not followed."""
    found = set()
    for folder, subfolders, files in os.walk(directory):
        for name in subfolders + files:
            found.add(os.path.relpath(os.path.join(folder, name), directory))
    return found


def rows(database: Path, query: str, *params: str) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(database)) as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute(query, params).fetchall()


def assets(database: Path, manifest_id: str) -> list[sqlite3.Row]:
    """A manifest's assets, in order."""
    query = "SELECT * FROM manifests_asset WHERE manifest_id = ? ORDER BY sort_order"
    return rows(database, query, manifest_id)


def cast(assets: list[sqlite3.Row]) -> list[tuple[str, str]]:
    return [(asset["manifest_tag"], asset["name"]) for asset in assets]


def repository_state() -> str:
    """What git sees in the repository the scratch checkout links to, ignored files too: a
    command that writes through a symlinked folder (manifests/, vidpipe/) shows up here.
    Python's and the tools' caches aside."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    caches = re.compile(
        r'^.. "?(\.venv|\.pytest_cache/|\.ruff_cache/|\.hypothesis/|(.*/)?__pycache__/)'
    )
    return "\n".join(line for line in status.splitlines() if not caches.match(line))


def run_sections(
    tmp_path: Path, *headings: str, replace: dict[str, str] | None = None, **env_extra: str
) -> tuple[list[int], set[str], set[str]]:
    """Run the README's sh blocks under `headings`, as written, in a scratch checkout
    against a development server on a fresh database: the statuses the script's requests
    got, in order, and the checkout's files before and after. Fails when the script fails.
    `replace` swaps texts of the script (a port), `env_extra` adds to its environment and
    the server's."""
    work = checkout(tmp_path / "checkout")
    (tmp_path / "tmp").mkdir()
    env = development_env(tmp_path, TMPDIR=str(tmp_path / "tmp"), **env_extra)
    before = files_under(work)

    with runserver(env, log=tmp_path / "server.log") as base:
        script = PREAMBLE + "".join(sh_block(heading) for heading in headings)
        script = script.replace("http://127.0.0.1:8000", base)
        for old, new in (replace or {}).items():
            script = script.replace(old, new)
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    server_log = (tmp_path / "server.log").read_text()
    assert result.returncode == 0, result.stderr + server_log
    statuses = [int(line[5:]) for line in result.stderr.splitlines() if line.startswith("HTTP ")]
    run_sections.stdout = result.stdout
    return statuses, before, files_under(work)


def test_first_steps_and_walkthrough_run_as_written(tmp_path):
    repository_before = repository_state()

    statuses, before, after = run_sections(tmp_path, "First steps", "A walk through the API")

    assert statuses == WALKTHROUGH_STATUSES
    assert after == before
    assert repository_state() == repository_before

    database = tmp_path / "dev.sqlite3"
    (user,) = rows(database, "SELECT * FROM auth_user")
    assert (user["username"], user["is_staff"]) == ("alice", 1)
    manifests = {row["name"]: row for row in rows(database, "SELECT * FROM manifests_manifest")}
    assert sorted(manifests) == ["Hero Characters", "Second cast"]
    hero, copy = manifests["Hero Characters"], manifests["Second cast"]
    assert hero["deleted_at"] is None  # the delete was refused
    assert hero["times_used"] == 1
    hero_assets = assets(database, hero["id"])
    assert cast(hero_assets) == CAST
    assert [bool(asset["reference_image"]) for asset in hero_assets] == [False, False, True]
    sword_image = hero_assets[2]["reference_image"]
    assert sword_image.endswith("_sword.png")
    assert (tmp_path / "media" / sword_image).is_file()
    (project,) = rows(database, "SELECT * FROM manifests_project")
    assert project["name"] == "Trailer"
    assert (project["manifest_id"], project["manifest_version"]) == (hero["id"], hero["version"])
    assert copy["parent_manifest_id"] == hero["id"]
    assert cast(assets(database, copy["id"])) == CAST


# What the "Versions and pins" walk-through's comments promise, request by request.
VERSIONS_STATUSES = [
    200,  # the project, found by name
    200,  # the version it pins
    200,  # the versions
    200,  # OBJ_01 as pinned
    200,  # the sword's new image
    200,  # the manifest, to find CHAR_02
    204,  # CHAR_02 deleted
    200,  # OBJ_01 in the pinned version
    200,  # the diff against current
    200,  # the version's ETag
    304,  # revalidated
    201,  # the current version frozen
    200,  # the upgrade
    201,  # the branch
]


def test_versions_walkthrough_runs_as_written(tmp_path):
    statuses, _, _ = run_sections(
        tmp_path, "First steps", "A walk through the API", "Versions and pins"
    )

    assert statuses == WALKTHROUGH_STATUSES + VERSIONS_STATUSES

    database = tmp_path / "dev.sqlite3"
    manifests = {row["name"]: row for row in rows(database, "SELECT * FROM manifests_manifest")}
    hero = manifests["Hero Characters"]
    versions = rows(
        database,
        "SELECT number, content FROM manifests_manifestversion WHERE manifest_id = ? "
        "ORDER BY number",
        hero["id"],
    )
    pinned, current = (row["number"] for row in versions)
    (project,) = rows(database, "SELECT * FROM manifests_project")
    assert project["manifest_version"] == current == hero["version"]
    (branch_name,) = [name for name in manifests if name.endswith(f" v{pinned}")]
    branch = manifests[branch_name]
    assert branch["parent_manifest_id"] == hero["id"] and branch["status"] == "DRAFT"
    assert cast(assets(database, branch["id"])) == CAST
    old_sword = json.loads(versions[0]["content"])["assets"][2]
    branch_sword = assets(database, branch["id"])[2]
    assert branch_sword["image_sha256"] == old_sword["image_sha256"]
    assert (tmp_path / "media" / old_sword["reference_image"]).is_file()
    assert assets(database, hero["id"])[1]["image_sha256"] != old_sword["image_sha256"]


# What the "Who may read the files" commands' comments promise, request by request.
MEDIA_STATUSES = [
    200,  # the asset, with its signed image URL
    200,  # the signed URL, without credentials
    403,  # the same URL without its signature
]


def test_media_access_commands_run_as_written(tmp_path):
    statuses, _, _ = run_sections(
        tmp_path, "First steps", "A walk through the API", "Production / Who may read the files"
    )

    assert statuses == WALKTHROUGH_STATUSES + MEDIA_STATUSES


# What the "Many images at once" walk-through's comments promise, request by request.
BULK_STATUSES = [
    201,  # two images created, notes.txt refused
    201,  # names and types per file
    400,  # atomic: nothing created
]


def test_bulk_upload_walkthrough_runs_as_written(tmp_path):
    statuses, _, _ = run_sections(
        tmp_path, "First steps", "A walk through the API", "Bulk work / Many images at once"
    )

    assert statuses == WALKTHROUGH_STATUSES + BULK_STATUSES

    database = tmp_path / "dev.sqlite3"
    manifests = {row["name"]: row for row in rows(database, "SELECT * FROM manifests_manifest")}
    hero = manifests["Hero Characters"]
    added = cast(assets(database, hero["id"]))[len(CAST) :]
    assert added == [
        ("CHAR_03", "hero front"),
        ("CHAR_04", "villain portrait"),
        ("OBJ_02", "Shield"),
        ("ENV_01", "villain portrait"),
        ("OBJ_03", "hero front"),
        ("OBJ_04", "villain portrait"),
    ]
    assert hero["asset_count"] == len(CAST) + 6
    for asset in assets(database, hero["id"])[len(CAST) :]:
        assert (tmp_path / "media" / asset["reference_image"]).is_file()
        assert (tmp_path / "media" / asset["thumbnail"]).is_file()


# What the bundles part of "Bulk work" promises, request by request.
BUNDLES_STATUSES = [
    200,  # the export
    200,  # the latest frozen version's export
    201,  # the import
    400,  # the refused bundle
]


def test_bundles_walkthrough_runs_as_written(tmp_path):
    statuses, before, after = run_sections(
        tmp_path,
        "First steps",
        "A walk through the API",
        "Bulk work / A manifest as one zip (bundles)",
    )

    assert statuses == WALKTHROUGH_STATUSES + BUNDLES_STATUSES
    assert after == before
    database = tmp_path / "dev.sqlite3"
    manifests = {row["name"]: row for row in rows(database, "SELECT * FROM manifests_manifest")}
    hero = manifests["Hero Characters"]
    for name in ["Hero Characters (imported)", "Hero Characters (restored)"]:
        imported = manifests[name]
        assert imported["status"] == "DRAFT" and imported["parent_manifest_id"] is None
        pairs = [
            (a["manifest_tag"], a["name"], a["image_sha256"])
            for a in assets(database, imported["id"])
        ]
        assert pairs == [
            (a["manifest_tag"], a["name"], a["image_sha256"]) for a in assets(database, hero["id"])
        ]
        sword = assets(database, imported["id"])[2]["reference_image"]
        assert sword.startswith(f"manifests/{uuid.UUID(imported['id'])}/uploads/")
        assert (tmp_path / "media" / sword).is_file()


# What the "Events and webhooks" walk-through's comments promise, request by request.
EVENTS_STATUSES = [
    200,  # the first events
    200,  # all of them: the last id
    200,  # nothing new
    200,  # the assets created
    201,  # the subscription
    201,  # Villain
    200,  # its event
    200,  # the deliveries
]


def test_events_walkthrough_runs_as_written(tmp_path):
    from tests.processes import free_port

    port = str(free_port())
    statuses, _, _ = run_sections(
        tmp_path,
        "First steps",
        "A walk through the API",
        "Events and webhooks",
        replace={"8765": port},
        VIDPIPE_WEBHOOK_ALLOW_LOOPBACK="1",
    )

    assert statuses == WALKTHROUGH_STATUSES + EVENTS_STATUSES
    database = tmp_path / "dev.sqlite3"
    (delivery,) = rows(database, "SELECT * FROM manifests_webhookdelivery")
    assert delivery["status"] == "SUCCEEDED"
    (attempt,) = rows(database, "SELECT * FROM manifests_deliveryattempt")
    assert attempt["status_code"] == 204
    # The receiver verified the signature with the README's code, and said so.
    assert f"verified {delivery['webhook_id']} asset.created" in run_sections.stdout


def test_the_readme_verification_example_is_the_receivers_code():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Events and webhooks\n", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"^```python\n(.*?)^```$", section, re.M | re.S)
    imports, function = example.split("\n\n", 1)
    receiver = (ROOT / "docs" / "webhook_receiver.py").read_text()
    assert function in receiver
    assert all(f"import {name}\n" in receiver for name in imports.split("import ")[1].split(", "))


def test_pagination_walkthrough_runs_as_written(tmp_path):
    statuses, _, _ = run_sections(
        tmp_path, "First steps", "A walk through the API", "Pagination at scale"
    )

    assert statuses == [*WALKTHROUGH_STATUSES, 200, 200, 200]
    # The curls print bodies without a newline: the walk's names end the output.
    assert '"count":2,"count_is_estimate":false,' in run_sections.stdout
    assert run_sections.stdout.endswith("}Hero Characters\nSecond cast\n")
