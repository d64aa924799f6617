"""Out of the box every employee holds the reference's Manager role."""

import pytest

from contactcenter.permissions import can
from tests.access_helpers import fast_passwords, make_line  # noqa: F401

pytestmark = pytest.mark.django_db


def test_every_employee_sees_all_lines_and_may_connect_channels_but_not_edit_lines(make_user):
    user = make_user("employee", is_staff=True)
    line = make_line("Somebody else's")
    assert can(user, "lines", "view", line)
    assert not can(user, "lines", "modify", line)
    assert can(user, "connectors", "modify", line)
    assert not can(user, "settings", "modify")
