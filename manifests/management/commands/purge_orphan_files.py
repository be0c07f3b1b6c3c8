from datetime import timedelta

from django.core.management.base import CommandError

from manifests.files import StoredFile
from manifests.management.commands._arguments import age_in_minutes
from manifests.management.commands._output import OperationsCommand, plural, size
from manifests.services.orphans import DEFAULT_ORPHAN_MIN_AGE, orphan_files_sweep

DEFAULT_MIN_AGE_MINUTES = int(DEFAULT_ORPHAN_MIN_AGE.total_seconds() // 60)


class Command(OperationsCommand):
    help = (
        "Remove files under the manifests' media folder that no manifest or asset refers to "
        "(left by crashes or manual edits). Files that frozen versions name are kept and "
        "counted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list the orphans and change nothing"
        )
        parser.add_argument(
            "--min-age",
            type=age_in_minutes,
            default=DEFAULT_MIN_AGE_MINUTES,
            metavar="MINUTES",
            help="leave files younger than this alone: an upload or a duplicate may be "
            f"writing them (default {DEFAULT_MIN_AGE_MINUTES})",
        )

    def handle(self, *args, dry_run: bool, min_age: int, **options):
        self.dry_run = dry_run
        report = orphan_files_sweep(
            dry_run=dry_run, min_age=timedelta(minutes=min_age), on_orphan=self._show_orphan
        )
        if self.verbosity >= 2:
            for name in report.kept_for_versions:
                self.say(f"Keeping {name}: a frozen version names it")
        count = plural(len(report.files), "orphan file")
        if dry_run:
            summary = f"Dry run, nothing changed: would remove {count} ({size(report.bytes)})."
        else:
            summary = f"Removed {count} ({size(report.bytes)}, freed {size(report.bytes_freed)})."
        held = plural(len(report.kept_for_versions), "file")
        summary += f" {'Would keep' if dry_run else 'Kept'} {held} that frozen versions name."
        self.say(self.style.SUCCESS(summary))
        if report.files_not_removed:
            raise CommandError(
                f"{plural(report.files_not_removed, 'file')} could not be removed (see the log)."
            )

    def _show_orphan(self, orphan: StoredFile) -> None:
        if self.dry_run or self.verbosity >= 2:
            verb = "Would remove" if self.dry_run else "Removing"
            self.say(f"{verb} {orphan.name} ({orphan.size} bytes)")
