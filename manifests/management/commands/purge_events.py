from datetime import timedelta

from manifests.management.commands._arguments import age_in_days, positive_int
from manifests.management.commands._output import OperationsCommand, plural
from manifests.services.events import (
    DEFAULT_EVENT_RETENTION,
    DEFAULT_PURGE_BATCH,
    events_purge,
)


class Command(OperationsCommand):
    help = (
        "Delete events that occurred more than --older-than days ago, with their webhook "
        "deliveries, one transaction per batch. Consumers of the feed must have read them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=age_in_days,
            default=DEFAULT_EVENT_RETENTION.days,
            metavar="DAYS",
            help=f"delete events older than DAYS days (default {DEFAULT_EVENT_RETENTION.days})",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would go and change nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=DEFAULT_PURGE_BATCH,
            metavar="N",
            help=f"events per transaction (default {DEFAULT_PURGE_BATCH})",
        )

    def handle(self, *args, older_than: int, dry_run: bool, batch_size: int, **options):
        report = events_purge(
            older_than=timedelta(days=older_than), dry_run=dry_run, batch_size=batch_size
        )
        cutoff = report.cutoff.isoformat(timespec="seconds")
        batches = f"{report.batches} batch{'' if report.batches == 1 else 'es'}"
        if not report.events:
            self.say(f"Nothing to delete: no event occurred before {cutoff}.")
        elif dry_run:
            self.say(
                f"Dry run, nothing changed: would delete {plural(report.events, 'event')} "
                f"that occurred before {cutoff}."
            )
        else:
            self.say(
                self.style.SUCCESS(
                    f"Deleted {plural(report.events, 'event')} in "
                    f"{batches} (occurred before {cutoff})."
                )
            )
