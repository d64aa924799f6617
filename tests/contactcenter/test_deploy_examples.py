"""The deployment examples (Procfile, systemd units, nginx, the environment file) and the documentation
stay in step with the code: every command they start exists and accepts its arguments, the nginx upstream
serves exactly the web instances the operations guide starts, and every setting is documented."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from openlines.services.livechat import MAX_FILE_BYTES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
NGINX = (DEPLOY / "nginx" / "contactcenter.conf").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
README = (ROOT / "README.md").read_text()
ENV_EXAMPLE = DEPLOY / "contactcenter.env.example"
PORT = "8001"


def manage_py_arguments(command_line: str) -> list[str]:
    """The arguments after `manage.py` in a command line, with the port placeholders filled in."""
    words = shlex.split(command_line.replace("$PORT", PORT).replace("%i", PORT))
    assert "manage.py" in words, command_line
    return words[words.index("manage.py") + 1 :]


def assert_runs(arguments: list[str]) -> str:
    """`manage.py <name> <options>` names an existing command whose parser accepts the options."""
    name, options = arguments[0], arguments[1:]
    commands = get_commands()
    assert name in commands, f"no management command {name!r}"
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(options)
    except SystemExit:
        pytest.fail(f"manage.py {name} refuses {options}")
    return name


def unit(name: str) -> dict[str, str]:
    """The `Key=value` lines of a unit file (enough for these examples: no key is repeated)."""
    entries: dict[str, str] = {}
    for line in (SYSTEMD / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            assert key not in entries, f"{name}: {key} twice"
            entries[key] = value
    return entries


def test_procfile_starts_the_three_process_types_and_migrates_on_release():
    processes = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert set(processes) == {"release", "web", "worker", "timers"}
    started = {kind: manage_py_arguments(command) for kind, command in processes.items()}
    assert {kind: assert_runs(arguments) for kind, arguments in started.items()} == {
        "release": "migrate",
        "web": "serve",
        "worker": "qcluster",
        "timers": "runtimers",
    }
    assert {"--web-only", "--no-migrate", "--no-demo"} <= set(started["web"])


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("contactcenter-web@.service", "serve"),
        ("contactcenter-worker.service", "qcluster"),
        ("contactcenter-timers.service", "runtimers"),
    ],
)
def test_systemd_units_start_existing_commands_with_the_shared_environment_file(name, command):
    entries = unit(name)
    arguments = manage_py_arguments(entries["ExecStart"])
    assert assert_runs(arguments) == command
    assert entries["EnvironmentFile"] == "/etc/contactcenter/contactcenter.env"
    assert entries["EnvironmentFile"] in OPERATIONS
    assert entries["WorkingDirectory"] in entries["ExecStart"]
    if command == "serve":
        assert {"--web-only", "--no-migrate", "--no-demo"} <= set(arguments)
        assert arguments[arguments.index("--port") + 1] == PORT, "the instance name (%i) is the port"


def test_nginx_upstream_serves_exactly_the_web_instances_the_guide_starts():
    upstream = re.search(r"upstream contactcenter_web \{(.*?)\}", NGINX, re.S)
    assert upstream is not None
    upstream_ports = set(re.findall(r"server 127\.0\.0\.1:(\d+)", upstream.group(1)))
    started_ports = set(re.findall(r"contactcenter-web@(\d+)", OPERATIONS))
    assert upstream_ports, "no local web instance in the nginx upstream"
    assert upstream_ports == started_ports
    web_unit = unit("contactcenter-web@.service")["ExecStart"]
    assert "--host 127.0.0.1" in web_unit, "the upstream addresses are on loopback"


def locations(config: str) -> dict[str, str]:
    return {
        match.group(1).strip(): match.group(2)
        for match in re.finditer(r"^    location\s+([^{\n]+)\{(.*?)\n    \}", config, re.S | re.M)
    }


def test_nginx_passes_websocket_upgrades_and_the_headers_the_app_reads():
    blocks = locations(NGINX)
    assert {"/ws/", "/"} <= set(blocks)
    ws = blocks["/ws/"]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "proxy_http_version 1.1;" in NGINX
    # nginx drops the outer proxy headers in a location that sets its own, so every proxied location
    # must carry the ones the app reads: the client address for the rate limits and the scheme.
    env = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    address_header = env["PROXY_ADDRESS_HEADER"]
    for path, block in blocks.items():
        if "proxy_pass http://contactcenter_web;" in block:
            assert f"proxy_set_header {address_header} $remote_addr;" in block, path
            assert "proxy_set_header X-Forwarded-Proto $scheme;" in block, path
            assert "proxy_set_header Host $host;" in block, path


def test_nginx_takes_the_largest_upload_the_app_accepts():
    size = re.search(r"client_max_body_size (\d+)m;", NGINX)
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 > MAX_FILE_BYTES


def settings_variables() -> set[str]:
    source = (ROOT / "contactcenter" / "settings.py").read_text()
    return set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def test_every_setting_read_from_the_environment_is_documented_and_the_example_invents_none():
    variables = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "DATABASE_POOL_MAX_SIZE"} <= variables
    configuration = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    undocumented = sorted(name for name in variables if f"`{name}`" not in configuration)
    assert not undocumented, f"missing from README's configuration table: {undocumented}"
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and line[0] != "#"
    }
    assert example <= variables, f"the example sets unknown variables: {sorted(example - variables)}"


def test_readme_links_the_operations_guide():
    assert "docs/operations.md" in README


def _check_deploy_with_the_example(tmp_path, **overrides: str) -> subprocess.CompletedProcess:
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in settings_variables() and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(example)
    env.update(
        DATA_DIR=str(tmp_path), MEDIA_ROOT=str(tmp_path / "media"), STATIC_ROOT=str(tmp_path / "static")
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_example_environment_passes_check_deploy_once_its_secret_key_is_replaced(tmp_path):
    placeholder = _check_deploy_with_the_example(tmp_path)
    assert placeholder.returncode != 0
    assert "contactcenter.E001" in placeholder.stderr and "known placeholder" in placeholder.stderr
    out = _check_deploy_with_the_example(tmp_path, SECRET_KEY=secrets.token_urlsafe(50))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_nginx_caches_hashed_static_names_for_good_and_revalidates_the_widget():
    from contactcenter.staticfiles import STABLE_MAX_AGE

    mapping = re.search(r"map \$uri \$static_cache_control \{\n(.*?)\n\}", NGINX, re.S).group(1)
    rules = dict(re.findall(r'^\s*"?([^"\s]+)"?\s+"([^"]+)";', mapping, re.M))
    [hashed] = [key for key in rules if key.startswith("~")]
    assert re.search(hashed[1:], "/static/livechat/widget.0123456789ab.css")
    assert not re.search(hashed[1:], "/static/livechat/widget.js")
    assert "immutable" in rules[hashed]
    assert rules["default"] == f"public, max-age={STABLE_MAX_AGE}, must-revalidate"
    static = re.search(r"location /static/ \{(.*?)\}", NGINX, re.S).group(1)
    assert "add_header Cache-Control $static_cache_control" in static
    assert "expires 7d" not in NGINX
