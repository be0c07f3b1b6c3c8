import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from manifests import services
from manifests.exceptions import ManifestError, domain_error_message
from manifests.management.commands._arguments import live_manifest, positive_int
from manifests.management.commands._output import plural, size
from manifests.models import Manifest, ManifestVersion


class Command(BaseCommand):
    help = (
        "Export a manifest, or one of its frozen versions, as a bundle (a zip of "
        "manifest.json and its images) into a file, or to stdout without -o (not to a "
        "terminal). The summary goes to stderr when the bundle goes to stdout."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is Django's (print Django's version): here it is the manifest's, which
        # replaces it.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("manifest_id", help="id (UUID) of the manifest to export")
        parser.add_argument(
            "--version", type=positive_int, help="a frozen version number (default: as it is now)"
        )
        parser.add_argument(
            "-o", "--output", help="the zip file to write (default: stdout); replaced if it exists"
        )

    def handle(self, *args, manifest_id: str, version: int | None, output: str | None, **options):
        manifest = live_manifest(manifest_id, before="exporting")
        try:
            if version is None:
                chunks = services.manifest_export(manifest=manifest)
                what = f'"{manifest.name}" v{manifest.version}'
                assets = manifest.asset_count
            else:
                frozen = self._frozen(manifest, version)
                chunks = services.manifest_export_version(version=frozen)
                what = f'"{frozen.fields["name"]}" v{frozen.number} (frozen)'
                assets = frozen.asset_count
        except ManifestError as exc:
            raise CommandError(f"Cannot export: {domain_error_message(exc)}") from None
        if output is None:
            written = self._to_stdout(chunks)
            where, report = "stdout", self.stderr
        else:
            written = self._to_file(chunks, Path(output))
            where, report = output, self.stdout
        if options["verbosity"] >= 1:
            report.write(
                self.style.SUCCESS(
                    f"Exported {what} ({manifest.pk}): {plural(assets, 'asset')}, "
                    f"{size(written)} to {where}."
                )
            )

    def _to_stdout(self, chunks) -> int:
        out = getattr(self.stdout._out, "buffer", None)
        if out is None or (hasattr(out, "isatty") and out.isatty()):
            raise CommandError("A zip is not for a terminal: give -o FILE, or redirect stdout.")
        written = 0
        for chunk in chunks:
            out.write(chunk)
            written += len(chunk)
        out.flush()
        return written

    @staticmethod
    def _to_file(chunks, path: Path) -> int:
        """Write beside `path`, then rename: a failed export leaves no partial zip."""
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        descriptor, partial = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
        written = 0
        try:
            with os.fdopen(descriptor, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    written += len(chunk)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        return written

    @staticmethod
    def _frozen(manifest: Manifest, number: int) -> ManifestVersion:
        frozen = ManifestVersion.objects.filter(manifest=manifest, number=number).first()
        if frozen is None:
            numbers = ManifestVersion.objects.filter(manifest=manifest).order_by("number")
            listed = ", ".join(str(n) for n in numbers.values_list("number", flat=True))
            raise CommandError(
                f"Manifest {manifest.pk} has no frozen version {number}; "
                f"its frozen versions are: {listed or 'none yet'}."
            )
        return frozen
