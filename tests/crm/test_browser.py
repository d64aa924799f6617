"""The create-lead button in a real browser: the client panel fragment, then the record page.

The workspace page is built on another branch; this drives the panel page the workspace embeds
(`/contact-center/crm/sessions/<id>/panel/`), which serves the same fragment and script.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from crm.models import Lead
from openlines.models import OpenLine
from tests.openlines.conftest import reload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_create_lead_button_creates_the_lead_and_links_to_its_record_page(
    live_server, browser, line, telegram, say, agents
):
    line.crm_create = OpenLine.CrmCreate.NONE
    line.save()
    session = reload(say(telegram, "I'd like an offer <b>today</b>", who="tg-1", name="Jan Novák"))
    agent = next(a for a in agents if a.pk == session.operator_id)
    agent.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="crm", codename__in=["view_lead", "view_activity"])
    )
    login = Client()
    login.force_login(agent)
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": login.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/contact-center/crm/sessions/{session.pk}/panel/")
    page.get_by_text("Not linked to the CRM yet.").wait_for()

    page.get_by_role("button", name="Create lead").click()

    link = page.get_by_role("link", name="Jan Novák - Support")
    link.wait_for()
    lead = Lead.objects.get()
    assert link.get_attribute("href") == f"/admin/crm/lead/{lead.pk}/change/"
    assert page.get_by_role("button", name="Create lead").count() == 0
    assert page.get_by_text("Not linked to the CRM yet.").count() == 0

    page.goto(live_server.url + link.get_attribute("href"))
    page.get_by_role("link", name=f"#{session.pk}").click()
    log = page.locator(".crm-message-log")
    log.wait_for()
    assert "I'd like an offer <b>today</b>" in log.inner_text()
    context.close()


def test_a_refused_lead_shows_the_reason_next_to_the_button(
    live_server, browser, line, telegram, say, agents
):
    line.crm_create = OpenLine.CrmCreate.NONE
    line.save()
    session = reload(say(telegram, "Hi", who="tg-1", name="Jan"))
    agent = next(a for a in agents if a.pk == session.operator_id)
    login = Client()
    login.force_login(agent)
    context = browser.new_context()
    context.add_cookies(
        [{"name": "sessionid", "value": login.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/contact-center/crm/sessions/{session.pk}/panel/")
    # Meanwhile a colleague created the lead from another window.
    login.post(f"/api/v1/sessions/{session.pk}/crm/lead/")
    page.get_by_role("button", name="Create lead").click()
    page.get_by_role("alert").get_by_text("This conversation already has a lead.").wait_for()
    assert Lead.objects.count() == 1
    context.close()
