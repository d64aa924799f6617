"""Demo data of open lines: a "Website chat" line answered by the demo agents, with a live chat and canned
responses, so that a fresh `serve` gives a working /livechat/demo/ page and /agent/ workspace."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from openlines.models import CannedResponse, CannedResponseList, OpenLine
from openlines.services.lines import line_create
from openlines.services.livechat import livechat_connector_for

DEMO_LINE_CODE = "website-chat"
DEMO_CANNED = [
    ("hello", "Greeting", "Hello! My name is on the top of this chat. How can I help you today?"),
    ("wait", "One moment", "Thank you for waiting, I am checking this for you."),
    ("bye", "Goodbye", "Thank you for contacting us. Have a nice day!"),
]


def demo_openlines_load() -> None:
    User = get_user_model()
    agents = list(User.objects.filter(username__in=["agent1", "agent2"]).order_by("username"))
    canned = CannedResponseList.objects.create(title="Support answers")
    for sort, (shortcut, title, text) in enumerate(DEMO_CANNED):
        CannedResponse.objects.create(
            response_list=canned, shortcut=shortcut, title=title, text=text, sort=(sort + 1) * 100
        )
    line = line_create(
        values={
            "line_name": "Website chat",
            "code": DEMO_LINE_CODE,
            "queue_type": OpenLine.QueueType.ALL,
            "language_id": "en",
            "canned_responses": canned,
            "vote_message": True,
            "vote_closing_delay": True,
        },
        queue=[
            {
                "user": agent,
                "department": None,
                "exclude_heads": False,
                "display_name": "",
                "work_position": "",
            }
            for agent in agents
        ],
    )
    livechat_connector_for(line)
