"""Response-time KPI clocks: deadlines, working hours, pauses, bot time, and the overdue notification."""

from __future__ import annotations

from datetime import time

import pytest
from django.core import mail

from contactcenter.background import run_pending_tasks
from contactcenter.models import EmployeeProfile
from contactcenter.services.availability import work_day_clock_in, work_day_pause, work_day_resume
from kpi.models import KpiClock, SessionKpi
from openlines.models import ChatBot
from openlines.services import actions
from openlines.session_models import RealtimeEvent
from tests.kpi.conftest import REAL_NOW
from tests.openlines.conftest import reload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def supervisor(make_user):
    return make_user("boss", first_name="Bea", last_name="Boss", email="boss@example.com", is_staff=True)


@pytest.fixture
def kpi_line(make_line, agents, supervisor):
    def make(queue=None, **settings):
        settings.setdefault("kpi_first_answer_time", 60)
        settings.setdefault("kpi_first_answer_alert", True)
        settings.setdefault("kpi_further_answer_time", 120)
        settings.setdefault("kpi_further_answer_alert", True)
        line = make_line(queue=queue, **settings)
        line.kpi_first_answer_list.set([supervisor])
        line.kpi_further_answer_list.set([supervisor])
        return line

    return make


@pytest.fixture
def kpi_write(kpi_line, write, connector):
    """A KPI line fed by the REST connector; returns (line, write)."""

    def make(queue=None, **settings):
        line = kpi_line(queue=queue, **settings)
        connector.line = line
        connector.save()
        return line

    return make


def overdue_events(user):
    return list(RealtimeEvent.objects.filter(user=user, type="notification", payload__kind="kpi_overdue"))


def test_first_answer_deadline_notifies_the_list_once_after_the_kpi_time(
    clock, kpi_write, write, agents, supervisor
):
    kpi_write()
    session = write("Hello?").session
    assert reload(session).operator_id == agents[0].pk
    clock.advance(59)
    assert overdue_events(supervisor) == []
    clock.advance(2)
    events = overdue_events(supervisor)
    assert len(events) == 1
    clock.advance(1)
    clock.advance(600)
    assert len(overdue_events(supervisor)) == 1
    assert KpiClock.objects.get(session=session).notified_at is not None


def test_notification_text_names_the_agent_and_links_the_conversation(
    clock, kpi_write, write, agents, supervisor, settings
):
    settings.SITE_URL = "https://cc.example.com"
    line = kpi_write()
    line.kpi_first_answer_text = "#OPERATOR# is late in #DIALOG#!"
    line.save()
    session = write("Hello?").session
    clock.advance(61)
    [event] = overdue_events(supervisor)
    url = f"https://cc.example.com/chats/?history={session.pk}"
    name = reload(session).operator.first_name  # whoever holds it now (the queue may have forwarded it)
    assert event.payload["text"] == f"{name} is late in {url}!"
    # The workspace's link is relative: it opens at the address the page was loaded from.
    assert event.payload["url"] == f"/chats/?history={session.pk}"
    assert f'<a href="/chats/?history={session.pk}">#{session.pk}</a>' in event.payload["html"]
    clock.set(REAL_NOW())  # django-q's database broker only hands out tasks queued in its past
    run_pending_tasks()
    [email] = mail.outbox
    assert email.to == ["boss@example.com"]
    assert email.body == f"{name} is late in {url}!"


def test_the_e_mail_of_a_breach_noticed_while_the_task_queue_is_down_is_sent_later(
    clock, kpi_write, write, agents, supervisor, monkeypatch
):
    """The e-mail is written to the task outbox with the breach; the timer loop queues it when it can."""
    from contactcenter.models import OutboxTask
    from contactcenter.timers import registered_timers

    kpi_write()
    write("Hello?")
    with monkeypatch.context() as outage:

        def unreachable(*args, **kwargs):
            raise ConnectionError("task queue unreachable")

        outage.setattr("contactcenter.background.async_task", unreachable)
        clock.advance(61)
    assert len(overdue_events(supervisor)) == 1
    [task] = OutboxTask.objects.all()
    assert task.func == "kpi.tasks.kpi_overdue_mails_send" and task.status == "pending"
    clock.set(REAL_NOW())  # django-q's database broker only hands out tasks queued in its past
    run_pending_tasks()
    assert mail.outbox == []
    assert registered_timers()["outbox_tasks"](REAL_NOW()) == 1
    clock.set(REAL_NOW())  # past the moment the sweeper queued it, for the same reason
    run_pending_tasks()
    [email] = mail.outbox
    assert email.to == ["boss@example.com"]
    assert not OutboxTask.objects.exists()


