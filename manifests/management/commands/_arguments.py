"""Argument types shared by the operations commands."""

import argparse
import uuid

from django.core.management.base import CommandError

from manifests.models import Manifest

# Ages beyond a century mean "nothing qualifies" and would overflow date arithmetic.
MAX_AGE_DAYS = 36_500


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {number}")
    return number


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def age_in_days(value: str) -> int:
    number = non_negative_int(value)
    if number > MAX_AGE_DAYS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_AGE_DAYS} days, not {number}")
    return number


def age_in_minutes(value: str) -> int:
    number = non_negative_int(value)
    if number > MAX_AGE_DAYS * 24 * 60:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_AGE_DAYS * 24 * 60} minutes, not {number}"
        )
    return number


def live_manifest(manifest_id: str, *, before: str) -> Manifest:
    """The manifest a command's argument names, or a CommandError saying why not: not an
    id, unknown, or deleted (to be restored `before` the command can act, e.g. "importing")."""
    try:
        pk = uuid.UUID(manifest_id)
    except ValueError:
        raise CommandError(f'"{manifest_id}" is not a manifest id (a UUID).') from None
    manifest = Manifest.all_objects.filter(pk=pk).first()
    if manifest is None:
        raise CommandError(f"No manifest has the id {pk}.")
    if manifest.is_deleted:
        raise CommandError(
            f'Manifest {pk} ("{manifest.name}") is deleted; restore it before {before}.'
        )
    return manifest
