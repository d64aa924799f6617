"""Client-name search in the chat list (`icontains`) through a trigram index on PostgreSQL.

Needs the `pg_trgm` extension; where the database user may not create it, the index is skipped with a
warning (the search still works, by scanning). SQLite has no such index.
"""

import logging

from django.db import DatabaseError, migrations, transaction

logger = logging.getLogger(__name__)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            # The expression Django generates for icontains: UPPER("name"::text) LIKE UPPER(...).
            schema_editor.execute(
                "CREATE INDEX IF NOT EXISTS kpi_client_name_trgm ON openlines_client "
                "USING gin ((UPPER(name::text)) gin_trgm_ops)"
            )
    except DatabaseError:
        logger.warning("pg_trgm is not available: client-name search in the chat list will scan")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS kpi_client_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("kpi", "0003_sessionkpi_backfill")]

    operations = [migrations.RunPython(create, drop)]
