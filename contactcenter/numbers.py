"""Reading numbers from text that anyone may send (query strings, form fields, webhook payloads).

`str.isdigit()` accepts characters `int()` refuses ("²", "①"), so a check with it followed by `int()` is
a crash on such input; here digits are ASCII 0-9 only.
"""

from __future__ import annotations

# Ids are 64-bit database integers; a larger number is no id (and would fail in the query, not with a 4xx).
ID_MAX = 2**63 - 1


def is_decimal(text: str) -> bool:
    """Only the ASCII digits 0-9, at least one."""
    return text.isascii() and text.isdigit()


def id_from_text(text: str) -> int | None:
    """A positive 64-bit id written in decimal, or None."""
    if not is_decimal(text):
        return None
    value = int(text)
    return value if 1 <= value <= ID_MAX else None
