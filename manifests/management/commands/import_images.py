import os
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from manifests import services
from manifests.exceptions import BulkUploadRefused, ManifestError, domain_error_message
from manifests.management.commands._arguments import live_manifest
from manifests.management.commands._output import OperationsCommand, plural
from manifests.models import Asset, Manifest
from manifests.services.bulk import RefusedFile


class Command(OperationsCommand):
    help = (
        "Add the images in a folder to a manifest, one new asset per file, in file name "
        "order, named after the file; as the API's bulk upload does, in batches of "
        "VIDPIPE_BULK_MAX_FILES (one new version of the manifest per batch). Subfolders "
        "and hidden files are skipped; any other file that is not an image is refused, and "
        "the command then exits 1 after adding the rest."
    )

    def add_arguments(self, parser):
        parser.add_argument("manifest_id", help="id (UUID) of the manifest to add to")
        parser.add_argument("folder", help="the folder whose images to add (not its subfolders)")
        parser.add_argument(
            "--type",
            dest="asset_type",
            default=Asset.AssetType.CHARACTER,
            choices=Asset.AssetType.values,
            help="the type of every new asset (default: CHARACTER)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every file and say what would be added"
        )

    def handle(self, *args, manifest_id: str, folder: str, asset_type: str, dry_run: bool, **_):
        manifest = live_manifest(manifest_id, before="importing")
        paths = self._files_in(Path(folder))
        batch_size = settings.VIDPIPE_BULK_MAX_FILES
        batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        added = 0
        refused: list[RefusedFile] = []
        for number, batch in enumerate(batches, 1):
            if len(batches) > 1:
                self.say(f"Batch {number} of {len(batches)}: {plural(len(batch), 'file')}…")
            offset = (number - 1) * batch_size
            outcome = self._import(manifest, batch, asset_type, dry_run=dry_run)
            added += outcome[0]
            refused += [RefusedFile(r.index + offset, r.file, r.reason) for r in outcome[1]]
        count = plural(added, "asset")
        where = f"“{manifest.name}” ({manifest.pk})"
        if dry_run:
            summary = f"Dry run, nothing changed: would add {count} to {where}"
        else:
            version = Manifest.objects.get(pk=manifest.pk).version
            summary = f"Added {count} to {where}, now at version {version}"
        summary += f"; {plural(len(refused), 'file')} refused." if refused else "."
        self.say(self.style.SUCCESS(summary) if not refused else summary)
        if refused:
            raise CommandError(
                f"{plural(len(refused), 'file')} refused: "
                + "; ".join(f"{r.file}: {r.reason}" for r in refused[:10])
                + ("; …" if len(refused) > 10 else "")
            )

    def _import(
        self, manifest: Manifest, paths: list[Path], asset_type: str, *, dry_run: bool
    ) -> tuple[int, list[RefusedFile]]:
        """Add one batch (or check it, dry): how many assets, and the files refused."""
        with ExitStack() as stack:
            files = [stack.enter_context(path.open("rb")) for path in paths]
            try:
                if dry_run:
                    check = services.assets_bulk_check(files=files, asset_type=asset_type)
                    lines = {
                        c.index: f"Would add “{c.name}” ({c.asset_type}) from {c.filename}"
                        for c in check.accepted
                    }
                    created, refused = len(check.accepted), check.refused
                else:
                    result = services.assets_bulk_create(
                        manifest=manifest, files=files, asset_type=asset_type
                    )
                    refused_at = {r.index for r in result.refused}
                    indexes = [i for i in range(len(paths)) if i not in refused_at]
                    lines = {
                        index: f"Added {asset.manifest_tag} “{asset.name}” from {paths[index].name}"
                        for index, asset in zip(indexes, result.created, strict=True)
                    }
                    created, refused = len(result.created), result.refused
            except BulkUploadRefused as refusal:
                lines, created, refused = {}, 0, refusal.refused
            except Manifest.DoesNotExist:
                raise CommandError(f"Manifest {manifest.pk} was deleted meanwhile.") from None
            except (ValidationError, ManifestError) as exc:
                raise CommandError(f"Cannot import: {domain_error_message(exc)}") from None
        for refusal in refused:
            lines[refusal.index] = f"Refused {refusal.file}: {refusal.reason}"
        for index in sorted(lines):
            self.say(lines[index])
        return created, refused

    def _files_in(self, folder: Path) -> list[Path]:
        """The folder's files, by name; subfolders and hidden files are skipped (said)."""
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        files = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.name.startswith("."):
                self.say(f"Skipped {entry.name}: a hidden file.")
            elif entry.is_dir():
                self.say(f"Skipped {entry.name}/: a folder (subfolders are not imported).")
            elif entry.is_file():
                files.append(Path(entry.path))
            else:
                self.say(f"Skipped {entry.name}: not a regular file.")
        if not files:
            raise CommandError(f"{folder} holds no files to import.")
        return files