def test_dialog_link_is_never_a_made_up_localhost_address(clock, kpi_write, write, agents, supervisor):
    """Without SITE_URL (the default) the link is the path on this site, not http://localhost:8000/..."""
    kpi_write()
    session = write("Hello?").session
    clock.advance(61)
    [event] = overdue_events(supervisor)
    path = f"/chats/?history={session.pk}"
    assert "localhost" not in str(event.payload)
    assert event.payload["text"].endswith(path) and event.payload["url"] == path
    clock.set(REAL_NOW())
    run_pending_tasks()
    [email] = mail.outbox
    assert "localhost" not in email.body and email.body.endswith(path)


def test_notification_html_escapes_what_users_typed(clock, kpi_write, write, agents, supervisor):
    line = kpi_write()
    line.kpi_first_answer_text = "<b>#OPERATOR#</b> #DIALOG#"
    line.save()
    agents[0].first_name = "<script>x</script>"
    agents[0].save()
    write("Hello?")
    clock.advance(61)
    [event] = overdue_events(supervisor)
    assert "<script>" not in event.payload["html"]
    assert "&lt;b&gt;" in event.payload["html"]


def test_answer_in_time_stops_the_clock_and_records_the_response_time(
    clock, kpi_write, write, agents, supervisor
):
    kpi_write()
    session = write("Hello?").session
    clock.advance(40)
    actions.message_send(user=agents[0], session_id=session.pk, text="Hi, how can I help?")
    clock.advance(600)
    assert overdue_events(supervisor) == []
    kpi = SessionKpi.objects.get(session=session)
    assert kpi.first_response == 40
    assert kpi.breaches == 0


def test_further_answers_use_their_own_time_and_feed_total_average_and_maximum(
    clock, kpi_write, write, agents, supervisor
):
    kpi_write()
    session = write("Hello?").session
    clock.advance(10)
    actions.message_send(user=agents[0], session_id=session.pk, text="Hi")
    clock.advance(5)
    write("One more thing")
    write("and another")  # still the same unanswered question: no second clock
    clock.advance(119)
    assert overdue_events(supervisor) == []
    clock.advance(2)
    [event] = overdue_events(supervisor)
    assert event.payload["clock"] == "further"
    clock.advance(9)
    actions.message_send(user=agents[0], session_id=session.pk, text="Sure")
    kpi = SessionKpi.objects.get(session=session)
    assert (kpi.first_response, kpi.total_response, kpi.response_count) == (10, 140, 2)
    assert (kpi.average_response, kpi.max_response, kpi.breaches) == (70, 130, 1)


def test_no_notification_without_the_alert_but_the_breach_is_counted(
    clock, kpi_write, write, agents, supervisor
):
    kpi_write(queue=[agents[0]], kpi_first_answer_alert=False)
    session = write("Hello?").session
    clock.advance(61)
    assert overdue_events(supervisor) == []
    actions.message_send(user=agents[0], session_id=session.pk, text="Sorry")
    assert SessionKpi.objects.get(session=session).breaches == 1


def test_message_outside_working_hours_counts_from_the_next_opening(
    clock, kpi_write, write, agents, supervisor
):
    kpi_write(
        worktime_enable=True, worktime_from=time(9, 0), worktime_to=time(18, 0), worktime_timezone="UTC"
    )
    clock.set(clock.value.replace(hour=20))  # Monday 20:00, after hours
    session = write("Anyone?").session
    clock.advance(3600)
    assert overdue_events(supervisor) == []
    clock.set(clock.value.replace(day=3, hour=9, minute=0, second=59))  # Tuesday 09:00:59
    clock.advance(0)
    assert overdue_events(supervisor) == []
    clock.advance(2)
    assert len(overdue_events(supervisor)) == 1
    assert KpiClock.objects.get(session=session).started_at.hour == 9


def test_message_inside_working_hours_counts_from_receipt(clock, kpi_write, write, agents, supervisor):
    kpi_write(
        worktime_enable=True, worktime_from=time(9, 0), worktime_to=time(18, 0), worktime_timezone="UTC"
    )
    write("Anyone?")
    clock.advance(61)
    assert len(overdue_events(supervisor)) == 1


def test_clock_pauses_while_the_agents_work_day_is_paused(clock, kpi_write, write, agents, supervisor):
    agent = agents[0]
    EmployeeProfile.objects.filter(user=agent).update(uses_time_tracking=True)
    work_day_clock_in(user_id=agent.pk)
    kpi_write(queue=[agent], kpi_check_operator_activity=True)
    session = write("Hello?").session
    assert reload(session).operator_id == agent.pk
    clock.advance(20)
    work_day_pause(user_id=agent.pk)
    clock.advance(300)
    assert overdue_events(supervisor) == []
    work_day_resume(user_id=agent.pk)
    clock.advance(39)
    assert overdue_events(supervisor) == []
    clock.advance(2)
    assert len(overdue_events(supervisor)) == 1
    clock.advance(10)
    actions.message_send(user=agent, session_id=session.pk, text="Back")
    kpi = SessionKpi.objects.get(session=session)
    assert kpi.first_response == 71  # 371 s of waiting minus the 300 s pause
    assert KpiClock.objects.get(session=session).paused_total == 300


