"""Personal API tokens: issue, revoke, and authenticate a request's bearer key.

A key looks like `cc_<prefix>_<secret>`. The prefix finds the row; only a SHA-256 of the whole key is
stored, and it is compared in constant time. Keys are random 256-bit values, so a fast hash suffices.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contactcenter.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEY_PREFIX = "cc_"
# last_used_at is informational; writing it on every request would turn every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`; returns it with the plain key, which is not stored anywhere."""
    while True:
        prefix = secrets.token_hex(6)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(user_id=user.pk, name=name, prefix=prefix, key_hash=_key_hash(key))
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def api_token_prefix(key: str) -> str:
    """The public part of a key that names its token (`cc_<prefix>_<secret>`)."""
    return key[len(KEY_PREFIX) :].partition("_")[0]


def api_token_authenticate(*, key: str) -> User | None:
    """The active user owning this unrevoked key, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, secret = api_token_prefix(key), key[len(KEY_PREFIX) :].partition("_")[2]
    if not prefix or not secret:
        return None
    # With the profile: the caller's name is shown in what they write (no query per message for it).
    token = (
        ApiToken.objects.select_related("user", "user__profile")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.key_hash, _key_hash(key)):
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
