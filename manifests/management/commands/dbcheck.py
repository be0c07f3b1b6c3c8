"""`manage.py dbcheck`: connect to the database once, and say in one line which database
could not be reached and why, instead of a traceback. `make serve`, `make run` and
`make migrate` run it first."""

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from manifests.management.commands._output import OperationsCommand

ENGINES = {"postgresql": "PostgreSQL", "sqlite3": "SQLite", "mysql": "MySQL", "oracle": "Oracle"}
# Seconds to wait for a PostgreSQL server that does not answer (a host that drops packets)
# unless DATABASE_URL sets ?connect_timeout=…; libpq would wait for TCP to give up.
CONNECT_TIMEOUT = 10


def describe(settings: dict) -> str:
    """Which database: engine, name, host and port, user; never the password."""
    backend = settings["ENGINE"].rsplit(".", 1)[-1]
    engine = ENGINES.get(backend, backend)
    if backend == "sqlite3":
        return f"SQLite database {settings['NAME']}"
    where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 'default port'}"
    user = f" as {settings['USER']}" if settings.get("USER") else ""
    return f"{engine} database “{settings['NAME']}” on {where}{user}"


class Command(OperationsCommand):
    help = "Connect to the database (DATABASE_URL); one line saying what failed if it cannot."
    requires_system_checks = []

    def handle(self, *args, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        which = describe(connection.settings_dict)
        if connection.vendor == "postgresql":
            options = {"connect_timeout": CONNECT_TIMEOUT, **connection.settings_dict["OPTIONS"]}
            # One plain connection, not the pool's: a pool retries in the background, logs
            # each failure and answers with its own timeout instead of the cause.
            options.pop("pool", None)
            connection.settings_dict = {**connection.settings_dict, "OPTIONS": options}
        try:
            connection.ensure_connection()
        except DatabaseError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise CommandError(f"Cannot connect to the {which} (DATABASE_URL): {reason}") from None
        finally:
            connection.close()
        self.say(f"Connected to the {which}.")
