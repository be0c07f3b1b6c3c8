"""Query-count assertions that show the SQL when they fail, as Zulip's
`assert_database_query_count` does: a bare "5 != 4" says nothing about the extra query."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections
from django.test.utils import CaptureQueriesContext


@dataclass(frozen=True)
class CapturedQueries:
    """The SQL statements one action ran, in order."""

    sql: list[str]

    @property
    def count(self) -> int:
        return len(self.sql)

    def __str__(self) -> str:
        numbered = (f"{number}. {statement}" for number, statement in enumerate(self.sql, 1))
        return "\n".join(numbered) or "(no queries)"


def captured(context: CaptureQueriesContext) -> CapturedQueries:
    return CapturedQueries([query["sql"] for query in context.captured_queries])


@contextmanager
def assert_num_queries(expected: int, *, using: str = "default") -> Iterator[CaptureQueriesContext]:
    """Fail unless the block runs exactly `expected` queries, listing every one it ran."""
    with CaptureQueriesContext(connections[using]) as context:
        yield context
    queries = captured(context)
    if queries.count != expected:
        raise AssertionError(f"Expected {expected} queries, {queries.count} ran:\n{queries}")


def count_queries(action: Callable[[], object], *, using: str = "default") -> CapturedQueries:
    """Run `action` once and return the queries it ran."""
    with CaptureQueriesContext(connections[using]) as context:
        action()
    return captured(context)


def assert_same_query_count(small: CapturedQueries, large: CapturedQueries) -> None:
    """Fail unless the same action cost as many queries at a small and a large size."""
    if small.count != large.count:
        raise AssertionError(
            f"Queries at the small size: {small.count}, at the large one: {large.count}.\n"
            f"Small:\n{small}\nLarge:\n{large}"
        )
