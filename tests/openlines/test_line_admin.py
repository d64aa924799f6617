"""The open line admin: list of lines, tabbed change form, deletion with its summary, related objects."""

from __future__ import annotations

import re

import pytest

from contactcenter.models import Department
from openlines import selectors
from openlines.models import Agreement, CannedResponse, CannedResponseList, ChatBot, OpenLine, QueueMember
from tests.openlines.conftest import change_url, errors_of, line_form_data

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/openlines/openline/"


@pytest.fixture
def line(agent):
    line = OpenLine.objects.create(line_name="Support", queue_type="evenly")
    QueueMember.objects.create(line=line, user=agent)
    return line


def test_list_shows_name_active_channels_queue_size_and_distribution_mode(
    admin_client_logged_in, line, make_user
):
    sales = Department.objects.create(name="Sales")
    for name in ("s1", "s2"):
        make_user(name).profile.departments.add(sales)
    QueueMember.objects.create(line=line, department=sales, sort=5)
    selectors.CHANNEL_PROVIDERS.append(lambda line: ["Telegram", "Live chat"])
    try:
        response = admin_client_logged_in.get(LIST_URL)
    finally:
        selectors.CHANNEL_PROVIDERS.pop()

    html = response.content.decode()
    for header in (
        "column-line_name",
        "column-active",
        "column-channels",
        "column-queue_size",
        "column-queue_type",
    ):
        assert header in html
    row = re.search(r"<tr>.*?Support.*?</tr>", html, re.S).group(0)
    assert '<td class="field-queue_size">3</td>' in row
    assert "Telegram, Live chat" in row
    assert "Evenly" in row
    assert 'alt="True"' in row


def test_change_form_blocks_follow_the_reference_tab_order(admin_client_logged_in, line):
    html = admin_client_logged_in.get(change_url(line)).content.decode()

    tabs_in_page = []
    for tab in re.findall(r'class="module aligned ol-tab ol-tab-([\w-]+)"', html):
        if tab not in tabs_in_page:
            tabs_in_page.append(tab)
    assert tabs_in_page == [
        "queue",
        "worktime",
        "agreement",
        "auto-actions",
        "quality",
        "bots",
        "kpi",
        "other",
    ]
    headings = re.findall(r'class="fieldset-heading">([^<]+)<', html)
    assert headings[:3] == ["Queue", "Agent information", "CRM"]
    assert "openlines/admin/line_form.js" in html
    assert 'id="ol-line-form-config"' in html


def test_change_form_shows_the_help_texts_of_the_settings(admin_client_logged_in, line):
    html = admin_client_logged_in.get(change_url(line)).content.decode()
    assert "If the agent does not accept the enquiry within this time it goes to the next agent." in html
    assert "After the agent closes it the client can still rate it during this time." in html
    assert "new enquiries get the line-not-active reply" in html


def test_canned_response_list_can_be_created_from_the_line_form(admin_client_logged_in, line):
    html = admin_client_logged_in.get(change_url(line)).content.decode()
    assert 'id="add_id_canned_responses"' in html
    assert "/admin/openlines/cannedresponselist/add/?_to_field=id&amp;_popup=1" in html


