"""Shared plumbing for the benchmarks: Django setup, percentiles, the results file."""

from __future__ import annotations

import os
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "performance.md"


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()


def require_bench_database() -> str:
    """The benchmarks wipe the engine's tables: refuse any database not named for benchmarking."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if "bench" not in Path(name).name:
        sys.exit(f"refusing to run on database {name!r}: its name must contain 'bench' (it is wiped)")
    return name


def wipe_engine_data() -> None:
    from django.db import connection

    from contactcenter.models import Connector, Department
    from openlines.models import OpenLine
    from openlines.session_models import Client

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE auth_user, openlines_openline, contactcenter_connector, openlines_client, "
                "contactcenter_department RESTART IDENTITY CASCADE"
            )
        return
    from django.contrib.auth import get_user_model

    OpenLine.objects.all().delete()
    Client.objects.all().delete()
    Connector.objects.all().delete()
    Department.objects.all().delete()
    get_user_model().objects.all().delete()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0].split()[0]}"
        else:
            cursor.execute("select sqlite_version()")
            db = f"SQLite {cursor.fetchone()[0]}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    python = platform.python_version()
    return f"{os.cpu_count()} CPU cores (load average {load} at the end), Python {python}, {db} (local)"


def write_section(name: str, markdown: str) -> None:
    """Replace the text between `<!-- bench:name -->` and `<!-- /bench:name -->` in docs/performance.md."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{start}\n_Last run: {stamp}; {machine()}._\n\n{markdown.strip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Performance\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    RESULTS.write_text(text)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)} (section {name})")


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
