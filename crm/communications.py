"""Normalising and picking out phones, e-mails and messenger identities (no database access here).

Phones are parsed with `phonenumbers` and stored in E.164. A number written without a country code is
read in `settings.CRM_DEFAULT_PHONE_REGION` first and, if it is not a valid number there, in each of
`settings.CRM_PHONE_FALLBACK_REGIONS` in turn. With the defaults ("CZ", then "RU") both
"+420 601 123 456" and the Russian domestic "8 (912) 345-67-89" (trunk prefix 8) parse, while a
string valid in neither is not taken for a phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# "Guest", "Guest #12" and the same in the six languages of the live chat (en, cs, ru, it, vi, pl):
# names the widget gives anonymous visitors, which must never identify anybody.
GUEST_WORDS = ("guest", "host", "гость", "ospite", "khách", "gość", "visitor", "návštěvník")
_GUEST_NAME = re.compile(r"^\s*(?:" + "|".join(GUEST_WORDS) + r")(?:\s*#?\s*\d+)?\s*$", re.IGNORECASE)
# Starts only where a run of address characters starts: tried at every position of a long run (a 20,000
# character message without "@"), the scan back for the "@" made it quadratic (seconds of the one
# database thread per message).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# Longest e-mail address allowed by RFC 5321.
MAX_EMAIL_LENGTH = 254


def is_guest_name(name: str) -> bool:
    return not name.strip() or bool(_GUEST_NAME.match(name))


def _regions() -> list[str]:
    default = str(getattr(settings, "CRM_DEFAULT_PHONE_REGION", "CZ") or "CZ").upper()
    fallback = [str(r).upper() for r in getattr(settings, "CRM_PHONE_FALLBACK_REGIONS", ["RU"])]
    return [default, *[r for r in fallback if r != default]]


def phone_normalize(raw: str) -> str | None:
    """E.164 form of a phone number written by a person, or None if it is not a valid number."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 64:
        return None
    for region in _regions():
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if raw.startswith("+"):
            return None  # an international number means the same in every region
    return None


def email_normalize(raw: str) -> str | None:
    value = (raw or "").strip().strip(".").lower()
    if not value or len(value) > MAX_EMAIL_LENGTH:
        return None
    try:
        validate_email(value)
    except ValidationError:
        return None
    return value


@dataclass
class Found:
    """Phones (E.164) and e-mails (lower case) in order of appearance, without repeats."""

    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.phones or self.emails)


def contacts_in_text(text: str) -> Found:
    """Phones and e-mails a client wrote in free text (the chat tracker, reference §6.5)."""
    found = Found()
    text = text or ""
    spans: list[tuple[int, int]] = []
    for match in _EMAIL.finditer(text):
        email = email_normalize(match.group(0))
        if email and email not in found.emails:
            found.emails.append(email)
        spans.append(match.span())
    # Blank the addresses out so digits inside them are not read as phone numbers.
    blanked = list(text)
    for start, end in spans:
        blanked[start:end] = " " * (end - start)
    rest = "".join(blanked)
    phones: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for region in _regions():
        for candidate in phonenumbers.PhoneNumberMatcher(rest, region, leniency=phonenumbers.Leniency.VALID):
            begin, finish = int(candidate.start), int(candidate.end)
            if any(begin < end and start < finish for start, end in taken):
                continue
            taken.append((begin, finish))
            e164 = phonenumbers.format_number(candidate.number, phonenumbers.PhoneNumberFormat.E164)
            phones.append((begin, e164))
    for _start, e164 in sorted(phones):
        if e164 not in found.phones:
            found.phones.append(e164)
    return found


def im_identity(*, kind: str, connector_id: int, external_id: str) -> str:
    """The messenger identity of a channel's client, as stored in communications (reference `imol|`)."""
    return f"imol|{kind}|{connector_id}|{external_id}"[:500]