def test_user_typed_text_is_escaped_in_the_form(admin_client_logged_in, line):
    line.line_name = "<script>alert(1)</script>"
    line.save()
    html = admin_client_logged_in.get(change_url(line)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_deactivating_a_line_keeps_its_queue_and_settings(admin_client_logged_in, line):
    response = admin_client_logged_in.post(change_url(line), line_form_data(line, active=False))

    assert response.status_code == 302, errors_of(response)
    line.refresh_from_db()
    assert line.active is False
    assert line.queue.count() == 1
    assert line.queue_type == "evenly"


# --- Deletion -----------------------------------------------------------------------------------------


def test_delete_confirmation_says_how_many_conversations_and_messages_go(admin_client_logged_in, line):
    response = admin_client_logged_in.get(f"/admin/openlines/openline/{line.pk}/delete/")

    html = response.content.decode()
    assert "0 conversations and 0 messages will be deleted." in html
    assert "Are you sure" in html


def test_delete_summary_counts_every_cascading_object_registered_as_a_conversation(
    admin_client_logged_in, line, make_user, monkeypatch
):
    # The engine registers its session/message models; queue rows stand in for them here.
    QueueMember.objects.create(line=line, user=make_user("other"))
    monkeypatch.setattr(selectors, "CONVERSATION_MODELS", {"openlines.queuemember"})

    html = admin_client_logged_in.get(f"/admin/openlines/openline/{line.pk}/delete/").content.decode()

    assert "2 conversations and 0 messages will be deleted." in html


def test_deleting_a_line_deletes_what_cascades_and_nothing_else(admin_client_logged_in, line, agent):
    other = OpenLine.objects.create(line_name="Sales")
    QueueMember.objects.create(line=other, user=agent)

    response = admin_client_logged_in.post(f"/admin/openlines/openline/{line.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not OpenLine.objects.filter(pk=line.pk).exists()
    assert not QueueMember.objects.filter(line_id=line.pk).exists()
    assert QueueMember.objects.filter(line=other).count() == 1
    agent.refresh_from_db()


def test_bulk_delete_asks_for_confirmation_with_the_summary(admin_client_logged_in, line):
    other = OpenLine.objects.create(line_name="Sales")
    data = {"action": "delete_lines", "_selected_action": [line.pk, other.pk]}

    confirmation = admin_client_logged_in.post(LIST_URL, data)

    assert "0 conversations and 0 messages will be deleted." in confirmation.content.decode()
    assert OpenLine.objects.count() == 2

    admin_client_logged_in.post(LIST_URL, {**data, "post": "yes"})

    assert OpenLine.objects.count() == 0
    assert QueueMember.objects.count() == 0


def test_deletion_summary_reports_queue_entries():
    line = OpenLine.objects.create(line_name="X")
    assert selectors.line_deletion_summary(line) == {
        "conversations": 0,
        "messages": 0,
        "queue_entries": 0,
        "protected": 0,
    }


# --- Agreements, canned responses, bots -----------------------------------------------------------------


def test_editing_an_agreement_creates_a_new_version_and_moves_lines_to_it(admin_client_logged_in, line):
    agreement = Agreement.objects.create(title="Privacy", text="We keep your data for a year.")
    line.agreement = agreement
    line.agreement_message = True
    line.save()

    response = admin_client_logged_in.post(
        f"/admin/openlines/agreement/{agreement.pk}/change/",
        {"title": "Privacy", "text": "We keep your data for two years."},
    )

    assert response.status_code == 302
    first, second = Agreement.objects.order_by("version")
    assert (first.version, first.text) == (1, "We keep your data for a year.")
    assert (second.version, second.text, second.previous) == (2, "We keep your data for two years.", first)
    line.refresh_from_db()
    assert line.agreement == second


def test_old_agreement_versions_are_read_only(admin_client_logged_in):
    agreement = Agreement.objects.create(title="Privacy", text="v1")
    admin_client_logged_in.post(
        f"/admin/openlines/agreement/{agreement.pk}/change/", {"title": "Privacy", "text": "v2"}
    )

    response = admin_client_logged_in.post(
        f"/admin/openlines/agreement/{agreement.pk}/change/", {"title": "Privacy", "text": "v1 again"}
    )

    assert response.status_code == 403
    agreement.refresh_from_db()
    assert agreement.text == "v1"


def test_saving_an_agreement_unchanged_keeps_its_version(admin_client_logged_in):
    agreement = Agreement.objects.create(title="Privacy", text="v1")
    admin_client_logged_in.post(
        f"/admin/openlines/agreement/{agreement.pk}/change/", {"title": "Privacy", "text": "v1"}
    )
    assert Agreement.objects.count() == 1


def test_canned_responses_are_edited_inside_their_list(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/openlines/cannedresponselist/add/",
        {
            "title": "Greetings",
            "responses-TOTAL_FORMS": "2",
            "responses-INITIAL_FORMS": "0",
            "responses-0-title": "Hello",
            "responses-0-text": "Hello! How can I help?",
            "responses-0-shortcut": "hello",
            "responses-0-sort": "10",
            "responses-1-title": "Hi",
            "responses-1-text": "Hi!",
            "responses-1-shortcut": "hello",
            "responses-1-sort": "20",
        },
    )
    assert response.status_code == 200  # the duplicate shortcut is refused
    assert "hello" in response.content.decode()
    assert not CannedResponseList.objects.exists()


def test_webhook_bot_needs_an_https_url(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/openlines/chatbot/add/",
        {
            "name": "Hook",
            "kind": "webhook",
            "active": "on",
            "webhook_url": "http://bot.example.com/hook",
            "secret": "s",
            "script": "{}",
        },
    )
    assert response.status_code == 200
    assert "https://" in str(response.context["adminform"].form.errors["webhook_url"])
    assert not ChatBot.objects.exists()


def test_bot_gets_a_random_secret():
    first, second = ChatBot.objects.create(name="A"), ChatBot.objects.create(name="B")
    assert len(first.secret) >= 32 and first.secret != second.secret


def test_canned_response_shortcuts_are_unique_per_list_only():
    first, second = CannedResponseList.objects.create(title="A"), CannedResponseList.objects.create(title="B")
    CannedResponse.objects.create(response_list=first, title="t", text="x", shortcut="hi")
    CannedResponse.objects.create(response_list=second, title="t", text="x", shortcut="hi")
    CannedResponse.objects.create(response_list=first, title="t", text="x", shortcut="")
    CannedResponse.objects.create(response_list=first, title="t", text="x", shortcut="")


def test_control_characters_typed_into_a_staff_form_are_dropped(admin_client_logged_in, line):
    """The form door (issue 18 item 5): an escape sequence in the line form is stored without its controls,
    tab and line breaks kept; a NUL is refused by the form with its own error and nothing is stored."""
    data = line_form_data(line, line_name="\x1b[31mSupport\x07 line")
    response = admin_client_logged_in.post(change_url(line), data)
    assert response.status_code == 302, errors_of(response)
    line.refresh_from_db()
    assert line.line_name == "[31mSupport line"

    response = admin_client_logged_in.post(change_url(line), line_form_data(line, line_name="Nul\x00 line"))
    assert response.status_code == 200 and "line_name" in errors_of(response)
    line.refresh_from_db()
    assert line.line_name == "[31mSupport line"


def test_control_characters_in_a_department_name_are_dropped(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/contactcenter/department/add/", {"name": "Sales\x1b\x08 team\tB", "sort": "100"}
    )
    assert response.status_code == 302
    assert Department.objects.get().name == "Sales team\tB"
