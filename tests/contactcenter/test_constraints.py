"""constraints.txt pins every dependency the project declares, within what pyproject.toml allows, and CI
installs with it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    entries = [line for line in lines if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+!\-]+", line) for line in entries), entries
    return {canonicalize_name(name): version for name, version in (line.split("==") for line in entries)}


def test_every_declared_dependency_is_pinned_within_its_declared_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    texts = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    declared = [Requirement(text) for text in texts]
    pinned = pins()
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])


def test_ci_installs_with_the_constraints_before_the_readme_command():
    ci = (ROOT / ".ci" / "run").read_text()
    export = ci.index('export PIP_CONSTRAINT="$PWD/constraints.txt"')
    assert export < ci.index('bash -c "$test_command"')