def test_pause_is_ignored_when_the_line_does_not_check_activity(clock, kpi_write, write, agents, supervisor):
    agent = agents[0]
    EmployeeProfile.objects.filter(user=agent).update(uses_time_tracking=True)
    work_day_clock_in(user_id=agent.pk)
    kpi_write(queue=[agent], kpi_check_operator_activity=False)
    write("Hello?")
    clock.advance(20)
    work_day_pause(user_id=agent.pk)
    clock.advance(41)
    assert len(overdue_events(supervisor)) == 1


def test_bot_time_is_not_counted(clock, kpi_write, write, agents, supervisor):
    bot = ChatBot.objects.create(name="Greeter", kind=ChatBot.Kind.SCRIPTED, script={})
    kpi_write(welcome_bot_enable=True, welcome_bot=bot, welcome_bot_time=300)
    session = write("Hello?").session
    assert reload(session).bot_started_at is not None
    assert not KpiClock.objects.filter(session=session).exists()
    clock.advance(299)
    assert overdue_events(supervisor) == []
    clock.advance(1)  # the bot hands over to the queue
    session = reload(session)
    assert session.bot_started_at is None and session.operator_id is not None
    clock.advance(30)
    actions.message_send(user=session.operator, session_id=session.pk, text="Hi, I am human")
    kpi = SessionKpi.objects.get(session=session)
    assert kpi.first_response == 30
    assert reload(session).time_first_answer == 30
    assert overdue_events(supervisor) == []


def test_after_the_bot_hands_over_the_clock_holds_the_clients_first_unanswered_message(
    clock, kpi_write, write, agents
):
    bot = ChatBot.objects.create(name="Greeter", kind=ChatBot.Kind.SCRIPTED, script={})
    kpi_write(welcome_bot_enable=True, welcome_bot=bot, welcome_bot_time=300)
    session = write("Hello?").session
    clock.advance(100)
    write("Still there?")
    clock.advance(200)
    assert reload(session).bot_started_at is None  # handed over
    running = KpiClock.objects.get(session=session, answered_at__isnull=True)
    assert running.message.text == "Hello?"


def test_closing_stops_the_clock_without_a_notification(clock, kpi_write, write, agents, supervisor):
    kpi_write(full_close_time=0)
    session = write("Hello?").session
    clock.advance(10)
    actions.session_close(user=agents[0], session_id=session.pk, confirmed=True)
    clock.advance(600)
    assert overdue_events(supervisor) == []
    assert KpiClock.objects.get(session=session).stopped_at is not None


def test_kpi_time_zero_sets_no_deadline(clock, kpi_write, write, agents, supervisor):
    kpi_write(queue=[agents[0]], kpi_first_answer_time=0)
    session = write("Hello?").session
    clock.advance(800)
    assert overdue_events(supervisor) == []
    actions.message_send(user=agents[0], session_id=session.pk, text="Hi")
    assert SessionKpi.objects.get(session=session).first_response == 800


def test_the_notification_is_pushed_live_to_each_listed_users_socket_group(
    clock, kpi_write, write, agents, supervisor
):
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"staff.{supervisor.pk}", channel)
    kpi_write()
    session = write("Hello?").session
    clock.advance(61)

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(receive)()
    assert message["type"] == "staff.event"
    assert message["event"]["type"] == "notification"
    assert message["event"]["kind"] == "kpi_overdue"
    assert message["event"]["session_id"] == session.pk


def test_every_new_session_gets_its_kpi_row(clock, kpi_write, write):
    kpi_write(kpi_first_answer_time=0)
    session = write("Hello?").session
    kpi = SessionKpi.objects.get(session=session)
    assert (kpi.first_response, kpi.response_count) == (None, 0)


def test_a_typed_rating_during_the_closing_phase_starts_no_clock(clock, kpi_write, write, agents, supervisor):
    kpi_write(queue=[agents[0]], vote_message=True, full_close_time=60, close_rule="none")
    session = write("Hello?").session
    clock.advance(5)
    actions.message_send(user=agents[0], session_id=session.pk, text="Done, anything else?")
    actions.session_close(user=agents[0], session_id=session.pk, confirmed=True)
    assert reload(session).wait_vote
    write("1")
    assert reload(session).vote == 5
    assert KpiClock.objects.filter(session=session).count() == 1  # only the first question's clock
    clock.advance(3600)
    assert overdue_events(supervisor) == []
