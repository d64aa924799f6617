"""Client-facing default texts exist in all six languages and keep their macros untranslated."""

from __future__ import annotations

import re

import pytest

from openlines.default_texts import LANGUAGE_CODES, TEXT_KEYS, default_text

REQUIRED_KEYS = {
    "welcome", "no_answer", "worktime_dayoff", "close", "auto_close",
    "vote_message_1_text", "vote_message_1_like", "vote_message_1_dislike",
    "vote_message_2_text", "vote_message_2_like", "vote_message_2_dislike",
    "agreement_notice", "line_inactive", "kpi_first_answer", "kpi_further_answer",
    "session_started", "agent_joined", "transfer", "queue_forward", "session_closed", "reopened",
    "enquiry_redirected_crm", "no_agents_available", "vote_refused", "queue_position",
}  # fmt: skip

MACRO = re.compile(r"#[A-Z_]+#")


def test_all_required_keys_exist():
    assert REQUIRED_KEYS <= set(TEXT_KEYS)


def test_the_six_languages_are_supported():
    assert set(LANGUAGE_CODES) == {"en", "cs", "ru", "it", "vi", "pl"}


@pytest.mark.parametrize("language", ["cs", "ru", "it", "vi", "pl"])
def test_every_text_is_translated(language):
    for key in TEXT_KEYS:
        text = default_text(key, language)
        assert text.strip(), key
        assert text != default_text(key, "en"), f"{key} in {language} is the English text"


@pytest.mark.parametrize("language", LANGUAGE_CODES)
def test_macros_stay_untranslated(language):
    for key in TEXT_KEYS:
        assert sorted(MACRO.findall(default_text(key, language))) == sorted(
            MACRO.findall(default_text(key, "en"))
        ), key


def test_engine_macros_are_where_the_engine_expects_them():
    assert default_text("agent_joined", "en") == "#USER# picked conversation"
    assert {"#USER_FROM#", "#USER_TO#"} <= set(MACRO.findall(default_text("transfer", "en")))
    assert "#POSITION#" in default_text("queue_position", "en")
    assert {"#OPERATOR#", "#DIALOG#"} <= set(MACRO.findall(default_text("kpi_first_answer", "en")))


@pytest.mark.parametrize("language", LANGUAGE_CODES)
def test_live_chat_rating_texts_fit_in_100_characters(language):
    for key in ("vote_message_1_text", "vote_message_1_like", "vote_message_1_dislike"):
        assert len(default_text(key, language)) <= 100


@pytest.mark.parametrize("language", LANGUAGE_CODES)
def test_messenger_rating_request_explains_1_and_0(language):
    text = default_text("vote_message_2_text", language)
    assert "1" in text and "0" in text


def test_unknown_language_falls_back_to_english():
    assert default_text("close", "de") == default_text("close", "en")
    assert default_text("close", "ru-RU") == default_text("close", "ru")


def test_unknown_key_fails_loudly():
    with pytest.raises(KeyError):
        default_text("welcom", "en")
