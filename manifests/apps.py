import sqlite3

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def use_sqlite_variable_limit(sender, connection, **kwargs) -> None:
    """Let bulk inserts use SQLite's real variable limit (32766 since 3.32), not Django 5.2's
    hard-coded 999, so duplicating 1,000 assets is one INSERT instead of twenty (Django 6.0
    reads the limit the same way)."""
    if connection.vendor == "sqlite":
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        connection.features.max_query_params = limit


class ManifestsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "manifests"
    verbose_name = "Manifests"

    def ready(self) -> None:
        from manifests import checks  # noqa: F401  (registers the settings checks)
        from manifests.search import register_sqlite_functions

        connection_created.connect(use_sqlite_variable_limit, dispatch_uid="sqlite_var_limit")
        connection_created.connect(register_sqlite_functions, dispatch_uid="vidpipe_search")
