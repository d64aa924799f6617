"""The resync request both sockets accept: `{"type": "resync", "since": <event id>, "have": [<event id>...]}`.

`since` is the page's cursor (the highest event id it holds); `have` the ids it holds from the lookback
window below it (see `openlines.selectors.realtime_events_for_user`). Checked here, once for both sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

# One resync answer holds at most this many events; `more` tells the page to ask again from its new cursor.
RESYNC_LIMIT = 500
# At most this many ids in `have` (a page sends the newest it holds in the window).
RESYNC_HAVE_MAX = 1000


@dataclass(frozen=True)
class ResyncRequest:
    since: int
    have: frozenset[int]


def _event_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def resync_request(content: dict[str, Any]) -> ResyncRequest:
    """The request's cursor and held ids; ValueError (its message for the page) when malformed."""
    since = content.get("since", 0)
    if not _event_id(since):
        raise ValueError(_("since must be a non-negative event id"))
    have = content.get("have", [])
    if not isinstance(have, list) or not all(_event_id(value) for value in have):
        raise ValueError(_("have must be a list of event ids"))
    if len(have) > RESYNC_HAVE_MAX:
        raise ValueError(_("have may list at most %(max)d event ids") % {"max": RESYNC_HAVE_MAX})
    return ResyncRequest(since=since, have=frozenset(have))
