"""Control characters in a messenger webhook's text: stored without them (the platform cannot be told)."""

from __future__ import annotations

import pytest

from openlines.session_models import Message
from tests.messengers.conftest import make_connector, ok, post_webhook, telegram_update

pytestmark = pytest.mark.django_db


def test_a_messenger_webhook_text_with_control_characters_is_stored_without_them(
    client, line, settle, platform
):
    connector = make_connector(line, "telegram")
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    response = settle(
        lambda: post_webhook(client, connector, telegram_update(1, {"text": "hi\x00 there\x1b"}))
    )
    assert response.status_code == 200
    message = Message.objects.get(connector=connector, author_type="client")
    assert message.text == "hi there"
