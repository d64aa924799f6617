"""Indexes for the chat list's common sorts and the reports' per-line / per-agent periods.

They are on the engine's session table, which the KPI app reads but does not own, so they are created
here with SQL (docs/performance.md has the measurements). PostgreSQL gets the NULLS LAST order the list
asks for on nullable columns; SQLite gets plain indexes.
"""

from django.db import migrations

INDEXES = [
    # name, table, PostgreSQL columns, SQLite columns
    ("kpi_session_created_id", "openlines_session", "created_at DESC, id DESC", "created_at, id"),
    ("kpi_session_line_created", "openlines_session", "line_id, created_at", "line_id, created_at"),
    ("kpi_session_operator_created", "openlines_session", "operator_id, created_at", "operator_id, created_at"),
    ("kpi_session_messages_id", "openlines_session", "message_count DESC, id DESC", "message_count, id"),
    (
        "kpi_session_first_answer_id",
        "openlines_session",
        "time_first_answer DESC NULLS LAST, id DESC",
        "time_first_answer, id",
    ),
    ("kpi_session_last_message_id", "openlines_session", "date_last_message DESC NULLS LAST, id DESC", "date_last_message, id"),
    ("kpi_sessionkpi_first", "kpi_sessionkpi", "first_response DESC NULLS LAST, session_id DESC", "first_response, session_id"),
    ("kpi_sessionkpi_total", "kpi_sessionkpi", "total_response DESC, session_id DESC", "total_response, session_id"),
    (
        "kpi_sessionkpi_average",
        "kpi_sessionkpi",
        "average_response DESC NULLS LAST, session_id DESC",
        "average_response, session_id",
    ),
    ("kpi_sessionkpi_max", "kpi_sessionkpi", "max_response DESC NULLS LAST, session_id DESC", "max_response, session_id"),
]


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, pg_columns, sqlite_columns in INDEXES:
        columns = pg_columns if postgres else sqlite_columns
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    for name, *_rest in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("kpi", "0001_initial"),
        ("openlines", "0002_client_chat_lineagentstate_session_realtimeevent_and_more"),
    ]

    operations = [migrations.RunPython(create, drop)]
