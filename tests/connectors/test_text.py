from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.text import (
    parse_rating_reply,
    reply_window_state,
    split_text,
    text_measure,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# -- splitting: exact chunks ------------------------------------------------------------------------


def test_text_within_the_limit_is_sent_unchanged_with_its_whitespace():
    assert split_text("  hello\n", 10) == ["  hello\n"]


def test_blank_text_yields_no_chunk():
    assert split_text(" \n\t ", 10) == []
    assert split_text("", 10) == []


def test_split_prefers_a_paragraph_break():
    text = "aaaa bbbb\n\ncccc dddd"
    assert split_text(text, 15) == ["aaaa bbbb", "cccc dddd"]


def test_split_prefers_a_line_break_over_a_later_space():
    text = "aaaa bbbb\ncc dd ee"
    assert split_text(text, 14) == ["aaaa bbbb", "cc dd ee"]


def test_split_at_the_last_space_when_there_is_no_line_break():
    assert split_text("one two three four", 9) == ["one two", "three", "four"]


def test_an_early_paragraph_break_does_not_make_a_tiny_first_chunk():
    text = "Hi\n\n" + "word " * 10
    chunks = split_text(text, 30)
    assert chunks[0].startswith("Hi\n\nword")
    assert all(len(chunk) <= 30 for chunk in chunks)


def test_text_without_whitespace_is_cut_hard_at_the_limit():
    assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]


def test_whitespace_run_at_a_cut_is_dropped_entirely():
    assert split_text("aaaa      \n\n   bbbb", 6) == ["aaaa", "bbbb"]


def test_leading_and_trailing_whitespace_is_dropped_when_splitting():
    assert split_text("   aaaa bbbb   ", 5) == ["aaaa", "bbbb"]


def test_hard_cut_keeps_a_combining_accent_with_its_letter():
    text = "abce\u0301fgh"  # e + combining acute accent
    chunks = split_text(text, 4)
    assert chunks == ["abc", "e\u0301fg", "h"]
    assert all(not unicodedata.combining(chunk[0]) for chunk in chunks)


def test_hard_cut_keeps_a_zwj_emoji_sequence_together():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    text = "ab" + family + "cd"
    chunks = split_text(text, 5)
    assert "".join(chunks) == text
    assert any(family in chunk for chunk in chunks)


def test_hard_cut_keeps_a_flag_pair_together():
    flag = "\U0001f1fa\U0001f1e6"
    text = "abc" + flag + flag
    assert split_text(text, 3) == ["abc", flag, flag]
    assert split_text(text, 4) == ["abc", flag + flag]


def test_utf16_unit_counts_an_emoji_as_two():
    assert text_measure("a\U0001f600", "utf16") == 3
    assert split_text("\U0001f600\U0001f600\U0001f600", 4, "utf16") == ["\U0001f600\U0001f600", "\U0001f600"]


def test_bytes_unit_never_splits_a_multibyte_character():
    text = "привет" * 3  # 2 bytes per letter, 36 bytes
    chunks = split_text(text, 7, "bytes")
    assert all(len(chunk.encode()) <= 7 for chunk in chunks)
    assert "".join(chunks) == text
    assert chunks[0] == "при"


def test_too_small_limit_is_refused():
    with pytest.raises(ValueError):
        split_text("abc", 3, "bytes")


@pytest.mark.parametrize(
    ("kind", "limit", "unit"),
    [
        ("telegram", 4096, "utf16"),
        ("whatsapp", 4096, "utf16"),
        ("messenger", 2000, "utf16"),
        ("instagram", 1000, "bytes"),
        ("viber", 7000, "utf16"),
    ],
)
def test_each_platform_declares_its_text_limit(kind, limit, unit):
    capabilities = get_adapter(kind).capabilities
    assert (capabilities.text_limit, capabilities.text_limit_unit) == (limit, unit)


# -- splitting: properties --------------------------------------------------------------------------

# Plain characters mixed with the ones the splitter treats specially; "\n\n" pieces make paragraphs.
texts = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from([" ", "\n", "\n\n", "\t", "\u0301", "\u200d", "\ufe0f", "\U0001f600", "\U0001f1fa"]),
        st.text(alphabet="abc", min_size=1, max_size=12),
    ),
    max_size=120,
).map("".join)


