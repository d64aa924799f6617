"""Phones and e-mails picked out of free text and normalised; guest names recognised."""

from __future__ import annotations

import pytest

from crm.communications import contacts_in_text, is_guest_name, phone_normalize


def test_tracker_picks_czech_russian_domestic_and_email_from_free_text():
    found = contacts_in_text(
        "Hi, call me on +420 601 123 456 or at home 8 (912) 345-67-89, mail: Name@Example.com. Thanks!"
    )
    assert found.phones == ["+420601123456", "+79123456789"]
    assert found.emails == ["name@example.com"]


def test_order_numbers_dates_and_digits_in_emails_are_not_phones():
    found = contacts_in_text("Order 12345 from 2024-05-01, write to user601123456@example.com")
    assert found.phones == []
    assert found.emails == ["user601123456@example.com"]


def test_a_phone_repeated_in_another_format_is_found_once():
    assert contacts_in_text("+420601123456 or 601 123 456").phones == ["+420601123456"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+420 601 123 456", "+420601123456"),
        ("601 123 456", "+420601123456"),
        ("8 (912) 345-67-89", "+79123456789"),
        ("+7 912 345 67 89", "+79123456789"),
        ("+420 601 12", None),  # too short for a Czech number
        ("12", None),
        ("not a phone", None),
    ],
)
def test_phone_normalisation(raw, expected):
    assert phone_normalize(raw) == expected


def test_default_region_comes_from_settings(settings):
    settings.CRM_DEFAULT_PHONE_REGION = "PL"
    settings.CRM_PHONE_FALLBACK_REGIONS = []
    assert phone_normalize("601 123 456") == "+48601123456"
    assert phone_normalize("8 (912) 345-67-89") is None


@pytest.mark.parametrize(
    "name", ["Guest", "guest #12", "Host", "Гость 3", "Ospite #4", "Khách", "Gość #7", "  ", ""]
)
def test_default_guest_names_are_recognised(name):
    assert is_guest_name(name)


@pytest.mark.parametrize("name", ["Jan Novák", "Guestor", "Anna Guest"])
def test_real_names_are_not_guest_names(name):
    assert not is_guest_name(name)


def test_a_message_of_the_maximum_length_is_scanned_at_once():
    import time

    from openlines.services.actions import MAX_MESSAGE_LENGTH

    started = time.process_time()
    found = contacts_in_text("x" * (MAX_MESSAGE_LENGTH - 40) + " write to me: ann.smith+cc@example.com")
    # Quadratic, it took about 10 s of CPU; linear, a few milliseconds.
    assert time.process_time() - started < 1.0
    assert found.emails == ["ann.smith+cc@example.com"]
