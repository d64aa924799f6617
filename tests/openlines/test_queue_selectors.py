"""Who is in a line's queue: users and departments expanded, in order, without duplicates."""

from __future__ import annotations

import pytest

from contactcenter.models import Department
from openlines.models import OpenLine, QueueMember
from openlines.selectors import line_queue_user_ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def line():
    return OpenLine.objects.create(line_name="Support")


def _in_department(user, department):
    user.profile.departments.add(department)
    return user


def test_users_are_listed_in_queue_order(line, make_user):
    first, second, third = make_user(), make_user(), make_user()
    QueueMember.objects.create(line=line, user=third, sort=10)
    QueueMember.objects.create(line=line, user=first, sort=20)
    QueueMember.objects.create(line=line, user=second, sort=30)

    assert line_queue_user_ids(line=line) == [third.pk, first.pk, second.pk]


def test_department_entry_follows_current_membership(line, make_user):
    support = Department.objects.create(name="Support")
    ann = _in_department(make_user(), support)
    QueueMember.objects.create(line=line, department=support, sort=10)
    assert line_queue_user_ids(line=line) == [ann.pk]

    bob = _in_department(make_user(), support)
    ann.profile.departments.remove(support)

    assert line_queue_user_ids(line=line) == [bob.pk]


def test_department_entry_includes_sub_departments(line, make_user):
    company = Department.objects.create(name="Company")
    sales = Department.objects.create(name="Sales", parent=company)
    seller = _in_department(make_user(), sales)
    QueueMember.objects.create(line=line, department=company)

    assert line_queue_user_ids(line=line) == [seller.pk]


def test_exclude_heads_leaves_out_department_heads(line, make_user):
    boss = make_user()
    support = Department.objects.create(name="Support", head=boss)
    _in_department(boss, support)
    worker = _in_department(make_user(), support)
    member = QueueMember.objects.create(line=line, department=support)
    assert set(line_queue_user_ids(line=line)) == {boss.pk, worker.pk}

    member.exclude_heads = True
    member.save()

    assert line_queue_user_ids(line=line) == [worker.pk]


def test_user_listed_twice_keeps_first_position(line, make_user):
    support = Department.objects.create(name="Support")
    ann = _in_department(make_user(), support)
    bob = _in_department(make_user(), support)
    QueueMember.objects.create(line=line, user=bob, sort=1)
    QueueMember.objects.create(line=line, department=support, sort=2)
    QueueMember.objects.create(line=line, user=ann, sort=3)

    assert line_queue_user_ids(line=line) == [bob.pk, ann.pk]


def test_queue_entry_must_be_user_or_department_not_both(line, make_user):
    from django.db import IntegrityError, transaction

    support = Department.objects.create(name="Support")
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueMember.objects.create(line=line, user=make_user(), department=support)
    with pytest.raises(IntegrityError), transaction.atomic():
        QueueMember.objects.create(line=line)


def test_agent_identity_follows_the_lines_operator_data_setting(line, make_user):
    from openlines.selectors import line_agent_identity

    ann = make_user("ann", first_name="Ann", last_name="Agent")
    ann.profile.work_position = "Support agent"
    ann.profile.save()
    support = Department.objects.create(name="Support")
    bob = _in_department(make_user("bob", first_name="Bob", last_name="B"), support)
    QueueMember.objects.create(line=line, user=ann, display_name="Anna", sort=1)
    QueueMember.objects.create(line=line, department=support, work_position="Support team", sort=2)

    assert line_agent_identity(line=line, user=ann).name == "Ann Agent"

    line.operator_data = OpenLine.OperatorData.QUEUE
    queue_identity = line_agent_identity(line=line, user=ann)
    assert (queue_identity.name, queue_identity.work_position) == ("Anna", "Support agent")
    bob_identity = line_agent_identity(line=line, user=bob)
    assert (bob_identity.name, bob_identity.work_position) == ("Bob B", "Support team")

    line.operator_data = OpenLine.OperatorData.HIDE
    line.default_operator_name = "Support"
    assert line_agent_identity(line=line, user=ann).name == "Support"