def _reassembles(original: str, chunks: list[str]) -> bool:
    """original == ws0 + chunk1 + ws1 + ... + chunkN + wsN, every ws being whitespace only."""
    position = 0
    for chunk in chunks:
        found = original.find(chunk, position)
        if found < 0 or original[position:found].strip():
            return False
        position = found + len(chunk)
    return not original[position:].strip()


@settings(max_examples=300, deadline=None)
@given(
    text=texts,
    limit=st.integers(min_value=4, max_value=60),
    unit=st.sampled_from(["chars", "utf16", "bytes"]),
)
def test_chunks_fit_and_reassemble_to_the_original(text, limit, unit):
    chunks = split_text(text, limit, unit)
    for chunk in chunks:
        assert text_measure(chunk, unit) <= limit
        assert chunk.strip()
        chunk.encode("utf-8")  # a broken surrogate pair would raise here
    assert _reassembles(text, chunks)
    if not text.strip():
        assert chunks == []


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Zs", "Zl", "Zp", "Cc"]),
        min_size=1,
        max_size=300,
    ),
    limit=st.integers(min_value=4, max_value=40),
)
def test_text_without_whitespace_is_only_cut_never_changed(text, limit):
    if any(char.isspace() for char in text):
        return
    chunks = split_text(text, limit, "bytes")
    assert "".join(chunks) == text
    assert all(len(chunk.encode()) <= limit for chunk in chunks)


# -- reply window -----------------------------------------------------------------------------------


def test_telegram_and_viber_have_no_reply_window():
    for kind in ("telegram", "viber"):
        state = reply_window_state(get_adapter(kind).capabilities, last_client_message_at=None, now=NOW)
        assert state.free_form_allowed
        assert not state.needs_human_agent_tag


def test_whatsapp_allows_free_form_until_24_hours_after_the_client_wrote():
    capabilities = get_adapter("whatsapp").capabilities
    open_state = reply_window_state(
        capabilities, last_client_message_at=NOW - timedelta(hours=23, minutes=59), now=NOW
    )
    closed = reply_window_state(capabilities, last_client_message_at=NOW - timedelta(hours=24), now=NOW)
    assert open_state.free_form_allowed
    assert open_state.free_form_until == NOW + timedelta(minutes=1)
    assert not closed.free_form_allowed
    assert not closed.human_agent_tag_allowed  # WhatsApp needs a template instead


def test_messenger_needs_the_human_agent_tag_between_one_and_seven_days():
    capabilities = get_adapter("messenger").capabilities
    state = reply_window_state(capabilities, last_client_message_at=NOW - timedelta(days=3), now=NOW)
    assert not state.free_form_allowed
    assert state.needs_human_agent_tag
    assert state.human_agent_until == NOW + timedelta(days=4)


def test_instagram_allows_nothing_after_seven_days():
    capabilities = get_adapter("instagram").capabilities
    state = reply_window_state(capabilities, last_client_message_at=NOW - timedelta(days=7), now=NOW)
    assert not state.free_form_allowed
    assert not state.human_agent_tag_allowed


def test_windowed_platform_without_a_client_message_allows_nothing():
    state = reply_window_state(get_adapter("whatsapp").capabilities, last_client_message_at=None, now=NOW)
    assert not state.free_form_allowed


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        reply_window_state(
            get_adapter("whatsapp").capabilities,
            last_client_message_at=datetime(2026, 3, 1, 11, 0),
            now=NOW,
        )


# -- rating replies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "rating"), [("1", "like"), (" 1 \n", "like"), ("0", "dislike"), ("\t0", "dislike")]
)
def test_rating_reply_one_or_zero_is_understood(reply, rating):
    assert parse_rating_reply(reply) == rating


@pytest.mark.parametrize("reply", ["", " ", "10", "01", "1.", "one", "like", "2", None])
def test_anything_else_is_not_a_rating(reply):
    assert parse_rating_reply(reply) is None
