"""Give every existing session its KPI row (new sessions get one when they are created)."""

from django.db import migrations


def backfill(apps, schema_editor):
    schema_editor.execute(
        "INSERT INTO kpi_sessionkpi (session_id, total_response, response_count, breaches) "
        "SELECT s.id, 0, 0, 0 FROM openlines_session s "
        "WHERE NOT EXISTS (SELECT 1 FROM kpi_sessionkpi k WHERE k.session_id = s.id)"
    )


class Migration(migrations.Migration):
    dependencies = [("kpi", "0002_chat_list_indexes")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
