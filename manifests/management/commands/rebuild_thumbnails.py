import uuid

from django.core.management.base import CommandError

from manifests.management.commands._output import OperationsCommand, plural
from manifests.models import Manifest
from manifests.services import thumbnails_rebuild
from manifests.services.thumbnails import ThumbnailOutcome

PROGRESS_EVERY = 100


class Command(OperationsCommand):
    help = (
        "Make the thumbnails of asset images again: those that are missing (default), or "
        "all of them with --all (after changing VIDPIPE_THUMBNAIL_MAX_SIDE or _FORMAT)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            dest="rebuild_all",
            help="rebuild every thumbnail, not only missing ones",
        )
        parser.add_argument("--manifest", metavar="ID", help="only this manifest's assets")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be rebuilt, change nothing"
        )

    def handle(self, *args, rebuild_all: bool, manifest: str | None, dry_run: bool, **options):
        self.dry_run = dry_run
        self.seen = 0
        manifest_id = self._manifest_id(manifest) if manifest else None
        try:
            report = thumbnails_rebuild(
                manifest_id=manifest_id,
                missing_only=not rebuild_all,
                dry_run=dry_run,
                on_asset=self._show,
            )
        except Manifest.DoesNotExist as exc:
            raise CommandError(f"--manifest: {exc}") from None
        count = plural(report.rebuilt, "thumbnail")
        summary = (
            f"Dry run, nothing changed: would rebuild {count}." if dry_run else f"Rebuilt {count}."
        )
        if report.skipped:
            summary += f" Skipped {plural(report.skipped, 'asset')} changed meanwhile."
        if report.failed:
            summary += f" {plural(len(report.failed), 'asset')} could not be rebuilt."
        self.say(self.style.SUCCESS(summary) if not report.failed else summary)
        if report.failed and not dry_run:
            raise CommandError(
                f"{plural(len(report.failed), 'thumbnail')} could not be rebuilt: "
                + "; ".join(f"{f.tag} ({f.asset_id}): {f.result}" for f in report.failed[:10])
                + ("; …" if len(report.failed) > 10 else "")
            )

    @staticmethod
    def _manifest_id(value: str) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise CommandError(f"--manifest: {value!r} is not a manifest id (a UUID).") from None

    def _show(self, outcome: ThumbnailOutcome) -> None:
        self.seen += 1
        if outcome.result not in {"rebuilt", "would rebuild"}:
            self.stderr.write(
                f"{outcome.tag} ({outcome.asset_id}) in manifest {outcome.manifest_id}: "
                f"{outcome.result} {outcome.detail}".rstrip()
            )
        elif self.dry_run or self.verbosity >= 2:
            verb = "Would rebuild" if self.dry_run else "Rebuilt"
            self.say(f"{verb} {outcome.tag} ({outcome.asset_id}) in {outcome.manifest_id}")
        if self.seen % PROGRESS_EVERY == 0:
            self.say(f"… {self.seen} assets examined")
