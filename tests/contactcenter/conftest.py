"""Connecting a messenger channel registers its webhook with the platform: here every platform accepts."""

from __future__ import annotations

import pytest

from tests.messengers.conftest import accepting_platform  # noqa: F401


@pytest.fixture(autouse=True)
def _platforms_accept(accepting_platform):  # noqa: F811
    return accepting_platform
