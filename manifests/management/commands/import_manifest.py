from pathlib import Path

from django.core.management.base import CommandError

from manifests import services
from manifests.exceptions import ManifestError, domain_error_message
from manifests.management.commands._output import ActingCommand, plural
from manifests.models import Asset

PROGRESS_EVERY = 100  # assets between progress lines


class Command(ActingCommand):
    help = (
        "Import a bundle (a zip made by export_manifest or the API's export) as a new DRAFT "
        "manifest, with progress lines and a summary; its id alone with --verbosity 0. "
        "A refused bundle leaves nothing behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="the bundle's zip file")
        parser.add_argument("--name", help="name of the new manifest (default: the bundle's)")

    def handle(self, *args, bundle: str, name: str | None, verbosity: int, **options):
        path = Path(bundle)
        imported = 0

        def show_progress(asset: Asset) -> None:
            nonlocal imported
            imported += 1
            if imported % PROGRESS_EVERY == 0:
                self.stdout.write(f"Imported {imported} assets…")

        try:
            with path.open("rb") as file:
                manifest = services.manifest_import(
                    bundle=file, name=name, on_asset_imported=show_progress if verbosity else None
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        except ManifestError as exc:
            raise CommandError(f"Cannot import {path}: {domain_error_message(exc)}") from None
        self.stdout.write(str(manifest.pk))
        if verbosity == 0:
            return
        images = Asset.all_objects.filter(manifest=manifest).exclude(reference_image="").count()
        self.stdout.write(
            self.style.SUCCESS(
                f'Imported {path.name} as "{manifest.name}" ({manifest.pk}), a DRAFT: '
                f"{plural(manifest.asset_count, 'asset')}, {plural(images, 'image')}."
            )
        )
