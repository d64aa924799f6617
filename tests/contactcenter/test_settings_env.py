"""Every setting the README or the docs call environment-configured is read from the environment by
settings.py, and its value reaches the code that uses it (checked in a fresh process, as deployed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.contactcenter.test_deploy_examples import settings_variables

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

# In a fresh process with the variables below set, the code that uses each setting reports what it got.
PROBE = """
import json, uuid
from types import SimpleNamespace
import django
django.setup()
from contactcenter.connectors.adapters import get_adapter, shared_http_client
from contactcenter.connectors.channels import webhook_url
from contactcenter.models import Connector
import contactcenter.management.commands.serve as serve

demo = {}
serve.database_is_empty = lambda: True
serve.demo_data_load = lambda password: demo.update(password=password) or SimpleNamespace(
    usernames=[], password=""
)
serve.Command()._load_demo(skip=False)
connector = Connector(kind="telegram", uuid=uuid.UUID(int=1))
print(json.dumps({
    "CONNECTORS_PUBLIC_URL": webhook_url(connector, base_url="http://admin.local/"),
    "CONNECTORS_TELEGRAM_API_URL": get_adapter("telegram").base_url,
    "CONNECTORS_GRAPH_API_URL": get_adapter("whatsapp").graph_url,
    "CONNECTORS_GRAPH_API_VERSION": get_adapter("messenger").graph_version,
    "CONNECTORS_INSTAGRAM_API_URL": get_adapter("instagram").instagram_url,
    "CONNECTORS_VIBER_API_URL": get_adapter("viber").base_url,
    "CONNECTORS_HTTP_TIMEOUT": shared_http_client().timeout.read,
    "CONNECTORS_MAX_MEDIA_BYTES": get_adapter("viber").max_media_bytes,
    "DEMO_PASSWORD": demo["password"],
}))
"""

CASES = {
    "CONNECTORS_PUBLIC_URL": (
        "https://cc.example.com/",
        "https://cc.example.com/connectors/telegram/00000000-0000-0000-0000-000000000001/",
    ),
    "CONNECTORS_TELEGRAM_API_URL": ("http://127.0.0.1:9001/tg", "http://127.0.0.1:9001/tg"),
    "CONNECTORS_GRAPH_API_URL": ("http://127.0.0.1:9002/graph", "http://127.0.0.1:9002/graph"),
    "CONNECTORS_GRAPH_API_VERSION": ("v26.0", "v26.0"),
    "CONNECTORS_INSTAGRAM_API_URL": ("http://127.0.0.1:9003/ig", "http://127.0.0.1:9003/ig"),
    "CONNECTORS_VIBER_API_URL": ("http://127.0.0.1:9004/pa", "http://127.0.0.1:9004/pa"),
    "CONNECTORS_HTTP_TIMEOUT": ("7.5", 7.5),
    "CONNECTORS_MAX_MEDIA_BYTES": ("12345", 12345),
    "DEMO_PASSWORD": ("demo-from-env-1", "demo-from-env-1"),
}


def probe(tmp_path: Path, env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in CASES}
    clean.update({"DJANGO_SETTINGS_MODULE": "contactcenter.settings", "DATA_DIR": str(tmp_path), **env})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def from_environment(tmp_path_factory) -> dict:
    return probe(tmp_path_factory.mktemp("env"), {name: value for name, (value, _) in CASES.items()})


@pytest.fixture(scope="module")
def defaults(tmp_path_factory) -> dict:
    return probe(tmp_path_factory.mktemp("defaults"), {})


@pytest.mark.parametrize("name", sorted(CASES))
def test_setting_comes_from_the_environment_to_the_code_that_uses_it(name, from_environment, defaults):
    expected = CASES[name][1]
    assert from_environment[name] == expected
    assert defaults[name] != expected


def test_defaults_are_the_platforms_own_addresses(defaults):
    assert defaults["CONNECTORS_TELEGRAM_API_URL"] == "https://api.telegram.org"
    assert defaults["CONNECTORS_GRAPH_API_URL"] == "https://graph.facebook.com"
    assert defaults["CONNECTORS_INSTAGRAM_API_URL"] == "https://graph.instagram.com"
    assert defaults["CONNECTORS_VIBER_API_URL"] == "https://chatapi.viber.com/pa"
    assert defaults["CONNECTORS_PUBLIC_URL"].startswith("http://admin.local/connectors/telegram/")
    assert defaults["DEMO_PASSWORD"] is None


def test_every_variable_the_readme_and_docs_name_is_read_by_settings():
    """The audit: names in README's configuration table and in the docs' settings tables."""
    configuration = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    adapters = (ROOT / "docs" / "messenger-adapters.md").read_text().split("### Settings", 1)[1]
    adapters = adapters.split("\n### ", 1)[0]
    first_cells = [row.split("|")[1] for row in configuration.splitlines() if row.startswith("| `")]
    named = {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}
    named |= set(re.findall(r"`(CONNECTORS_[A-Z0-9_]+)`", adapters))
    for doc in (ROOT / "docs").glob("*.md"):
        named |= set(re.findall(r"`(CONNECTORS_[A-Z0-9_]+)`", doc.read_text()))
    assert set(CASES) <= named
    assert not sorted(named - settings_variables())
