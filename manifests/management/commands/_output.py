"""Wording and output shared by the operations commands."""

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from manifests.actors import acting_as


def size(count: int) -> str:
    """`1.2 MB (1234567 bytes)`: readable, and exact for whoever parses the output."""
    if count < 1024:
        return plural(count, "byte")
    return f"{filesizeformat(count)} ({count} bytes)".replace("\xa0", " ")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class ActingCommand(BaseCommand):
    """A command whose changes name it as their actor (`command:<name>`) in their events."""

    def execute(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with acting_as(f"command:{name}"):
            return super().execute(*args, **options)


class OperationsCommand(ActingCommand):
    """A command for operators and cron: `say` prints, except with --verbosity 0, where
    only errors (on stderr, or a CommandError) are shown."""

    verbosity = 1

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        return super().execute(*args, **options)

    def say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stdout.write(message)
