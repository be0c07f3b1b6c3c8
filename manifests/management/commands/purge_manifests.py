from datetime import timedelta

from django.core.management.base import CommandError

from manifests.management.commands._arguments import age_in_days, positive_int
from manifests.management.commands._output import OperationsCommand, plural, size
from manifests.services.purging import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_PURGE_AGE,
    PurgeBatch,
    PurgedManifest,
    manifests_purge,
)


class Command(OperationsCommand):
    help = (
        "Hard-delete manifests soft-deleted more than --older-than days ago, with their "
        "assets, frozen versions and files, one transaction per batch. Manifests that "
        "projects reference are skipped and listed; files that frozen versions of other "
        "manifests name are kept and counted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=age_in_days,
            default=DEFAULT_PURGE_AGE.days,
            metavar="DAYS",
            help=f"purge manifests deleted more than DAYS ago (default {DEFAULT_PURGE_AGE.days})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would go and change nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_BATCH_SIZE,
            metavar="N",
            help=f"manifests per transaction (default {DEFAULT_BATCH_SIZE})",
        )

    def handle(self, *args, older_than: int, dry_run: bool, batch_size: int, **options):
        self.dry_run = dry_run
        report = manifests_purge(
            older_than=timedelta(days=older_than),
            dry_run=dry_run,
            batch_size=batch_size,
            on_batch=self._show_batch,
        )
        if not report.batches:
            cutoff = report.cutoff.isoformat(timespec="seconds")
            self.say(f"Nothing to purge: no manifest was deleted before {cutoff}.")
            return
        verb = "Dry run, nothing changed: would purge" if dry_run else "Purged"
        freed = "would free" if dry_run else "freed"
        kept = "would keep" if dry_run else "kept"
        self.say(
            self.style.SUCCESS(
                f"{verb} {plural(report.manifests, 'manifest')}, "
                f"{plural(report.assets, 'asset')}, {plural(report.files, 'file')} "
                f"({size(report.bytes)}, {freed} {size(report.bytes_freed)}) and "
                f"{plural(report.versions, 'frozen version')}; "
                f"{kept} {plural(report.files_kept, 'file')} that frozen versions of other "
                f"manifests name; "
                f"skipped {plural(len(report.skipped), 'referenced manifest')}."
            )
        )
        if report.files_not_removed:
            raise CommandError(
                f"{plural(report.files_not_removed, 'file')} could not be removed (see the "
                "log); their rows are gone, so purge_orphan_files will remove them later."
            )

    def _show_batch(self, batch: PurgeBatch) -> None:
        for purged in batch.purged:
            if self.dry_run or self.verbosity >= 2:
                self._show_manifest(purged)
        for skipped in batch.skipped:
            self.say(self.style.WARNING(f'Skipped {skipped.id} "{skipped.name}": {skipped.reason}'))
        if not self.dry_run:
            purged = batch.purged
            self.say(
                f"Batch {batch.number}: purged {plural(len(purged), 'manifest')}, "
                f"{plural(sum(p.assets for p in purged), 'asset')}, "
                f"{plural(sum(len(p.files) for p in purged), 'file')} "
                f"({size(sum(p.bytes for p in purged))}); "
                f"skipped {len(batch.skipped)}."
            )

    def _show_manifest(self, purged: PurgedManifest) -> None:
        verb = "Would purge" if self.dry_run else "Purged"
        deleted = purged.deleted_at.isoformat(timespec="seconds")
        self.say(
            f'{verb} {purged.id} "{purged.name}" (deleted {deleted}): '
            f"{plural(purged.assets, 'asset')}, {plural(len(purged.files), 'file')} "
            f"({size(purged.bytes)}), {plural(purged.versions, 'frozen version')}"
        )
        if self.dry_run or self.verbosity >= 3:
            for stored in purged.files:
                self.say(f"    {stored.name} ({stored.size} bytes)")
            for name in purged.kept:
                self.say(f"    {name} (kept: a frozen version of another manifest names it)")
