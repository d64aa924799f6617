"""The product's version, read from the installed package metadata (pyproject.toml is its one source)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def _installed_version() -> str:
    try:
        return version("contactcenter")
    except PackageNotFoundError:
        # Run from a source tree that was never installed (`pip install -e .` records the metadata).
        return "0+unknown"


VERSION = _installed_version()
