"""Wording shared by the operations commands."""

from django.template.defaultfilters import filesizeformat


def size(count: int) -> str:
    """`1.2 MB (1234567 bytes)`: readable, and exact for whoever parses the output."""
    if count < 1024:
        return plural(count, "byte")
    return f"{filesizeformat(count)} ({count} bytes)".replace("\xa0", " ")


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
