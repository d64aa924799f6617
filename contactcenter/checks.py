"""System checks run by `manage.py check --deploy`: a SECRET_KEY that is a known placeholder or guessable
is an error (Django's own check only warns about short keys, and the example environment's placeholder
passes it)."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# Placeholders of our own examples and common tutorials; compared without case and punctuation.
KNOWN_PLACEHOLDERS = {
    "change-me-to-a-long-random-value-shared-by-all-processes",
    "change-me",
    "changeme",
    "secret",
    "secret-key",
    "your-secret-key",
    "your-secret-key-here",
    "replace-me",
    "django-secret-key",
}
PLACEHOLDER_WORDS = (
    "change-me",
    "changeme",
    "replace-me",
    "placeholder",
    "your-secret",
    "example",
    "insecure",
)
MIN_LENGTH = 50
MIN_DISTINCT_CHARACTERS = 10
# Shannon entropy of the key's characters times its length: a random 50-character URL-safe key measures
# about 250 bits, 64 hex digits about 245, a repeated or patterned key far less.
MIN_ESTIMATED_BITS = 180
WORDS = re.compile(r"[a-z]+(?:[-_ .][a-z]+){2,}")


def _normalised(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")


def secret_key_weakness(key: str) -> str:
    """Why `key` is not acceptable in production, or "" when it is."""
    normalised = _normalised(key)
    if normalised in {_normalised(p) for p in KNOWN_PLACEHOLDERS}:
        return "it is a known placeholder"
    if any(word in normalised for word in PLACEHOLDER_WORDS):
        return "it looks like a placeholder"
    if len(key) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} characters"
    if WORDS.fullmatch(key.lower()):
        return "it is a phrase of words, not a random value"
    counts = Counter(key)
    if len(counts) < MIN_DISTINCT_CHARACTERS:
        return f"it has fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    bits = -sum(n * math.log2(n / len(key)) for n in counts.values())
    if bits < MIN_ESTIMATED_BITS:
        return "its characters are too predictable (low entropy)"
    # A random key repeats hardly any run of three characters; a repeated pattern repeats most of them.
    if len({key[i : i + 3] for i in range(len(key) - 2)}) < (len(key) - 2) / 2:
        return "it repeats a pattern"
    return ""


@register(Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    weakness = secret_key_weakness(str(getattr(settings, "SECRET_KEY", "") or ""))
    if not weakness:
        return []
    return [
        Error(
            f"SECRET_KEY is not safe for production: {weakness}.",
            hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))' and use "
            "the same value in every process.",
            id="contactcenter.E001",
        )
    ]
