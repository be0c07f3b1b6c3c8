"""The one meaning of a search, for the API's `?search=` and the admin's search box alike.

The text is split into words (whitespace or commas; a quoted phrase is one word). A row
matches when every word (AND) is contained, ignoring case, in one of its text fields or
in one of its labels (OR across fields): `Manifest` in name, description or a tag;
`Asset` in name, manifest tag, description or a user tag. (Other models' searches, e.g.
projects by name, are Django's and DRF's own: the same words, without the indexes.)

On PostgreSQL every condition is `UPPER(<expression>) LIKE UPPER('%word%')` over an
expression that a pg_trgm GIN index of migration 0006 holds, so a word of three or more
characters is looked up in the index instead of scanning the table. Tags are matched
through `vidpipe_label_text(tags)`, an immutable SQL function (same migration) that joins
a list's strings with LABEL_SEPARATOR, so a word never matches across two tags nor the
list's JSON quoting. SQLite scans, with the same meaning: `json_each` reads the labels
unescaped (JSONField stores "café" as "caf\\u00e9" there), and words with non-ASCII
letters compare through `vidpipe_upper`, a Python function registered on each connection,
since SQLite's LIKE and UPPER fold ASCII letters only.
"""

import re

from django.db import NotSupportedError, models
from django.db.models import F, Q
from django.db.models.lookups import Lookup
from django.utils.text import smart_split, unescape_string_literal

from manifests.models import Asset, Manifest

MAX_SEARCH_TERMS = 20

# What each model's search looks in: plain text columns, then JSON label lists.
TEXT_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Manifest: ("name", "description"),
    Asset: ("name", "manifest_tag", "description"),
}
LABEL_FIELDS: dict[type[models.Model], tuple[str, ...]] = {
    Manifest: ("tags",),
    Asset: ("user_tags",),
}

# The PostgreSQL function (migration 0006) that turns a label list into searchable text,
# and the character it puts between labels: a control character no one types in a word.
LABEL_TEXT_FUNCTION = "vidpipe_label_text"
LABEL_SEPARATOR = "\x1f"
# The SQLite function that upper-cases like PostgreSQL's UPPER does in a UTF-8 locale.
SQLITE_UPPER_FUNCTION = "vidpipe_upper"


def search_words(text: str) -> list[str]:
    """The words of a search text: split on whitespace and commas; a quoted phrase, quotes
    removed, is one word (DRF's SearchFilter splits the same way)."""
    words = []
    for term in smart_split(text):
        term = term.strip(",")
        if term[:1] in {'"', "'"} and len(term) > 1 and term[0] == term[-1]:
            words.append(unescape_string_literal(term))
        else:
            words.extend(part.strip() for part in term.split(",") if part.strip())
    return [word for word in words if word]


def searches(model: type[models.Model]) -> bool:
    """Whether this module defines the search of `model`."""
    return model in TEXT_FIELDS


def search_fields(model: type[models.Model]) -> list[str]:
    """The fields a search of `model` looks in (for the admin's box and the browsable API)."""
    return [*TEXT_FIELDS[model], *LABEL_FIELDS[model]]


def search(queryset: models.QuerySet, words: list[str]) -> models.QuerySet:
    """The rows of `queryset` that contain every word, as the module docstring defines."""
    model = queryset.model
    for word in words:
        matches = Q()
        for field in TEXT_FIELDS[model]:
            matches |= Q(FoldedContains(F(field), word))
        for field in LABEL_FIELDS[model]:
            matches |= Q(LabelContains(F(field), word))
        queryset = queryset.filter(matches)
    return queryset


def sqlite_upper(value: str | None) -> str | None:
    """UPPER as PostgreSQL computes it: letter by letter, a letter whose capital is
    several letters (ß → SS) left as it is."""
    if value is None or value.isascii():
        return value if value is None else value.upper()
    return "".join(upper if len(upper := letter.upper()) == 1 else letter for letter in value)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: give SQLite connections `vidpipe_upper`."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_UPPER_FUNCTION, 1, sqlite_upper, deterministic=True
        )


class FoldedContains(Lookup):
    """`lhs` contains the word `rhs`, ignoring case (a plain string, not an expression)."""

    lookup_name = "folded_contains"
    prepare_rhs = False

    def pattern(self, connection) -> str:
        return f"%{connection.ops.prep_for_like_query(self.rhs)}%"

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"search is not implemented for {connection.vendor}.")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        # Exactly Django's icontains, whose UPPER(column) the trigram indexes hold.
        return f"UPPER({lhs}) LIKE UPPER(%s)", (*lhs_params, self.pattern(connection))

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        sql, params = sqlite_contains(lhs, self.rhs)
        return sql, (*lhs_params, *params)


def sqlite_contains(lhs: str, word: str) -> tuple[str, tuple[str]]:
    """SQL and parameters for "`lhs` contains `word`, ignoring case" on SQLite. Its LIKE
    ignores the case of ASCII letters only, which is all an ASCII word needs; other words
    compare upper-cased, letter by letter, as on PostgreSQL."""
    if word.isascii():
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{lhs} LIKE %s ESCAPE '\\'", (f"%{escaped}%",)
    return f"instr({SQLITE_UPPER_FUNCTION}({lhs}), %s) > 0", (sqlite_upper(word),)


# Characters PostgreSQL's jsonb text output escapes (so a word holding one is not found,
# as it is, in a label list's JSON text).
JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


class LabelContains(FoldedContains):
    """One label of the JSON list `lhs` contains the word `rhs`, ignoring case."""

    lookup_name = "label_contains"

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        sql = f"UPPER({LABEL_TEXT_FUNCTION}({lhs})) LIKE UPPER(%s)"
        params = (*lhs_params, self.pattern(connection))
        if not JSON_ESCAPED.search(self.rhs):
            # A label holding the word puts it, as it is, in the list's JSON text: that
            # cheap test first spares most rows the SQL function (the search's main cost
            # when the planner walks an ordering's index). Words JSON escapes skip it.
            sql = f"UPPER(({lhs})::text) LIKE UPPER(%s) AND {sql}"
            params = (*lhs_params, self.pattern(connection), *params)
        if LABEL_SEPARATOR in self.rhs:
            # Such a word could span two labels of the joined text: check each label too.
            sql += (
                " AND EXISTS (SELECT 1 FROM jsonb_array_elements("
                f"CASE WHEN jsonb_typeof({lhs}) = 'array' THEN {lhs} ELSE '[]'::jsonb END"
                ") AS label WHERE jsonb_typeof(label) = 'string' "
                "AND UPPER(label #>> '{}') LIKE UPPER(%s))"
            )
            params = (*params, *lhs_params, *lhs_params, self.pattern(connection))
        return sql, params

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = compiler.compile(self.lhs)
        contains, params = sqlite_contains("label.value", self.rhs)
        sql = (
            f"EXISTS (SELECT 1 FROM json_each({lhs}) AS label WHERE json_type({lhs}) = 'array' "
            f"AND label.type = 'text' AND {contains})"
        )
        return sql, (*lhs_params, *lhs_params, *params)
