"""Text helpers shared by the adapters: splitting at a platform's limit, the reply window, rating replies.

Splitting policy (documented in docs/connectors.md):
- a text that fits the limit is sent unchanged (a blank text yields no chunk at all);
- a text that does not fit is cut at the best boundary inside the limit: a blank line (paragraph), else a
  line break, else any whitespace, else a hard cut; a paragraph or line boundary is only taken when it
  leaves the chunk at least half full, so one early blank line does not produce a tiny first message;
- the whitespace run at every cut is dropped, and the leading/trailing whitespace of the whole text too,
  so ``original == ws0 + chunk1 + ws1 + chunk2 + ... + chunkN + wsN`` with each ``ws`` whitespace only;
- a hard cut never splits a code point (so never a multi-byte UTF-8 sequence or a surrogate pair) and
  backs off so that combining marks, variation selectors, skin-tone modifiers, zero-width joiner
  sequences and flag pairs stay with their base character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from django.utils import timezone

if TYPE_CHECKING:
    from contactcenter.connectors.adapters.base import Capabilities

LimitUnit = Literal["chars", "utf16", "bytes"]

_ZWJ = "\u200d"

# The smallest limit per unit that always fits one code point, so a hard cut can always make progress.
_MIN_LIMIT: dict[str, int] = {"chars": 1, "utf16": 2, "bytes": 4}


def _char_size(char: str, unit: LimitUnit) -> int:
    if unit == "chars":
        return 1
    code = ord(char)
    if unit == "utf16":
        return 2 if code > 0xFFFF else 1
    if code < 0x80:
        return 1
    if code < 0x800:
        return 2
    if code < 0x10000:
        return 3
    return 4


def text_measure(text: str, unit: LimitUnit) -> int:
    """Length of ``text`` in the platform's unit: code points, UTF-16 code units or UTF-8 bytes."""
    if unit == "chars":
        return len(text)
    if unit == "bytes":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _is_continuation(char: str) -> bool:
    """True for characters that belong to the preceding one and must not start a chunk."""
    code = ord(char)
    if char == _ZWJ or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:
        return True
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _is_regional_indicator(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _hard_cut(text: str, start: int, end: int) -> int:
    """Back off from ``end`` so the cut does not separate a character from what belongs to it."""
    cut = end
    while cut > start + 1 and (_is_continuation(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    if cut > start + 1 and _is_regional_indicator(text[cut]):
        run = 0
        while cut - 1 - run >= start and _is_regional_indicator(text[cut - 1 - run]):
            run += 1
        if run % 2 == 1:
            cut -= 1
    if cut <= start:
        return end
    return cut


def split_text_spans(text: str, limit: int, unit: LimitUnit = "chars") -> list[tuple[int, int]]:
    """Chunk boundaries as ``(start, end)`` slices of ``text``; see the module docstring for the policy."""
    if limit < _MIN_LIMIT[unit]:
        raise ValueError(f"limit {limit} is too small for unit {unit!r}")
    if not text.strip():
        return []
    if text_measure(text, unit) <= limit:
        return [(0, len(text))]
    pos = len(text) - len(text.lstrip())
    stop = len(text.rstrip())
    spans: list[tuple[int, int]] = []
    while pos < stop:
        budget = limit
        end = pos
        while end < stop:
            size = _char_size(text[end], unit)
            if size > budget:
                break
            budget -= size
            end += 1
        if end == stop:
            spans.append((pos, stop))
            break
        chunk_end, next_pos = _choose_cut(text, pos, end, stop, limit, unit)
        spans.append((pos, chunk_end))
        pos = next_pos
    return spans


def _choose_cut(text: str, pos: int, end: int, stop: int, limit: int, unit: LimitUnit) -> tuple[int, int]:
    """Pick where the chunk starting at ``pos`` ends; ``text[pos:end]`` is the longest prefix that fits.

    Returns ``(chunk_end, next_chunk_start)``; the whitespace between them is dropped.
    """
    last_para: tuple[int, int] | None = None
    last_line: tuple[int, int] | None = None
    last_space: tuple[int, int] | None = None
    index = pos + 1  # ``text[pos]`` is never whitespace, so every run found here leaves a non-blank chunk
    while index <= end:
        if index < stop and text[index].isspace():
            run_end = index
            while run_end < stop and text[run_end].isspace():
                run_end += 1
            newlines = text.count("\n", index, run_end)
            run = (index, run_end)
            last_space = run
            if newlines >= 1:
                last_line = run
            if newlines >= 2:
                last_para = run
            index = run_end + 1
        else:
            index += 1
    half = limit / 2
    for candidate in (last_para, last_line):
        if candidate is not None and text_measure(text[pos : candidate[0]], unit) >= half:
            return candidate
    if last_space is not None:
        return last_space
    cut = _hard_cut(text, pos, end)
    return cut, cut


def split_text(text: str, limit: int, unit: LimitUnit = "chars") -> list[str]:
    """Split ``text`` into chunks that each fit ``limit`` measured in ``unit``."""
    return [text[start:end] for start, end in split_text_spans(text, limit, unit)]


@dataclass(frozen=True)
class ReplyWindowState:
    """Whether an agent may send a free-form message now, and whether a HUMAN_AGENT tag would help.

    ``*_until`` is None when the platform has no such window (always allowed) or when the client has
    never written (never allowed).
    """

    free_form_allowed: bool
    human_agent_tag_allowed: bool
    free_form_until: datetime | None
    human_agent_until: datetime | None

    @property
    def needs_human_agent_tag(self) -> bool:
        """True when only a HUMAN_AGENT-tagged message can still be sent (Messenger, Instagram)."""
        return not self.free_form_allowed and self.human_agent_tag_allowed


def reply_window_state(
    capabilities: Capabilities,
    *,
    last_client_message_at: datetime | None,
    now: datetime | None = None,
) -> ReplyWindowState:
    """Apply the platform's customer-service window to the time of the client's last message.

    The window is open while ``now - last_client_message_at`` is strictly below its length; our own
    outgoing messages never reopen it (the caller passes the last *client* message time).
    """
    now = now or timezone.now()
    if timezone.is_naive(now) or (last_client_message_at and timezone.is_naive(last_client_message_at)):
        raise ValueError("reply_window_state needs timezone-aware datetimes")
    window = capabilities.reply_window
    tag_window = capabilities.human_agent_window
    if window is None:
        return ReplyWindowState(True, False, None, None)
    if last_client_message_at is None:
        return ReplyWindowState(False, False, None, None)
    free_until = last_client_message_at + window
    tag_until = last_client_message_at + tag_window if tag_window is not None else None
    return ReplyWindowState(
        free_form_allowed=now < free_until,
        human_agent_tag_allowed=tag_until is not None and now < tag_until,
        free_form_until=free_until,
        human_agent_until=tag_until,
    )


def parse_rating_reply(text: str | None) -> Literal["like", "dislike"] | None:
    """A messenger client's answer to the rating request: ``1`` is a like, ``0`` a dislike.

    Surrounding whitespace is ignored; anything else (including ``10`` or ``1.``) is not a rating.
    """
    if text is None:
        return None
    answer = text.strip()
    if answer == "1":
        return "like"
    if answer == "0":
        return "dislike"
    return None


__all__ = [
    "LimitUnit",
    "ReplyWindowState",
    "parse_rating_reply",
    "reply_window_state",
    "split_text",
    "split_text_spans",
    "text_measure",
]
