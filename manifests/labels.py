"""Lists of labels stored as JSON (manifest tags, asset user tags): the field, its
`has_label` lookup and counts of labels across rows, each in SQL for both backends."""

from django.core.exceptions import EmptyResultSet
from django.db import NotSupportedError, connections, models
from django.db.models import Lookup


class LabelListField(models.JSONField):
    """A JSON list of strings (manifest tags, asset user tags), filterable by element."""


@LabelListField.register_lookup
class HasLabel(Lookup):
    """`tags__has_label="hero"`: the JSON list contains that exact string.

    Django's `contains` on JSONField is unavailable on SQLite, so each backend gets its own
    SQL: jsonb containment on PostgreSQL, `json_each` on SQLite.
    """

    lookup_name = "has_label"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        raise NotSupportedError(f"has_label is not implemented for {connection.vendor}.")

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} @> jsonb_build_array({rhs}::text)", (*lhs_params, *rhs_params)

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}) AS label WHERE label.value = {rhs})"
        return sql, (*lhs_params, *rhs_params)


# How each backend turns the JSON list in column `m.{column}` into rows, one per label,
# readable as `label.value`. Only strings are labels: a value that is not a list (e.g. a
# JSON null) gives no rows, and neither do non-string items of a hand-edited list.
LABEL_ROWS_SQL = {
    # The CASE, not a WHERE, keeps jsonb_array_elements from ever seeing a scalar: the
    # planner may evaluate a LATERAL function before a filter on the outer row.
    "postgresql": (
        "CROSS JOIN LATERAL ("
        "SELECT element #>> '{{}}' AS value FROM jsonb_array_elements("
        "CASE WHEN jsonb_typeof(m.{column}) = 'array' THEN m.{column} ELSE '[]'::jsonb END"
        ") AS element WHERE jsonb_typeof(element) = 'string') AS label"
    ),
    "sqlite": (
        "CROSS JOIN json_each(m.{column}) AS label "
        "WHERE json_type(m.{column}) = 'array' AND label.type = 'text'"
    ),
}


def label_counts(queryset: models.QuerySet, field_name: str, limit: int) -> list[tuple[str, int]]:
    """The labels of a LabelListField across `queryset`, each with the number of rows that
    carry it (labels are unique within a list), most used first, then by label; at most
    `limit`. One query, aggregated in the database: nothing per row reaches Python.
    """
    connection = connections[queryset.db]
    rows_sql = LABEL_ROWS_SQL.get(connection.vendor)
    if rows_sql is None:
        raise NotSupportedError(f"label_counts is not implemented for {connection.vendor}.")
    column = connection.ops.quote_name(queryset.model._meta.get_field(field_name).column)
    # The pk keeps rows with equal lists apart, should `queryset` be distinct().
    rows = queryset.order_by().values_list("pk", field_name)
    try:
        rows_query, params = rows.query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return []
    sql = (
        f"SELECT label.value, COUNT(*) AS uses FROM ({rows_query}) AS m "
        f"{rows_sql.format(column=column)} "
        "GROUP BY label.value ORDER BY uses DESC, label.value LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, limit))
        return [(label, uses) for label, uses in cursor.fetchall()]
