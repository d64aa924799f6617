"""CRM fixtures: the engine's line, agents and channels, plus clients on other channels."""

from __future__ import annotations

import itertools

import pytest

from contactcenter.models import Connector
from openlines.services.ingest import InboundClient, InboundMessage, message_ingest
from tests.openlines import conftest as engine

# The engine's fixtures, shared here: a line with three available agents and a REST channel.
agents = engine.agents
make_line = engine.make_line
line = engine.line
connector = engine.connector
write = engine.write

_ids = itertools.count(1)


@pytest.fixture
def telegram(line):
    return Connector.objects.create(kind="telegram", line=line, name="Telegram", account_id="bot-1")


@pytest.fixture
def livechat(line):
    return Connector.objects.create(kind="livechat", line=line, name="Site chat")


@pytest.fixture
def say():
    """A client writes through `connector`; details as the channel would report them."""

    def say(channel, text="Hello", *, who="c1", name="", phone="", email=""):
        return message_ingest(
            connector=channel,
            client=InboundClient(external_id=who, name=name, phone=phone, email=email),
            message=InboundMessage(external_id=f"crm-{next(_ids)}", text=text),
        ).session

    return say
