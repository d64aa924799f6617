"""Open lines fixtures: admin form helpers (form data built from the real form) and engine fixtures
(a line with a queue of available agents, a channel, a client who writes, a clock that advances)."""

from __future__ import annotations

import datetime
import itertools
from datetime import timedelta

import pytest
from django.db import models
from django.utils import timezone

from contactcenter.models import Connector
from contactcenter.services.availability import presence_connect
from contactcenter.timers import run_due_timers
from openlines.forms import OpenLineForm
from openlines.models import OpenLine, QueueMember
from openlines.services.ingest import InboundClient, InboundMessage, message_ingest
from openlines.session_models import Session

ADD_URL = "/admin/openlines/openline/add/"


def change_url(line: OpenLine) -> str:
    return f"/admin/openlines/openline/{line.pk}/change/"


def line_form_data(instance: OpenLine | None = None, *, queue=(), **overrides) -> dict:
    """What the admin form posts when nothing is touched, plus `overrides` and queue rows.

    `queue` rows are dicts for the inline (`user`, `department`, `exclude_heads`, `sort`, ...); existing
    queue rows of `instance` are kept unless `queue` is given, in which case they are marked deleted.
    Checkboxes: pass True/False; False leaves them out as browsers do.
    """
    form = OpenLineForm(instance=instance)
    data: dict = {}
    for name in form.fields:
        data[name] = form[name].value()
    data.update(overrides)
    post: dict = {}
    for name, value in data.items():
        if value is None or value is False:
            continue
        if value is True:
            post[name] = "on"
        elif isinstance(value, datetime.time):
            post[name] = value.strftime("%H:%M")
        elif isinstance(value, list | tuple):
            post[name] = [str(v.pk if isinstance(v, models.Model) else v) for v in value]
        elif isinstance(value, models.Model):
            post[name] = str(value.pk)
        elif hasattr(value, "name") and not isinstance(value, str):  # an empty FieldFile
            continue
        else:
            post[name] = str(value)

    existing = list(instance.queue.all()) if instance is not None and instance.pk else []
    rows: list[dict] = []
    for member in existing:
        row = {
            "id": member.pk,
            "line": instance.pk,
            "user": member.user_id or "",
            "department": member.department_id or "",
            "sort": member.sort,
            "display_name": member.display_name,
            "work_position": member.work_position,
        }
        if member.exclude_heads:
            row["exclude_heads"] = "on"
        if queue:
            row["DELETE"] = "on"
        rows.append(row)
    for entry in queue:
        row = {}
        for key, value in entry.items():
            if value is True:
                row[key] = "on"
            elif value is False or value is None:
                continue
            else:
                row[key] = value.pk if isinstance(value, models.Model) else value
        rows.append(row)
    post["queue-TOTAL_FORMS"] = str(len(rows))
    post["queue-INITIAL_FORMS"] = str(len(existing))
    post["queue-MIN_NUM_FORMS"] = "0"
    post["queue-MAX_NUM_FORMS"] = "1000"
    for index, row in enumerate(rows):
        for key, value in row.items():
            post[f"queue-{index}-{key}"] = str(value)
    return post


@pytest.fixture
def admin_client_logged_in(client, admin_user):
    client.force_login(admin_user)
    return client


def errors_of(response) -> dict:
    """Field errors of the admin change form in a response (field name -> messages), plus the queue's."""
    assert response.status_code == 200, f"expected the form again, got {response.status_code}"
    adminform = response.context["adminform"]
    errors = {name: [str(m) for m in messages] for name, messages in adminform.form.errors.items()}
    for formset in response.context["inline_admin_formsets"]:
        non_form = [str(m) for m in formset.formset.non_form_errors()]
        if non_form:
            errors["queue"] = non_form
        for index, form_errors in enumerate(formset.formset.errors):
            for name, messages in form_errors.items():
                errors[f"queue-{index}-{name}"] = [str(m) for m in messages]
    return errors


_ids = itertools.count(1)


@pytest.fixture
def agents(make_user):
    users = [make_user(f"agent{i}", first_name=f"Agent{i}", is_staff=True) for i in (1, 2, 3)]
    for user in users:
        presence_connect(user_id=user.pk)
    return users


@pytest.fixture
def make_line(agents):
    def make(queue=None, **settings) -> OpenLine:
        settings.setdefault("queue_type", OpenLine.QueueType.EVENLY)
        line = OpenLine.objects.create(
            line_name=settings.pop("line_name", "Support"), language_id="en", **settings
        )
        for sort, user in enumerate(agents if queue is None else queue):
            QueueMember.objects.create(line=line, user=user, sort=sort)
        return line

    return make


@pytest.fixture
def line(make_line):
    return make_line()


@pytest.fixture
def connector(line):
    return Connector.objects.create(kind="rest", line=line, name="REST")


@pytest.fixture
def write(connector):
    """The client `who` writes `text` through the connector; returns the ingest result."""

    def write(
        text: str = "Hello",
        who: str = "client-1",
        connector: Connector = connector,
        msg_id: str | None = None,
    ):
        return message_ingest(
            connector=connector,
            client=InboundClient(external_id=who, name=f"Client {who}"),
            message=InboundMessage(external_id=msg_id or f"m{next(_ids)}", text=text),
        )

    return write


def reload(session: Session) -> Session:
    return Session.objects.get(pk=session.pk)


def advance(seconds: float) -> datetime.datetime:
    """Apply every deadline due `seconds` from now (the timer loop's view of a later moment)."""
    moment = timezone.now() + timedelta(seconds=seconds)
    run_due_timers(moment)
    return moment
