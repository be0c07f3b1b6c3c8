from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from manifests import services
from manifests.exceptions import ManifestError, domain_error_message
from manifests.management.commands._arguments import live_manifest
from manifests.management.commands._output import ActingCommand, plural
from manifests.models import Asset, Manifest

PROGRESS_EVERY = 100  # assets between progress lines at --verbosity 2


class Command(ActingCommand):
    help = (
        "Copy a manifest with its assets and files into a new DRAFT manifest and print the "
        "new manifest's id (alone with --verbosity 0)."
    )

    def add_arguments(self, parser):
        parser.add_argument("manifest_id", help="id (UUID) of the manifest to copy")
        parser.add_argument(
            "--name",
            help='name of the copy (default: the first free "<original> (copy)", '
            '"<original> (copy 2)", …; copying a copy numbers the next copy of its original)',
        )

    def handle(self, *args, manifest_id: str, name: str | None, verbosity: int, **options):
        source = live_manifest(manifest_id, before="duplicating")
        copied = 0

        def show_progress(asset: Asset) -> None:
            nonlocal copied
            copied += 1
            if copied % PROGRESS_EVERY == 0:
                self.stdout.write(f"Copied {copied} of {source.asset_count} assets…")

        try:
            copy = services.manifest_duplicate(
                manifest=source,
                name=name,
                on_asset_copied=show_progress if verbosity >= 2 else None,
            )
        except Manifest.DoesNotExist:
            raise CommandError(f"Manifest {source.pk} was deleted meanwhile.") from None
        except (ValidationError, ManifestError) as exc:
            raise CommandError(f"Cannot duplicate: {domain_error_message(exc)}") from None
        if verbosity == 0:
            self.stdout.write(str(copy.pk))
            return
        # Distinct stored names: the manifest's thumbnail is its first asset's thumbnail
        # file, not a copy of its own.
        names = {copy.thumbnail.name, copy.contact_sheet.name}
        for pair in Asset.all_objects.filter(manifest=copy).values_list(
            "reference_image", "thumbnail"
        ):
            names.update(pair)
        names.discard("")
        files = len(names)
        self.stdout.write(str(copy.pk))
        self.stdout.write(
            self.style.SUCCESS(
                f'Duplicated "{source.name}" ({source.pk}) as "{copy.name}": '
                f"{plural(copy.asset_count, 'asset')}, {plural(files, 'file')} copied."
            )
        )
