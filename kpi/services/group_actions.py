"""Group actions of the chat list (close, spam, transfer): each session goes through the engine's own
action, with its own permission check; what was refused is reported per session."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from openlines.services import actions

AnyUser = AbstractBaseUser | AnonymousUser
GROUP_ACTIONS = ("close", "spam", "transfer")


@dataclass
class GroupResult:
    done: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def sessions_group_apply(
    *, user: AnyUser, action: str, session_ids: list[int], to_user_id: int | None = None
) -> GroupResult:
    if action not in GROUP_ACTIONS:
        raise ValidationError({"action": [_("Unknown action.")]})
    if action == "transfer" and to_user_id is None:
        raise ValidationError({"to_user": [_("Choose the agent to transfer to.")]})
    result = GroupResult()
    for session_id in session_ids:
        try:
            if action == "close":
                actions.session_close(user=user, session_id=session_id, confirmed=True)
            elif action == "spam":
                actions.session_spam(user=user, session_id=session_id)
            else:
                actions.session_transfer(user=user, session_id=session_id, to_user_id=to_user_id)
        except PermissionDenied as exc:
            result.refused[session_id] = str(exc) or _("Not allowed.")
        except ValidationError as exc:
            result.refused[session_id] = " ".join(exc.messages)
        else:
            result.done.append(session_id)
    return result
