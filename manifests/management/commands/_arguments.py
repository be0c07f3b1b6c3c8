"""Argument types shared by the operations commands."""

import argparse

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
